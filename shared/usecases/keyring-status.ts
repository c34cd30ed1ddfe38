/**
 * keyring status: each keyring's versions and states, and how many records and cache entries
 * each version holds (the counts the lifecycle itself waits on). Read-only. The CLI's `status`
 * runs it in both modes: locally over the SQLite records and the cache, on AWS over the
 * configured record targets when asked (`--count-records`; the cache is inside the VPC).
 */
import { formatDuration } from '../vocabulary/duration';
import type { KeyringService } from '../catalog/keyring-service';
import type { Catalog, KeyVersion } from '../catalog/model';
import type { CacheStore } from '../ports/cache-store';

/** The services the status reads. */
export interface KeyringStatusServices {
  readonly keyrings: Pick<KeyringService, 'get' | 'list'>;
  /** Records per version of a keyring; absent: not counted (reported as 0). */
  readonly records?: { countByVersion(keyring: string): Promise<ReadonlyMap<number, number>> };
  /** Cache entries per version; absent: not counted (reported as 0). */
  readonly cache?: Pick<CacheStore, 'countByVersion'>;
}

/** One version's row of the status. */
export interface VersionStatus {
  readonly version: number;
  readonly state: string;
  readonly since: string;
  readonly records: number;
  readonly cacheEntries: number;
}

/** One keyring's block of the status. */
export interface KeyringStatus {
  readonly keyring: string;
  readonly generation: number;
  readonly policy: { rotateEvery: string; grace: string; propagation: string; retention: string };
  readonly frozen?: { reason: string; at: string; by: string };
  readonly breaker?: { reason: string; at: string; by: string };
  readonly versions: readonly VersionStatus[];
}

/**
 * The status of the named keyring, or of every keyring.
 *
 * @example
 * const [pii] = await readKeyringStatus({ keyring: 'pii' }, { keyrings, records, cache });
 * pii.versions[0].records; // 6000
 * @throws UnknownKeyringError when the named keyring does not exist.
 */
export async function readKeyringStatus(query: { readonly keyring?: string }, services: KeyringStatusServices): Promise<KeyringStatus[]> {
  const catalogs = query.keyring === undefined ? await services.keyrings.list() : [await services.keyrings.get(query.keyring)];
  const out: KeyringStatus[] = [];
  for (const c of catalogs) {
    const records = services.records === undefined ? new Map<number, number>() : await services.records.countByVersion(c.keyring);
    const cache = services.cache === undefined ? new Map<number, number>() : await services.cache.countByVersion(c.keyring);
    out.push(keyringStatus(c, records, cache));
  }
  return out;
}

/** The time a version entered its current state. */
export function stateSince(v: KeyVersion): string {
  const byState: Record<string, string | undefined> = {
    pending: v.createdAt,
    active: v.activatedAt,
    rotating: v.rotatingAt,
    deprecated: v.deprecatedAt,
    disabled: v.disabledAt,
    destroyed: v.destroyedAt,
    revoked: v.revokedAt,
  };
  return byState[v.state] ?? v.createdAt;
}

/**
 * Builds the status of one keyring from its catalog and reference counts.
 *
 * @example
 * keyringStatus(catalog, new Map([[1, 10]]), new Map()).versions[0].records; // 10
 */
export function keyringStatus(catalog: Catalog, records: ReadonlyMap<number, number>, cache: ReadonlyMap<number, number>): KeyringStatus {
  return {
    keyring: catalog.keyring,
    generation: catalog.generation,
    policy: {
      rotateEvery: formatDuration(catalog.policy.rotateEverySeconds),
      grace: formatDuration(catalog.policy.graceSeconds),
      propagation: formatDuration(catalog.policy.propagationSeconds),
      retention: formatDuration(catalog.policy.retentionSeconds),
    },
    ...(catalog.frozen ? { frozen: { ...catalog.frozen } } : {}),
    ...(catalog.breaker ? { breaker: { ...catalog.breaker } } : {}),
    versions: catalog.versions.map((v) => ({
      version: v.version,
      state: v.state,
      since: stateSince(v),
      records: records.get(v.version) ?? 0,
      cacheEntries: cache.get(v.version) ?? 0,
    })),
  };
}
