/**
 * What the next ticks would do and when, given the facts as they are now: the planner run
 * forward in time over a copy of the catalog (nothing is written, no key is generated). The
 * facts are held constant: no new record, no new key use. So an instant here is the earliest
 * the step can happen; new evidence only ever moves it later.
 */
import { applyTransition, planTransitions, type PlannedTransition } from './lifecycle';
import type { Catalog } from './model';
import { outlookOf, type LifecycleFacts } from './version-outlook';

/** One step of a forecast. */
export interface ForecastStep {
  /** When the step becomes due (the first tick at or after it applies it). */
  readonly at: Date;
  readonly transition: PlannedTransition;
}

/** Options of {@link forecastTransitions}. */
export interface ForecastOptions {
  /** Most steps listed. @default 12 */
  readonly maxSteps?: number;
  /** How far ahead to look, in seconds. @default 400 days */
  readonly horizonSeconds?: number;
}

// Stands in for a version key the forecast never generates; never stored, never unwrapped.
const PLACEHOLDER_KEY = { wrappedKey: 'AA==', wrappingKeyId: 'forecast' };

/**
 * The transitions the ticks from `now` on would apply, in order, each with the instant it
 * becomes due. Pure.
 *
 * @example
 * forecastTransitions(catalog, now, facts); // [{ at: 2031-01-08T…, transition: { kind: 'deprecate', version: 1 } }, …]
 */
export function forecastTransitions(catalog: Catalog, now: Date, facts: LifecycleFacts, options: ForecastOptions = {}): ForecastStep[] {
  const maxSteps = options.maxSteps ?? 12;
  const horizon = now.getTime() + (options.horizonSeconds ?? 400 * 86_400) * 1000;
  const steps: ForecastStep[] = [];
  let current = catalog;
  let t = now.getTime();
  while (steps.length < maxSteps) {
    const next = outlookOf(current, new Date(t), facts)
      .filter((o) => o.next !== undefined && o.dueAt !== undefined)
      .map((o) => Math.max(t, (o.dueAt as Date).getTime()));
    if (next.length === 0) break;
    t = Math.min(...next);
    if (t > horizon) break;
    const at = new Date(t);
    const plan = planTransitions(current, at, facts);
    // A step the outlook names can still be refused by the planner (no active version): stop
    // rather than loop on an instant that never applies.
    if (plan.length === 0) break;
    for (const planned of plan) {
      if (steps.length >= maxSteps) break;
      current = applyTransition(current, planned.kind === 'create-pending' ? { ...planned, key: PLACEHOLDER_KEY } : planned, at);
      steps.push({ at, transition: planned });
    }
  }
  return steps;
}
