/**
 * One keyring's reconcile: one catalog read, then the decision over it: the circuit breaker
 * first (trip or reset), then every due transition, cascading (deprecated, then disabled once
 * nothing references it), all in one catalog for one compare-and-swap. Facts are gathered once
 * per decision: one reference count of every store serves every version's question, and is
 * taken only when a transition needs it (after the read, so a re-plan never uses counts older
 * than the catalog it plans on).
 */
import { IllegalTransitionError, summarizeError, UnknownKeyringError, UnknownVersionError } from '../errors';
import type { FactsSource, ReferenceCounts } from '../ports/facts-source';
import type { AuditDraft, CatalogWriter, Decision } from './catalog-writer';
import type { BreakerDecision } from './circuit-breaker';
import type { BreakerCheck, BreakerOutcome, KeyringReconcileResult } from './keyring-service-types';
import { applyTransition, factsNeeded, isPaused, planTransitions, setHold, type KeyUseFacts, type NewVersionKey, type PlannedTransition, type Transition } from './lifecycle';
import type { Catalog, KeyVersion } from './model';
import { referencesOf } from './reference-counts';

/** The actor of automatic breaker changes (as KeyringService.tripBreaker and resetBreaker default). */
export const BREAKER_ACTOR = 'breaker';

const POLICY_REASON = 'policy';
// Each round may make more transitions due (deprecated with no reference left → disabled);
// versions only move forward, so a handful of rounds reaches the fixed point.
const MAX_ROUNDS = 8;

/** What a reconcile decision needs besides the catalog. */
export interface ReconcileContext {
  readonly now: Date;
  readonly facts: FactsSource;
  readonly generate: (keyring: string, version: number) => Promise<NewVersionKey>;
  readonly breaker?: BreakerCheck;
}

/**
 * Decides what one tick writes to `current`'s keyring.
 *
 * @example
 * await writer.write(name, 'scheduler', now, (current) => decideReconcile(current, { now, facts, generate }));
 */
export async function decideReconcile(current: Catalog, ctx: ReconcileContext): Promise<Decision<KeyringReconcileResult>> {
  const keyring = current.keyring;
  const held = ctx.breaker === undefined ? undefined : applyBreaker(current, await ctx.breaker(current), ctx.now);
  let catalog = held?.catalog ?? current;
  const events: AuditDraft[] = held?.event === undefined ? [] : [held.event];
  const breaker = held === undefined ? {} : { breaker: held.outcome };
  if (isPaused(catalog)) {
    const paused = catalog.frozen !== undefined ? 'frozen' : 'breaker';
    return { ...(held?.event === undefined ? {} : { next: catalog }), events, result: (stored) => ({ keyring, applied: [], paused, catalog: stored, ...breaker }) };
  }
  let counts: ReferenceCounts | undefined;
  let keyUse: KeyUseFacts | undefined;
  let keyUseAsked = false;
  const references = new Map<number, number>();
  const escrowVerified = new Set<number>();
  const escrowChecked = new Set<number>();
  const applied: PlannedTransition[] = [];
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    for (const need of factsNeeded(catalog, ctx.now)) {
      counts ??= await ctx.facts.referenceCounts(keyring);
      if (!keyUseAsked) {
        keyUseAsked = true;
        keyUse = await ctx.facts.keyUse?.(keyring);
      }
      if (!references.has(need.version)) {
        references.set(need.version, referencesOf(counts, need.version));
      }
      if (need.escrow && !escrowChecked.has(need.version)) {
        escrowChecked.add(need.version);
        if (await ctx.facts.escrowVerified(keyring, need.version, versionOf(catalog, need.version))) {
          escrowVerified.add(need.version);
        }
      }
    }
    const plan = planTransitions(catalog, ctx.now, {
      references,
      escrowVerified,
      ...(keyUse === undefined ? {} : { keyUse }),
      ...(counts?.uncounted === undefined ? {} : { uncounted: counts.uncounted }),
    });
    if (plan.length === 0) {
      break;
    }
    for (const planned of plan) {
      const transition: Transition = planned.kind === 'create-pending' ? { ...planned, key: await ctx.generate(keyring, planned.version) } : planned;
      catalog = applyTransition(catalog, transition, ctx.now);
      applied.push(planned);
      events.push(auditOf(planned, references, keyUse));
    }
  }
  const gathered = counts === undefined ? {} : { references: counts };
  const result = (stored: Catalog): KeyringReconcileResult => ({ keyring, applied, catalog: stored, ...gathered, ...breaker });
  return events.length === 0 ? { events, result } : { next: catalog, events, result };
}

/**
 * Reconciles one keyring through `writer` (one read, at most one compare-and-swap, re-planned
 * on a lost race). A failure is reported in the result, not thrown, so the other keyrings of a
 * tick still proceed; nothing was written then.
 *
 * @throws UnknownKeyringError only when the keyring was `named` by the caller and does not exist.
 */
export async function reconcileKeyring(writer: CatalogWriter, name: string, actor: string, ctx: ReconcileContext, options: { named: boolean }): Promise<KeyringReconcileResult> {
  let seen: Catalog | undefined;
  try {
    return await writer.write(name, actor, ctx.now, async (current) => {
      seen = current;
      return decideReconcile(current, ctx);
    });
  } catch (err) {
    // A named keyring that does not exist is the caller's mistake, not a keyring failure.
    if (options.named && err instanceof UnknownKeyringError) throw err;
    const breaker = ctx.breaker === undefined || seen === undefined ? {} : { breaker: { action: 'unknown' as const, tripped: seen.breaker !== undefined } };
    return { keyring: name, applied: [], error: summarizeError(err), ...breaker };
  }
}

/** The breaker's change to `current`, if any, with its audit event. Pure. */
function applyBreaker(current: Catalog, decision: BreakerDecision | undefined, now: Date): { catalog: Catalog; outcome: BreakerOutcome; event?: AuditDraft } {
  const tripped = current.breaker !== undefined;
  if (decision === undefined) {
    return { catalog: current, outcome: { action: 'unknown', tripped } };
  }
  const outcome = { action: decision.action, reason: decision.reason };
  if (decision.action === 'trip' && !tripped) {
    const catalog = setHold(current, 'breaker', { reason: decision.reason, at: now.toISOString(), by: BREAKER_ACTOR }, now);
    return { catalog, outcome: { ...outcome, tripped: true }, event: { action: 'breaker.tripped', reason: decision.reason, actor: BREAKER_ACTOR } };
  }
  if (decision.action === 'reset' && tripped) {
    const catalog = setHold(current, 'breaker', undefined, now);
    return { catalog, outcome: { ...outcome, tripped: false }, event: { action: 'breaker.reset', actor: BREAKER_ACTOR } };
  }
  return { catalog: current, outcome: { ...outcome, tripped } };
}

function versionOf(catalog: Catalog, version: number): KeyVersion {
  const found = catalog.versions.find((v) => v.version === version);
  if (found === undefined) {
    throw new UnknownVersionError(catalog.keyring, version);
  }
  return found;
}

function auditOf(t: PlannedTransition, references: ReadonlyMap<number, number>, keyUse: KeyUseFacts | undefined): AuditDraft {
  switch (t.kind) {
    case 'create-pending':
      return { action: 'version.created', version: t.version, reason: POLICY_REASON, details: { state: 'pending' } };
    case 'promote':
      return { action: 'version.activated', version: t.version, reason: POLICY_REASON, details: { demoted: t.demoted } };
    case 'deprecate':
      return { action: 'version.deprecated', version: t.version, reason: POLICY_REASON };
    case 'disable': {
      const last = keyUse?.lastUse.get(t.version)?.at;
      return {
        action: 'version.disabled',
        version: t.version,
        reason: POLICY_REASON,
        details: { references: references.get(t.version) ?? 0, ...(last === undefined ? {} : { lastUsedAt: last.toISOString() }) },
      };
    }
    case 'destroy':
      return { action: 'version.destroyed', version: t.version, reason: POLICY_REASON, details: { escrowVerified: true } };
    default: {
      const never: never = t;
      throw new IllegalTransitionError(`unknown transition ${JSON.stringify(never)}`);
    }
  }
}
