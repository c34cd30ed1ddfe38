/**
 * Pure planning of the per-version KMS grants through which every reader except the
 * re-encryption roles decrypts a keyring's version keys. Given the catalog's versions, the
 * grantees and the grants that exist, it says which grants to create and which to revoke.
 * A version is readable through a grant only while it is pending, active, rotating or
 * deprecated; revoked, disabled and destroyed versions keep no grant.
 *
 * Registry consumers (shared/consumers) also need to read the catalog and the revocation ledger
 * through S3, whose objects are encrypted under the ops key and the escrow key: one named
 * Decrypt grant per consumer on each, bound to the bucket ({@link planBucketReadGrants}).
 */
import type { VersionState } from './model';

/** A grant as listed by KMS, reduced to what the plan needs. */
export interface ExistingGrant {
  readonly grantId: string;
  readonly grantee: string;
  readonly operations: readonly string[];
  /** The grant's EncryptionContextEquals constraint (undefined when it has none). */
  readonly contextEquals?: Readonly<Record<string, string>>;
  /** The grant's name (undefined when it has none). */
  readonly name?: string;
}

/** A grant to create: `grantee` may decrypt exactly `{ keyring, version }`. */
export interface GrantToCreate {
  readonly grantee: string;
  readonly version: number;
}

/** What the reconciler does, revocations first. */
export interface GrantPlan {
  readonly revoke: readonly string[];
  readonly create: readonly GrantToCreate[];
}

/** A catalog version reduced to what the plan needs. */
export interface VersionSummary {
  readonly version: number;
  readonly state: VersionState;
}

const READABLE: ReadonlySet<VersionState> = new Set<VersionState>(['pending', 'active', 'rotating', 'deprecated']);

/** True when a grant's constraint binds it to `keyring` (so this reconciler owns it). */
export function isKeyringGrant(grant: ExistingGrant, keyring: string): boolean {
  return grant.contextEquals?.['keyring'] === keyring;
}

/**
 * Plans the grants of one keyring.
 *
 * @param keyring - The keyring whose grants are planned; grants of other keyrings are never touched.
 * @param versions - The catalog's versions (empty when the keyring has no catalog yet).
 * @param grantees - Role ARNs that read through grants.
 * @param existing - Every grant on the keyring's KMS key.
 * @param revokedNow - Versions known to be revoked even if the catalog read does not say so yet
 *   (from a `Key Version Compromised` event): they get no grant whatever the catalog says.
 * @example
 * planGrants('pii', [{ version: 1, state: 'active' }], ['arn:aws:iam::1:role/app'], []);
 * // { revoke: [], create: [{ grantee: 'arn:aws:iam::1:role/app', version: 1 }] }
 */
export function planGrants(
  keyring: string,
  versions: readonly VersionSummary[],
  grantees: readonly string[],
  existing: readonly ExistingGrant[],
  revokedNow: ReadonlySet<number> = new Set(),
): GrantPlan {
  const wanted = new Set<string>();
  for (const v of versions) {
    if (!READABLE.has(v.state) || revokedNow.has(v.version)) continue;
    for (const grantee of grantees) wanted.add(`${grantee}\n${v.version}`);
  }
  const kept = new Set<string>();
  const revoke: string[] = [];
  for (const grant of existing) {
    if (!isKeyringGrant(grant, keyring)) continue;
    const ctx = grant.contextEquals ?? {};
    const exact = Object.keys(ctx).length === 2 && grant.operations.length === 1 && grant.operations[0] === 'Decrypt';
    const id = `${grant.grantee}\n${ctx['version'] ?? ''}`;
    // Keep exactly one well-formed grant per wanted (grantee, version); everything else goes.
    if (exact && wanted.has(id) && !kept.has(id)) {
      kept.add(id);
    } else {
      revoke.push(grant.grantId);
    }
  }
  const create: GrantToCreate[] = [];
  for (const id of wanted) {
    if (kept.has(id)) continue;
    const [grantee, version] = id.split('\n') as [string, string];
    create.push({ grantee, version: Number(version) });
  }
  return { revoke, create };
}

/** The encryption context key S3 passes to KMS for an SSE-KMS object ("aws:s3:arn"). */
export const S3_CONTEXT_KEY = 'aws:s3:arn';

/** A bucket-read grant to create: `grantee` may decrypt exactly `{ "aws:s3:arn": bucketArn }`. */
export interface BucketReadGrant {
  readonly grantee: string;
  /** The grant's name, which marks it as this reconciler's. */
  readonly name: string;
  readonly bucketArn: string;
}

/** What the bucket-read reconciler does on one key, revocations first. */
export interface BucketReadPlan {
  readonly revoke: readonly string[];
  readonly create: readonly BucketReadGrant[];
}

/**
 * Plans the bucket-read grants named `name` on one key (the ops key for the catalog bucket, the
 * escrow key for the revocation ledger): exactly one Decrypt grant per grantee, constrained to
 * `EncryptionContextEquals { "aws:s3:arn": bucketArn }` (S3 Bucket Keys pass the bucket ARN as
 * the context). Grants of another name are never touched; one of this name that is malformed,
 * repeated or for a grantee no longer wanted is revoked.
 *
 * @example
 * planBucketReadGrants('rekey-catalog-read', 'arn:aws:s3:::cat', ['arn:aws:iam::1:role/app'], []);
 * // { revoke: [], create: [{ grantee: 'arn:aws:iam::1:role/app', name: 'rekey-catalog-read', bucketArn: 'arn:aws:s3:::cat' }] }
 */
export function planBucketReadGrants(name: string, bucketArn: string, grantees: readonly string[], existing: readonly ExistingGrant[]): BucketReadPlan {
  const wanted = new Set(grantees);
  const kept = new Set<string>();
  const revoke: string[] = [];
  for (const grant of existing) {
    if (grant.name !== name) continue;
    const ctx = grant.contextEquals ?? {};
    const exact = Object.keys(ctx).length === 1 && ctx[S3_CONTEXT_KEY] === bucketArn && grant.operations.length === 1 && grant.operations[0] === 'Decrypt';
    if (exact && wanted.has(grant.grantee) && !kept.has(grant.grantee)) kept.add(grant.grantee);
    else revoke.push(grant.grantId);
  }
  const create = [...wanted].filter((g) => !kept.has(g)).map((grantee) => ({ grantee, name, bucketArn }));
  return { revoke, create };
}
