/**
 * grace-period: the scheduled reconciler. One KeyringService.reconcile per tick: per keyring one
 * catalog read, the circuit breaker decided from it (decrypt failures vs
 * REKEY_BREAKER_THRESHOLD while a rotation is under way: trip or reset), every due transition
 * (the reconcile itself refuses to disable or destroy a version while records, cache entries
 * or an unverified escrow say otherwise), and one compare-and-swap for all of it. The version
 * distribution is then published from the same reference counts.
 */
import type { KeyringService } from '../catalog/keyring-service';
import { decideBreaker, rotationUnderWay, type BreakerDecision } from '../catalog/circuit-breaker';
import type { PlannedTransition } from '../catalog/lifecycle';
import type { Catalog } from '../catalog/model';
import type { BreakerFactsSource } from '../ports/breaker-facts-source';
import type { ReferenceCounts } from '../ports/facts-source';
import type { GracePeriodEvent } from '../vocabulary/event-schemas';
import { METRIC } from '../vocabulary/metric-names';
import { summarizeError } from '../errors';
import type { JobContext } from './context';
import { retryableFrom, type KeyringFailure } from './settle';
import { publishDistribution, type VersionDistribution } from './version-distribution';

/** The services the grace-period job reads. */
export interface GracePeriodServices {
  readonly keyrings: Pick<KeyringService, 'reconcile' | 'referenceCounts'>;
  readonly clock: () => Date;
  /** REKEY_BREAKER_THRESHOLD: the failure ratio above which the breaker trips. */
  readonly config: { readonly breakerThreshold: number };
  readonly breakerFacts: BreakerFactsSource;
}

/** Window over which decrypt failures are summed for the breaker. */
export const BREAKER_WINDOW_SECONDS = 900;

/** What grace-period did to one keyring. */
export interface GracePeriodOutcome {
  readonly keyring: string;
  readonly breaker: BreakerDecision['action'] | 'unknown';
  /** Each transition as the lifecycle planned it (a promote names the version it demoted). */
  readonly applied: readonly PlannedTransition[];
  readonly paused?: 'frozen' | 'breaker';
  readonly distribution?: VersionDistribution;
  readonly error?: KeyringFailure;
}

/** The response of the grace-period function. */
export interface GracePeriodResponse {
  readonly ok: boolean;
  readonly at: string;
  readonly results: readonly GracePeriodOutcome[];
}

/** Options of {@link runGracePeriod}. */
export interface GracePeriodOptions {
  /**
   * What a retryable keyring failure does once every keyring was tried: `throw` (the scheduler
   * retries the whole job), or `report` it in the response only, for a caller that prints the
   * summary itself (the CLI's tick exits 7: the other keyrings' transitions are written).
   * @default 'throw'
   */
  readonly retryable?: 'throw' | 'report';
}

/**
 * Runs the grace-period job.
 *
 * @example
 * await runGracePeriod({}, context); // every keyring
 */
export async function runGracePeriod(event: GracePeriodEvent, context: JobContext<GracePeriodServices>, options: GracePeriodOptions = {}): Promise<GracePeriodResponse> {
  const { services, metrics, logger } = context;
  const now = services.clock();
  const summary = await services.keyrings.reconcile({
    ...(event.keyring === undefined ? {} : { keyring: event.keyring }),
    now,
    // The scheduler acts unless the caller names someone (the CLI names its operator).
    ...(context.actor === undefined ? {} : { actor: context.actor }),
    breaker: (catalog) => checkBreaker(catalog, context),
  });
  const results: GracePeriodOutcome[] = [];
  for (const r of summary.keyrings) {
    const keyring = r.keyring;
    if (r.breaker?.action === 'trip') logger.warn('circuit breaker tripped', { keyring, reason: r.breaker.reason });
    if (r.breaker?.action === 'reset') logger.info('circuit breaker reset', { keyring, reason: r.breaker.reason });
    if (r.breaker !== undefined) metrics.put(METRIC.breakerTripped, r.breaker.tripped ? 1 : 0, { keyring });
    metrics.put(METRIC.transitionsApplied, r.applied.length, { keyring });
    let distribution: VersionDistribution | undefined;
    if (r.error === undefined && r.catalog !== undefined) {
      try {
        // The counts the plan used when it needed any; else the one count of this tick.
        const counts: ReferenceCounts = r.references ?? (await services.keyrings.referenceCounts(keyring));
        distribution = publishDistribution(r.catalog, counts, context);
      } catch (err) {
        // Statistics are best effort: the transitions are written already.
        logger.warn('version distribution unavailable', { keyring, error: summarizeError(err) });
      }
    }
    results.push({
      keyring,
      breaker: r.breaker?.action ?? 'unknown',
      // Copied field by field: an applied create-pending carries its new wrapped key, which never
      // belongs in a response.
      applied: r.applied.map((t) => (t.kind === 'promote' ? { kind: t.kind, version: t.version, demoted: t.demoted } : { kind: t.kind, version: t.version })),
      ...(r.paused === undefined ? {} : { paused: r.paused }),
      ...(distribution === undefined ? {} : { distribution }),
      ...(r.error === undefined ? {} : { error: r.error }),
    });
  }
  const retry = options.retryable === 'report' ? undefined : retryableFrom(results.flatMap((r) => (r.error === undefined ? [] : [r.error])), 'grace-period');
  if (retry !== undefined) throw retry;
  return { ok: summary.failed === 0, at: summary.at, results };
}

/** The breaker's decision over the catalog the reconcile plans on; undefined without facts. */
async function checkBreaker(catalog: Catalog, context: JobContext<GracePeriodServices>): Promise<BreakerDecision | undefined> {
  const { services, logger } = context;
  const keyring = catalog.keyring;
  try {
    const versions = catalog.versions.filter((v) => v.state !== 'destroyed').map((v) => v.version);
    const facts = await services.breakerFacts.decryptFacts(keyring, versions, BREAKER_WINDOW_SECONDS);
    return decideBreaker({ tripped: catalog.breaker !== undefined, rotating: rotationUnderWay(catalog), facts, policy: { threshold: services.config.breakerThreshold } });
  } catch (err) {
    // Without facts the breaker keeps its state: neither trips on a monitoring outage nor
    // releases a hold it cannot re-justify.
    logger.warn('circuit breaker facts unavailable; holding', { keyring, error: summarizeError(err) });
    return undefined;
  }
}
