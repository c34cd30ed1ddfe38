/**
 * Publishes where a keyring's versions are still in use: records and cache entries per
 * version, and the age of the oldest version still referenced (the number an auditor asks for:
 * "how old is the oldest key that can still decrypt live data?"). It counts nothing itself: it
 * reads the reference counts the tick took once for the lifecycle.
 */
import type { Catalog } from '../catalog/model';
import type { ReferenceCounts } from '../ports/facts-source';
import { METRIC } from '../vocabulary/metric-names';
import type { JobContext } from './context';

/** The services the distribution reads. */
export interface DistributionServices {
  readonly clock: () => Date;
}

/** The distribution of one keyring. */
export interface VersionDistribution {
  readonly records: Readonly<Record<string, number>>;
  readonly cacheEntries: Readonly<Record<string, number>>;
  /** Seconds since the oldest referenced version was created; undefined when nothing is referenced. */
  readonly oldestReferencedAgeSeconds?: number;
}

/**
 * Publishes and returns the distribution of `catalog`'s keyring from `counts` (no cache
 * metrics when `counts` has no cache entries: no cache is configured).
 *
 * @example
 * const d = publishDistribution(catalog, await keyrings.referenceCounts('pii'), context); // d.records['3'] === 120
 */
export function publishDistribution(catalog: Catalog, counts: ReferenceCounts, context: JobContext<DistributionServices>): VersionDistribution {
  const { services, metrics } = context;
  const keyring = catalog.keyring;
  const records = counts.records;
  const cache = counts.cacheEntries ?? new Map<number, number>();
  for (const v of catalog.versions) {
    if (v.state === 'destroyed') continue;
    metrics.put(METRIC.recordsByVersion, records.get(v.version) ?? 0, { keyring, version: v.version });
    if (counts.cacheEntries !== undefined) metrics.put(METRIC.cacheEntriesByVersion, cache.get(v.version) ?? 0, { keyring, version: v.version });
  }
  const now = services.clock().getTime();
  let oldest: number | undefined;
  for (const v of catalog.versions) {
    if ((records.get(v.version) ?? 0) + (cache.get(v.version) ?? 0) === 0) continue;
    const created = Date.parse(v.createdAt);
    if (Number.isFinite(created) && (oldest === undefined || created < oldest)) oldest = created;
  }
  const oldestReferencedAgeSeconds = oldest === undefined ? undefined : Math.max(0, Math.floor((now - oldest) / 1000));
  if (oldestReferencedAgeSeconds !== undefined) metrics.put(METRIC.oldestReferencedVersionAge, oldestReferencedAgeSeconds, { keyring }, 'Seconds');
  return {
    records: Object.fromEntries([...records].map(([v, n]) => [String(v), n])),
    cacheEntries: Object.fromEntries([...cache].map(([v, n]) => [String(v), n])),
    ...(oldestReferencedAgeSeconds === undefined ? {} : { oldestReferencedAgeSeconds }),
  };
}
