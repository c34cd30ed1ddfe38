/**
 * Pure planning of the per-version KMS grants through which every reader except the
 * re-encryption roles decrypts a keyring's version keys. Given the catalog's versions, the
 * grantees and the grants that exist, it says which grants to create and which to revoke.
 * A version is readable through a grant only while it is pending, active, rotating or
 * deprecated; revoked, disabled and destroyed versions keep no grant.
 */
import type { VersionState } from './model';

/** A grant as listed by KMS, reduced to what the plan needs. */
export interface ExistingGrant {
  readonly grantId: string;
  readonly grantee: string;
  readonly operations: readonly string[];
  /** The grant's EncryptionContextEquals constraint (undefined when it has none). */
  readonly contextEquals?: Readonly<Record<string, string>>;
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
