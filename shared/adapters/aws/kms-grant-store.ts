/**
 * The GrantStore on KMS: ListGrants (every page), RevokeGrant and CreateGrant. Each grant it
 * creates allows `Decrypt` only, constrained to `EncryptionContextEquals { keyring, version }`,
 * the one shape the stack's key policy lets the key-access role create on a keyring key; on the
 * ops and escrow keys, `Decrypt` only with `EncryptionContextEquals { "aws:s3:arn": <bucket ARN> }`.
 */
import { CreateGrantCommand, ListGrantsCommand, RevokeGrantCommand, type KMSClient } from '@aws-sdk/client-kms';
import { S3_CONTEXT_KEY, type BucketReadGrant, type ExistingGrant, type GrantToCreate } from '../../catalog/grant-plan';
import type { GrantStore } from '../../ports/grant-store';
import { mapAwsError } from './map-aws-error';

/** Options of {@link KmsGrantStore}. */
export interface KmsGrantStoreOptions {
  readonly client: KMSClient;
  /** Grants per ListGrants page. @default 100 (the KMS maximum) */
  readonly pageSize?: number;
}

/**
 * KMS grants of the keyring keys.
 *
 * @example
 * const grants = new KmsGrantStore({ client: new KMSClient({}) });
 * await grants.create(keyArn, 'pii', { grantee: 'arn:aws:iam::1:role/app', version: 3 });
 */
export class KmsGrantStore implements GrantStore {
  private readonly client: KMSClient;
  private readonly pageSize: number;

  public constructor(options: KmsGrantStoreOptions) {
    this.client = options.client;
    this.pageSize = options.pageSize ?? 100;
  }

  public async list(keyId: string): Promise<ExistingGrant[]> {
    const out: ExistingGrant[] = [];
    let marker: string | undefined;
    do {
      const page = await this.send(() => this.client.send(new ListGrantsCommand({ KeyId: keyId, Marker: marker, Limit: this.pageSize })), 'kms:ListGrants');
      for (const g of page.Grants ?? []) {
        if (g.GrantId === undefined || g.GranteePrincipal === undefined) continue;
        const contextEquals = g.Constraints?.EncryptionContextEquals;
        out.push({
          grantId: g.GrantId,
          grantee: g.GranteePrincipal,
          operations: g.Operations ?? [],
          ...(contextEquals === undefined ? {} : { contextEquals }),
          ...(g.Name === undefined || g.Name === '' ? {} : { name: g.Name }),
        });
      }
      marker = page.Truncated === true ? page.NextMarker : undefined;
    } while (marker !== undefined);
    return out;
  }

  public async revoke(keyId: string, grantId: string): Promise<void> {
    await this.send(() => this.client.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grantId })), 'kms:RevokeGrant');
  }

  public async create(keyId: string, keyring: string, grant: GrantToCreate): Promise<void> {
    await this.send(
      () =>
        this.client.send(
          new CreateGrantCommand({
            KeyId: keyId,
            GranteePrincipal: grant.grantee,
            Operations: ['Decrypt'],
            Constraints: { EncryptionContextEquals: { keyring, version: String(grant.version) } },
            Name: `rekey-v${grant.version}`,
          }),
        ),
      'kms:CreateGrant',
    );
  }

  public async createBucketRead(keyId: string, grant: BucketReadGrant): Promise<void> {
    await this.send(
      () =>
        this.client.send(
          new CreateGrantCommand({
            KeyId: keyId,
            GranteePrincipal: grant.grantee,
            Operations: ['Decrypt'],
            Constraints: { EncryptionContextEquals: { [S3_CONTEXT_KEY]: grant.bucketArn } },
            Name: grant.name,
          }),
        ),
      'kms:CreateGrant',
    );
  }

  // Grant calls are control-plane operations: a failure is throttled, denied or failed, never an
  // answer the caller acts on (see AwsCallSubject).
  private async send<T>(call: () => Promise<T>, operation: string): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw mapAwsError(err, operation);
    }
  }
}
