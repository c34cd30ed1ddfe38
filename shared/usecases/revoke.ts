/**
 * revoke: the emergency sequence for a `Key Version Compromised` event: revoke (a fresh version
 * active at once), drop the key caches, purge the cache entries, re-encrypt the records
 * (every record whose data key the version may have wrapped; inline for small targets, else
 * the Step Functions Distributed Map started under a deterministic name), delete old copies,
 * and count again once the catalog cache lifetime has passed. Each step is idempotent, so a
 * duplicated or retried event finishes the job and never does it twice. Neither freeze nor the
 * circuit breaker can pause it.
 */
import { BackendError } from '../errors';
import type { JobContext } from './context';
import type { RevokeEvent } from '../vocabulary/event-schemas';
import { METRIC } from '../vocabulary/metric-names';
import type { EmergencyRevocation, RevocationPending, RevocationResult, RevokeOptions } from '../reencrypt/emergency-revocation';

/** The services the revoke job reads. */
export interface RevokeServices {
  readonly revocation: Pick<EmergencyRevocation, 'revoke'>;
}

/** The response of the revoke function. */
export interface RevokeResponse {
  readonly ok: true;
  readonly keyring: string;
  readonly version: number;
  readonly revokedNow: boolean;
  readonly activeVersion?: number;
  readonly cacheEntriesPurged: number;
  readonly sweep?: { readonly done: number; readonly skipped: number; readonly failed: number };
  /** Records whose data key the version may have wrapped (handed to the state machine, failed, or new). */
  readonly remaining: number;
  /** Old copies (noncurrent object versions) still under the version. */
  readonly copiesRemaining: number;
  /** When a zero count becomes final. */
  readonly settlesAt: string;
  readonly state: string;
  readonly complete: boolean;
  readonly pending?: RevocationPending;
}

/** What {@link revokeVersion} is asked to do. */
export interface RevokeVersionInput extends RevokeOptions {
  readonly keyring: string;
  readonly version: number;
}

/**
 * The revocation sequence with its metrics and log line, returning what it did. The Lambda's
 * {@link runRevoke} and the CLI's `revoke` both run it; each decides what an unfinished
 * revocation means for its caller (a retry there, an exit code here).
 *
 * @example
 * const r = await revokeVersion({ keyring: 'payments', version: 3, reason: 'leak', actor: 'cli:alice' }, context);
 * if (!r.complete) console.log(`${r.remaining} records left; run revoke again`);
 */
export async function revokeVersion(input: RevokeVersionInput, context: JobContext<RevokeServices>): Promise<RevocationResult> {
  const { keyring, version, ...options } = input;
  const result = await context.services.revocation.revoke(keyring, version, options);
  const { metrics, logger } = context;
  metrics.put(METRIC.cacheEntriesInvalidated, result.cacheEntriesPurged, { keyring, version });
  if (result.sweep !== undefined) {
    metrics.put(METRIC.sweepDone, result.sweep.done, { keyring, version });
    metrics.put(METRIC.sweepSkipped, result.sweep.skipped, { keyring, version });
    metrics.put(METRIC.sweepFailed, result.sweep.failedCount, { keyring, version });
  }
  logger.warn('key version revoked', { keyring, version, revokedNow: result.revokedNow, remaining: result.remaining, state: result.state });
  return result;
}

/**
 * Runs the revoke job.
 *
 * @example
 * await runRevoke(event, context); // { ok: true, keyring: 'payments', version: 3, revokedNow: true, ... }
 */
export async function runRevoke(event: RevokeEvent, context: JobContext<RevokeServices>): Promise<RevokeResponse> {
  const { keyring, version, reason, requestedBy } = event.detail;
  // The sender's IAM principal when it said (the bus policy admits only security principals), else the event.
  const result = await revokeVersion({ keyring, version, reason, actor: requestedBy ?? `event:${event.id}` }, context);
  if (result.sweep !== undefined && result.sweep.failedCount > 0) {
    // Records still readable with the revoked key: retry the whole idempotent sequence; after
    // the invoker's retries the event lands in the dead-letter queue, which is alarmed.
    throw new BackendError(`revocation of ${keyring} v${version} left ${result.sweep.failedCount} record(s) failed; retrying`);
  }
  if (result.cachePurgeFailed) {
    // Cache entries under the version are still there (refused to readers, but to be purged):
    // the invoker's retry purges them once the cache answers.
    throw new BackendError(`revocation of ${keyring} v${version} could not purge its cache entries; retrying`);
  }
  if (result.pending === 'settling') {
    // Nothing left, but writers with a cached catalog may still write under the version until
    // `settlesAt`: the invoker's retry (a minute or more later) re-counts after it.
    throw new BackendError(`revocation of ${keyring} v${version} settles at ${result.settlesAt}; retrying to re-count then`);
  }
  return {
    ok: true,
    keyring,
    version,
    revokedNow: result.revokedNow,
    ...(result.activeVersion === undefined ? {} : { activeVersion: result.activeVersion }),
    cacheEntriesPurged: result.cacheEntriesPurged,
    ...(result.sweep === undefined ? {} : { sweep: { done: result.sweep.done, skipped: result.sweep.skipped, failed: result.sweep.failedCount } }),
    remaining: result.remaining,
    copiesRemaining: result.copies?.remainingCount ?? 0,
    settlesAt: result.settlesAt,
    state: result.state,
    complete: result.complete,
    ...(result.pending === undefined ? {} : { pending: result.pending }),
  };
}
