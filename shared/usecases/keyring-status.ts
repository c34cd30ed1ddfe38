/**
 * keyring status: each keyring's versions and states, how many records and cache entries each
 * version holds (the counts the lifecycle itself waits on), when each version key was last used,
 * and why each version is or is not moving on (the lifecycle's own outlook, so status and tick
 * never disagree). Read-only. The CLI's `status` runs it in both modes: locally over the SQLite
 * records, the cache and the home's key-use log, on AWS over the configured record targets when
 * asked (`--count-records`; the cache is inside the VPC).
 */
import { formatDuration, formatSpan } from '../vocabulary/duration';
import type { KeyringService } from '../catalog/keyring-service';
import type { Catalog, KeyVersion } from '../catalog/model';
import { effectiveQuietSeconds, outlookOf, type LifecycleFacts, type VersionOutlook } from '../catalog/version-outlook';
import { FILES_SOURCE, unmanagedSources } from '../catalog/sources';
import { progressOf, type HoldView } from './version-progress';
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
  /**
   * True when the cache is configured but did not answer (Redis down): it is not asked, its
   * counts are `null` and the versions wait on it as on any uncounted source.
   */
  readonly cacheUnavailable?: boolean;
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
  /** Cache entries under the version; null when the cache could not be counted. */
  readonly cacheEntries: number | null;
  /** When the version key was last observed unwrapped (ISO), if ever. */
  readonly lastUsedAt?: string;
  /** The version's next automatic step, if any. */
  readonly next?: string;
  /** When that step becomes due on current facts (ISO); absent while a fact blocks it. */
  readonly dueAt?: string;
  /** `next` is due by more than a tick interval and no tick applied it. */
  readonly overdue: boolean;
  /** `next` is held back by a fact that time alone does not clear (see `holds`). */
  readonly stuck: boolean;
  /** What holds `next` back, with figures. */
  readonly holds: readonly HoldView[];
  /** Why the version is or is not moving on, most important first. */
  readonly reasons: readonly string[];
  /** When, why and by whom it was revoked; kept after the version moves on to disabled or destroyed. */
  readonly revoked?: { readonly at: string; readonly reason: string; readonly by?: string };
}

/** One keyring's block of the status. */
export interface KeyringStatus {
  readonly keyring: string;
  readonly generation: number;
  readonly policy: { rotateEvery: string; grace: string; propagation: string; retention: string; quiet: string; destroyAfterRetention: boolean };
  /** Declared holders rekey cannot count (empty: none declared). */
  readonly unmanaged: readonly string[];
  /** How data in the unmanaged holders is kept readable, for people (empty: none declared). */
  readonly protection: readonly string[];
  /** False when the cache could not be counted (its columns are null). */
  readonly cacheCounted: boolean;
  /** Destroyed versions left out of `versions` (the query's `all` lists them). */
  readonly hiddenDestroyed: number;
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
export async function readKeyringStatus(query: { readonly keyring?: string; readonly all?: boolean }, services: KeyringStatusServices): Promise<KeyringStatus[]> {
  const catalogs = query.keyring === undefined ? await services.keyrings.list() : [await services.keyrings.get(query.keyring)];
  const out: KeyringStatus[] = [];
  const now = (services.clock ?? (() => new Date()))();
  for (const c of catalogs) {
    const records = services.records === undefined ? new Map<number, number>() : await services.records.countByVersion(c.keyring);
    // A cache that does not answer is reported, not fatal: the status is what an operator reads
    // during an outage, and the reason then says the version waits on an uncounted source.
    let cache: ReadonlyMap<number, number> = new Map<number, number>();
    let uncounted: readonly string[] = services.cacheUnavailable === true ? ['cache'] : [];
    if (services.cache !== undefined && services.cacheUnavailable !== true) {
      try {
        cache = await services.cache.countByVersion(c.keyring);
      } catch {
        uncounted = ['cache'];
      }
    }
    const keyUse = await observed(services.keyUse, c.keyring);
    out.push(keyringStatus(c, records, cache, { now, uncounted, ...(keyUse === undefined ? {} : { keyUse }), ...(query.all === true ? { all: true } : {}) }));
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
  /** List destroyed versions too. @default false */
  readonly all?: boolean;
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
  const cacheCounted = !(facts.uncounted ?? []).includes('cache');
  const shown = facts.all === true ? catalog.versions : catalog.versions.filter((v) => v.state !== 'destroyed');
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
    protection: unmanagedProtection(catalog),
    cacheCounted,
    hiddenDestroyed: catalog.versions.length - shown.length,
    ...(catalog.frozen ? { frozen: { ...catalog.frozen } } : {}),
    ...(catalog.breaker ? { breaker: { ...catalog.breaker } } : {}),
    versions: shown.map((v) => {
      const o = outlooks.get(v.version);
      const progress = o === undefined ? { overdue: false, stuck: false, holds: [] } : progressOf(o, facts.now);
      return {
        version: v.version,
        state: v.state,
        since: stateSince(v),
        records: records.get(v.version) ?? 0,
        cacheEntries: cacheCounted ? (cache.get(v.version) ?? 0) : null,
        ...(o?.lastUse === undefined ? {} : { lastUsedAt: o.lastUse.at.toISOString() }),
        ...(o?.next === undefined ? {} : { next: o.next }),
        ...(o?.dueAt === undefined ? {} : { dueAt: o.dueAt.toISOString() }),
        ...progress,
        reasons: o?.reasons ?? [],
        ...(v.revokedAt === undefined ? {} : { revoked: { at: v.revokedAt, reason: v.revokedReason ?? '', ...(v.revokedBy === undefined ? {} : { by: v.revokedBy }) } }),
      };
    }),
  };
}

/**
 * What happens to data in a keyring's unmanaged holders, said truthfully from the lifecycle's
 * own rules (version-outlook.ts): an old version is disabled once its grace period has passed,
 * no counted record uses it and its key has gone unused for the effective quiet period; a
 * disabled version is destroyed only with destroyAfterRetention, after retention, a quiet key
 * and a drill-verified escrow copy. `rekey encrypt --help` and the README say the same.
 *
 * @example
 * unmanagedProtection(catalogWithFiles)[0]; // "files: envelopes made by 'rekey encrypt' live outside the record store, …"
 */
export function unmanagedProtection(catalog: Catalog): string[] {
  const unmanaged = unmanagedSources(catalog);
  if (unmanaged.length === 0) return [];
  const quiet = formatSpan(effectiveQuietSeconds(catalog));
  const out: string[] = [];
  if (unmanaged.includes(FILES_SOURCE)) {
    out.push(
      `files: envelopes made by 'rekey encrypt' live outside the record store, so rekey cannot count them. ` +
        `After a rotation the old version is disabled once its grace period has passed and its key has gone unused for ${quiet}; ` +
        `such files then fail to decrypt until 'rekey reenable'. Re-wrap them with 'rekey rewrap' before then.`,
    );
  }
  const others = unmanaged.filter((s) => s !== FILES_SOURCE);
  if (others.length > 0) {
    out.push(
      `${others.join(', ')}: declared unmanaged, not counted; an old version is disabled once its key has gone unused for ${quiet}: ` +
        `re-encrypt what ${others.length === 1 ? 'it holds' : 'they hold'} before then.`,
    );
  }
  if (catalog.policy.destroyAfterRetention) {
    out.push(
      `destroy after retention is on: ${formatSpan(catalog.policy.retentionSeconds)} after it is disabled, with its key still unused and a drill-verified escrow copy, ` +
        `the version is destroyed and such data opens only after 'rekey escrow restore'.`,
    );
  }
  return out;
}
