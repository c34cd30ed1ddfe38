/**
 * grace-period: the scheduled reconciler. For each keyring it first consults the circuit
 * breaker (decrypt failures vs REKEY_BREAKER_THRESHOLD while a rotation is under way: trip or
 * reset), then applies every due transition with KeyringService.tick (the tick itself refuses
 * to disable or destroy a version while records, cache entries or an unverified escrow say
 * otherwise), then publishes the version distribution.
 */
import type { Catalog } from '../catalog/model';
import { decideBreaker, rotationUnderWay, type BreakerDecision } from '../catalog/circuit-breaker';
import type { JobContext } from '../lambda/create-handler';
import type { GracePeriodEvent } from '../vocabulary/event-schemas';
import { METRIC } from '../vocabulary/metric-names';
import { failureOf, retryableFrom, type KeyringFailure } from './settle';
import { publishDistribution, type VersionDistribution } from './version-distribution';
import type { RekeyServices } from '../compose/aws/rekey-services';

/** The services the grace-period job reads. */
export type GracePeriodServices = Pick<RekeyServices, 'keyrings' | 'clock' | 'config' | 'breakerFacts' | 'recordTargets' | 'cache'>;

/** Window over which decrypt failures are summed for the breaker. */
export const BREAKER_WINDOW_SECONDS = 900;

/** What grace-period did to one keyring. */
export interface GracePeriodOutcome {
  readonly keyring: string;
  readonly breaker: BreakerDecision['action'] | 'unknown';
  readonly applied: readonly { readonly kind: string; readonly version: number }[];
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

/**
 * Runs the grace-period job.
 *
 * @example
 * await runGracePeriod({}, context); // every keyring
 */
export async function runGracePeriod(event: GracePeriodEvent, context: JobContext<GracePeriodServices>): Promise<GracePeriodResponse> {
  const { keyrings, clock } = context.services;
  const now = clock();
  const catalogs: Catalog[] = event.keyring === undefined ? await keyrings.list() : [await keyrings.get(event.keyring)];
  const breaker = new Map<string, BreakerDecision['action'] | 'unknown'>();
  for (const catalog of catalogs) breaker.set(catalog.keyring, await checkBreaker(catalog, context, now));

  const summary = await keyrings.tick({ ...(event.keyring === undefined ? {} : { keyring: event.keyring }), now });
  const results: GracePeriodOutcome[] = [];
  for (const r of summary.keyrings) {
    context.metrics.put(METRIC.transitionsApplied, r.applied.length, { keyring: r.keyring });
    let distribution: VersionDistribution | undefined;
    const error: KeyringFailure | undefined = r.error;
    if (error === undefined) {
      try {
        distribution = await publishDistribution(await keyrings.get(r.keyring), context);
      } catch (err) {
        // Statistics are best effort: the transitions are written already.
        context.logger.warn('version distribution unavailable', { keyring: r.keyring, error: failureOf(err) });
      }
    }
    results.push({
      keyring: r.keyring,
      breaker: breaker.get(r.keyring) ?? 'unknown',
      applied: r.applied.map((t) => ({ kind: t.kind, version: t.version })),
      ...(r.paused === undefined ? {} : { paused: r.paused }),
      ...(distribution === undefined ? {} : { distribution }),
      ...(error === undefined ? {} : { error }),
    });
  }
  const retry = retryableFrom(results.flatMap((r) => (r.error === undefined ? [] : [r.error])), 'grace-period');
  if (retry !== undefined) throw retry;
  return { ok: summary.failed === 0, at: summary.at, results };
}

async function checkBreaker(catalog: Catalog, context: JobContext<GracePeriodServices>, now: Date): Promise<BreakerDecision['action'] | 'unknown'> {
  const { services, metrics, logger } = context;
  const keyring = catalog.keyring;
  const tripped = catalog.breaker !== undefined;
  let decision: BreakerDecision;
  try {
    const versions = catalog.versions.filter((v) => v.state !== 'destroyed').map((v) => v.version);
    const facts = await services.breakerFacts.decryptFacts(keyring, versions, BREAKER_WINDOW_SECONDS);
    decision = decideBreaker({ tripped, rotating: rotationUnderWay(catalog), facts, policy: { threshold: services.config.breakerThreshold } });
  } catch (err) {
    // Without facts the breaker keeps its state: neither trips on a monitoring outage nor
    // releases a hold it cannot re-justify.
    logger.warn('circuit breaker facts unavailable; holding', { keyring, error: failureOf(err) });
    metrics.put(METRIC.breakerTripped, tripped ? 1 : 0, { keyring });
    return 'unknown';
  }
  if (decision.action === 'trip') {
    await services.keyrings.tripBreaker(keyring, decision.reason, { now });
    logger.warn('circuit breaker tripped', { keyring, reason: decision.reason });
  } else if (decision.action === 'reset') {
    await services.keyrings.resetBreaker(keyring, { now });
    logger.info('circuit breaker reset', { keyring, reason: decision.reason });
  }
  const nowTripped = decision.action === 'trip' || (tripped && decision.action !== 'reset');
  metrics.put(METRIC.breakerTripped, nowTripped ? 1 : 0, { keyring });
  return decision.action;
}
