/**
 * keyring status: each keyring's versions and states, how many records and cache entries each
 * version holds (the counts the lifecycle itself waits on), when each version key was last used,
 * and why each version is or is not moving on (the lifecycle's own outlook, so status and tick
 * never disagree). Read-only. The CLI's `status` runs it in both modes: locally over the SQLite
 * records, the cache and the home's key-use log, on AWS over the configured record targets when
 * asked (`--count-records`; the cache is inside the VPC).
 */
import { formatDuration } from '../vocabulary/duration';
import type { KeyringService } from '../catalog/keyring-service';
import type { Catalog, KeyVersion } from '../catalog/model';
import { outlookOf, type LifecycleFacts, type VersionOutlook } from '../catalog/version-outlook';
import { unmanagedSources } from '../catalog/sources';
import type { CacheStore } from '../ports/cache-store';
import type { KeyUseLog } from '../ports/key-use-log';
import type { KeyUseObservation, ReferenceCounts } from '../ports/facts-source';

/** The services the status reads. */
export interface KeyringStatusServices {
  readonly keyrings: Pick<KeyringService, 'get' | 'list'>;
  /** Records per version of a keyring; absent: not counted (reported as 0). */
  readonly records?: { countByVersion(keyring: string): Promise<ReadonlyMap<number, number>> };
  /** Cache entries per version; absent: not counted (reported as 0). */
  readonly cache?: Pick<CacheStore, 'countByVersion'>;
  /** Observed key use; absent: last use unknown (and quiet periods reported as unproven). */
  readonly keyUse?: Pick<KeyUseLog, 'lastUse' | 'observingSince'>;
  /** The instant the reasons are given for. @default () => new Date() */
  readonly clock?: () => Date;
}

/** One version's row of the status. */
export interface VersionStatus {
  readonly version: number;
  readonly state: string;
  readonly since: string;
  readonly records: number;
  readonly cacheEntries: number;
  /** When the version key was last observed unwrapped (ISO), if ever. */
  readonly lastUsedAt?: string;
  /** The version's next automatic step, if any. */
  readonly next?: string;
  /** When that step becomes due on current facts (ISO); absent while a fact blocks it. */
  readonly dueAt?: string;
  /** Why the version is or is not moving on, most important first. */
  readonly reasons: readonly string[];
}

/** One keyring's block of the status. */
export interface KeyringStatus {
  readonly keyring: string;
  readonly generation: number;
  readonly policy: { rotateEvery: string; grace: string; propagation: string; retention: string; quiet: string; destroyAfterRetention: boolean };
  /** Declared holders rekey cannot count (empty: none declared). */
  readonly unmanaged: readonly string[];
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
  const now = (services.clock ?? (() => new Date()))();
  for (const c of catalogs) {
    const records = services.records === undefined ? new Map<number, number>() : await services.records.countByVersion(c.keyring);
    // A cache that does not answer is reported, not fatal: the status is what an operator reads
    // during an outage, and the reason then says the version waits on an uncounted source.
    let cache: ReadonlyMap<number, number> = new Map<number, number>();
    let uncounted: readonly string[] = [];
    if (services.cache !== undefined) {
      try {
        cache = await services.cache.countByVersion(c.keyring);
      } catch {
        uncounted = ['cache'];
      }
    }
    const keyUse = await observed(services.keyUse, c.keyring);
    out.push(keyringStatus(c, records, cache, { now, uncounted, ...(keyUse === undefined ? {} : { keyUse }) }));
  }
  return out;
}

async function observed(log: KeyringStatusServices['keyUse'], keyring: string): Promise<KeyUseObservation | undefined> {
  if (log === undefined) return undefined;
  const [lastUse, observingSince] = await Promise.all([log.lastUse(keyring), log.observingSince(keyring)]);
  return observingSince === undefined ? { lastUse } : { lastUse, observingSince };
}

/** What {@link keyringStatus} explains the versions with. */
export interface StatusFacts {
  readonly now: Date;
  readonly keyUse?: KeyUseObservation;
  readonly uncounted?: readonly string[];
}

/** The time a version entered its current state. */
export function stateSince(v: KeyVersion): string {
  const byState: Record<string, string | undefined> = {
    pending: v.createdAt,
    active: v.activatedAt,
    rotating: v.rotatingAt,
    deprecated: v.reenabledAt ?? v.restoredAt ?? v.deprecatedAt,
    disabled: v.disabledAt,
    destroyed: v.destroyedAt,
    revoked: v.revokedAt,
  };
  return byState[v.state] ?? v.createdAt;
}

/**
 * Builds the status of one keyring from its catalog, reference counts and observed key use.
 * The escrow condition of a destruction is read from the catalog's drill stamp here (the tick
 * also checks the escrow store itself).
 *
 * @example
 * keyringStatus(catalog, new Map([[1, 10]]), new Map(), { now }).versions[0].records; // 10
 */
export function keyringStatus(catalog: Catalog, records: ReadonlyMap<number, number>, cache: ReadonlyMap<number, number>, facts: StatusFacts = { now: new Date() }): KeyringStatus {
  const counts: ReferenceCounts = { records, cacheEntries: cache };
  const lifecycle: LifecycleFacts = {
    references: new Map(catalog.versions.map((v) => [v.version, (records.get(v.version) ?? 0) + (cache.get(v.version) ?? 0)])),
    escrowVerified: new Set(catalog.versions.filter((v) => v.escrowVerifiedAt !== undefined).map((v) => v.version)),
    counts,
    ...(facts.keyUse === undefined ? {} : { keyUse: facts.keyUse }),
    ...(facts.uncounted === undefined || facts.uncounted.length === 0 ? {} : { uncounted: facts.uncounted }),
  };
  const outlooks = new Map<number, VersionOutlook>(outlookOf(catalog, facts.now, lifecycle).map((o) => [o.version, o]));
  return {
    keyring: catalog.keyring,
    generation: catalog.generation,
    policy: {
      rotateEvery: formatDuration(catalog.policy.rotateEverySeconds),
      grace: formatDuration(catalog.policy.graceSeconds),
      propagation: formatDuration(catalog.policy.propagationSeconds),
      retention: formatDuration(catalog.policy.retentionSeconds),
      quiet: formatDuration(catalog.policy.quietSeconds),
      destroyAfterRetention: catalog.policy.destroyAfterRetention,
    },
    unmanaged: [...unmanagedSources(catalog)],
    ...(catalog.frozen ? { frozen: { ...catalog.frozen } } : {}),
    ...(catalog.breaker ? { breaker: { ...catalog.breaker } } : {}),
    versions: catalog.versions.map((v) => {
      const o = outlooks.get(v.version);
      return {
        version: v.version,
        state: v.state,
        since: stateSince(v),
        records: records.get(v.version) ?? 0,
        cacheEntries: cache.get(v.version) ?? 0,
        ...(o?.lastUse === undefined ? {} : { lastUsedAt: o.lastUse.at.toISOString() }),
        ...(o?.next === undefined ? {} : { next: o.next }),
        ...(o?.dueAt === undefined ? {} : { dueAt: o.dueAt.toISOString() }),
        reasons: o?.reasons ?? [],
      };
    }),
  };
}
