/**
 * The circuit breaker's decision, as a pure function of the facts: when decrypt failures run
 * above the threshold while a rotation is under way, automatic transitions pause (trip); once
 * the failure rate falls back, they resume (reset). Emergency revocation never consults it.
 */
import type { Catalog } from './model';

/** Decrypt outcomes observed over the breaker's window. */
export interface DecryptFacts {
  /** Envelopes that failed to decrypt. */
  readonly failures: number;
  /** Envelopes that were tried (failures included). */
  readonly attempts: number;
}

/** Tuning of the breaker. */
export interface BreakerPolicy {
  /** Failure ratio (0..1] above which the breaker trips (REKEY_BREAKER_THRESHOLD). */
  readonly threshold: number;
  /** Fewer attempts than this are not evidence either way. @default 20 */
  readonly minAttempts?: number;
  /** The breaker resets only below `threshold * resetFactor`, so it does not flap. @default 0.5 */
  readonly resetFactor?: number;
}

/** What the reconciler should do with the breaker. */
export type BreakerDecision =
  | { readonly action: 'trip'; readonly reason: string }
  | { readonly action: 'reset'; readonly reason: string }
  | { readonly action: 'hold'; readonly reason: string };

/** Defaults of {@link BreakerPolicy}. */
export const BREAKER_DEFAULTS = { minAttempts: 20, resetFactor: 0.5 } as const;

/**
 * True while a rotation is under way: a version is pending, or a superseded version is still
 * in its grace period. That is when new-version problems show up as decrypt failures.
 */
export function rotationUnderWay(catalog: Catalog): boolean {
  return catalog.versions.some((v) => v.state === 'pending' || v.state === 'rotating');
}

/**
 * Decides whether to trip, reset or leave the breaker of one keyring.
 *
 * @example
 * decideBreaker({ tripped: false, rotating: true, facts: { failures: 30, attempts: 100 }, policy: { threshold: 0.1 } }).action; // 'trip'
 */
export function decideBreaker(input: {
  readonly tripped: boolean;
  readonly rotating: boolean;
  readonly facts: DecryptFacts;
  readonly policy: BreakerPolicy;
}): BreakerDecision {
  const { tripped, rotating, facts, policy } = input;
  const minAttempts = policy.minAttempts ?? BREAKER_DEFAULTS.minAttempts;
  const resetFactor = policy.resetFactor ?? BREAKER_DEFAULTS.resetFactor;
  const failures = Math.max(0, Number.isFinite(facts.failures) ? facts.failures : 0);
  // Failures are counted where they happen and attempts where they are tried; never let the
  // denominator be smaller than the numerator.
  const attempts = Math.max(failures, Number.isFinite(facts.attempts) ? facts.attempts : 0);
  if (attempts < minAttempts) {
    return { action: 'hold', reason: `${attempts} decrypt attempts in the window, fewer than ${minAttempts}` };
  }
  const ratio = failures / attempts;
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  if (!tripped) {
    if (rotating && ratio > policy.threshold) {
      return { action: 'trip', reason: `decrypt failure rate ${pct(ratio)} above ${pct(policy.threshold)} during rotation (${failures}/${attempts})` };
    }
    return { action: 'hold', reason: `decrypt failure rate ${pct(ratio)}` };
  }
  if (ratio <= policy.threshold * resetFactor) {
    return { action: 'reset', reason: `decrypt failure rate fell back to ${pct(ratio)} (${failures}/${attempts})` };
  }
  return { action: 'hold', reason: `decrypt failure rate still ${pct(ratio)}` };
}
