/**
 * GrantStore: the per-version grants on a keyring's KMS key through which every reader except
 * the re-encryption roles decrypts that keyring's version keys. The key-access use case lists
 * them, revokes the ones the catalog no longer allows and creates the missing ones; for
 * registry consumers it also keeps the bucket-read grants on the ops and escrow keys.
 */
import type { BucketReadGrant, ExistingGrant, GrantToCreate } from '../catalog/grant-plan';

/** Port to the grants of KMS keys. */
export interface GrantStore {
  /** Every grant on `keyId`, all pages. */
  list(keyId: string): Promise<ExistingGrant[]>;
  /** Revokes one grant of `keyId`. */
  revoke(keyId: string, grantId: string): Promise<void>;
  /** Lets `grant.grantee` decrypt under `keyId` with exactly the context `{ keyring, version }`. */
  create(keyId: string, keyring: string, grant: GrantToCreate): Promise<void>;
  /** Lets `grant.grantee` decrypt under `keyId` with exactly the context `{ "aws:s3:arn": grant.bucketArn }`, under `grant.name`. */
  createBucketRead(keyId: string, grant: BucketReadGrant): Promise<void>;
}
