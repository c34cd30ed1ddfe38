/**
 * Publishes where a keyring's versions are still in use: records and cache entries per
 * version, and the age of the oldest version still referenced (the number an auditor asks for:
 * "how old is the oldest key that can still decrypt live data?").
 */
import type { Catalog } from '../catalog/model';
import type { JobContext } from '../lambda/create-handler';
import { METRIC } from '../vocabulary/metric-names';
import type { RekeyServices } from '../compose/aws/rekey-services';

/** The distribution of one keyring. */
export interface VersionDistribution {
  readonly records: Readonly<Record<string, number>>;
  readonly cacheEntries: Readonly<Record<string, number>>;
  /** Seconds since the oldest referenced version was created; undefined when nothing is referenced. */
  readonly oldestReferencedAgeSeconds?: number;
}

/**
 * Counts, publishes and returns the distribution of `catalog`'s keyring.
 *
 * @example
 * const d = await publishDistribution(catalog, context); // d.records['3'] === 120
 */
export async function publishDistribution(catalog: Catalog, context: JobContext<Pick<RekeyServices, 'recordTargets' | 'cache' | 'clock'>>): Promise<VersionDistribution> {
  const { services, metrics } = context;
  const keyring = catalog.keyring;
  const records = new Map<number, number>();
  for (const { target, store } of services.recordTargets) {
    if (target.keyring !== keyring) continue;
    for (const [v, n] of await store.countByVersion(keyring)) records.set(v, (records.get(v) ?? 0) + n);
  }
  const cache = services.cache === undefined ? new Map<number, number>() : await services.cache.countByVersion(keyring);
  for (const v of catalog.versions) {
    if (v.state === 'destroyed') continue;
    metrics.put(METRIC.recordsByVersion, records.get(v.version) ?? 0, { keyring, version: v.version });
    if (services.cache !== undefined) metrics.put(METRIC.cacheEntriesByVersion, cache.get(v.version) ?? 0, { keyring, version: v.version });
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
