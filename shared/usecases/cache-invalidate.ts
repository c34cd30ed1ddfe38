/**
 * cache-invalidate: on its schedule, drops the cache entries of every version past its grace
 * period (deprecated, disabled, destroyed, revoked, or unknown to the catalog); on a
 * revocation, purges that one version at once. Uses the cache's per-version index, so the work
 * is proportional to the entries dropped (no keyspace SCAN).
 */
import { UnknownVersionError, ValidationError } from '../errors';
import type { Catalog, VersionState } from '../catalog/model';
import type { CacheStore } from '../ports/cache-store';
import { actorOf, type JobContext } from './context';
import type { CacheInvalidateEvent } from '../vocabulary/event-schemas';
import { METRIC } from '../vocabulary/metric-names';
import { settleEach } from './settle';
import type { KeyringService } from '../catalog/keyring-service';
import type { CatalogStore } from '../ports/catalog-store';
import type { AuditSink } from '../ports/audit-sink';

/** The services the cache-invalidate job reads. */
export interface CacheInvalidateServices {
  readonly keyrings: Pick<KeyringService, 'get'>;
  readonly catalogs: Pick<CatalogStore, 'list'>;
  readonly audit: AuditSink;
  readonly clock: () => Date;
  /** Undefined when no cache is configured (the job then refuses to run). */
  readonly cache?: Pick<CacheStore, 'countByVersion' | 'invalidateVersion'>;
}

/** States whose cache entries no reader should be served any more. */
export const PAST_GRACE: ReadonlySet<VersionState> = new Set(['deprecated', 'disabled', 'destroyed', 'revoked']);

/** What cache-invalidate did to one keyring. */
export interface CacheInvalidateOutcome {
  readonly keyring: string;
  readonly status: 'done';
  /** Entries dropped per version. */
  readonly dropped: Readonly<Record<string, number>>;
}

/** The response of the cache-invalidate function. */
export interface CacheInvalidateResponse {
  readonly ok: boolean;
  readonly results: readonly (CacheInvalidateOutcome | { keyring: string; status: 'failed' })[];
}

/**
 * Runs the cache-invalidate job.
 *
 * @example
 * await runCacheInvalidate({ keyring: 'payments', version: 3, reason: 'revoked' }, context);
 */
export async function runCacheInvalidate(event: CacheInvalidateEvent, context: JobContext<CacheInvalidateServices>): Promise<CacheInvalidateResponse> {
  const { services } = context;
  const cache = services.cache;
  if (cache === undefined) throw new ValidationError('cache-invalidate needs REKEY_CACHE_NAME or REKEY_CACHE_ENDPOINT');
  if (event.version !== undefined) {
    const keyring = event.keyring as string;
    const catalog = await services.keyrings.get(keyring);
    if (!catalog.versions.some((v) => v.version === event.version)) throw new UnknownVersionError(keyring, event.version);
    const n = await drop(cache, catalog, event.version, 'revoked', context);
    return { ok: true, results: [{ keyring, status: 'done', dropped: { [String(event.version)]: n } }] };
  }
  const names = event.keyring === undefined ? await services.catalogs.list() : [event.keyring];
  const results = await settleEach(names, async (keyring): Promise<CacheInvalidateOutcome> => {
    const catalog = await services.keyrings.get(keyring);
    const counts = await cache.countByVersion(keyring);
    const dropped: Record<string, number> = {};
    for (const [version, entries] of [...counts].sort((a, b) => a[0] - b[0])) {
      const state = catalog.versions.find((v) => v.version === version)?.state;
      if (entries > 0 && (state === undefined || PAST_GRACE.has(state))) {
        dropped[String(version)] = await drop(cache, catalog, version, state === undefined ? 'unknown version' : `version ${state}`, context);
      }
    }
    return { keyring, status: 'done', dropped };
  });
  return { ok: results.every((r) => r.status !== 'failed'), results };
}

async function drop(cache: Pick<CacheStore, 'invalidateVersion'>, catalog: Catalog, version: number, reason: string, context: JobContext<CacheInvalidateServices>): Promise<number> {
  const keyring = catalog.keyring;
  const n = await cache.invalidateVersion(keyring, version);
  context.metrics.put(METRIC.cacheEntriesInvalidated, n, { keyring, version });
  await context.services.audit.record({
    at: context.services.clock().toISOString(),
    actor: actorOf(context),
    action: 'cache.invalidated',
    keyring,
    version,
    reason,
    details: { entries: n },
  });
  context.logger.info('cache entries dropped', { keyring, version, entries: n, reason });
  return n;
}
