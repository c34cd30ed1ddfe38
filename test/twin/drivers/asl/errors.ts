/**
 * Errors and retries of the Amazon States Language, as "Error handling in Step Functions"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html) and the
 * spec's "Errors" / "Retrying after error" sections (https://states-language.net/spec.html)
 * define them.
 */

/** A state failure with an ASL error name (`States.TaskFailed`, `Lambda.TooManyRequestsException`, ...). */
export class StatesError extends Error {
  public constructor(public readonly error: string, public override readonly cause: string) {
    super(`${error}: ${cause}`);
    this.name = 'StatesError';
  }
}

/** One Retrier of a Task/Map/Parallel state, as written in the definition. */
export interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}

/** One Catcher. */
export interface Catcher {
  readonly ErrorEquals: readonly string[];
  readonly Next: string;
  readonly ResultPath?: string | null;
}

// "States.ALL ... can't catch the States.DataLimitExceeded terminal error type and runtime error
// types" (concepts-error-handling); States.TaskFailed matches any task failure except a timeout.
const UNCATCHABLE = new Set(['States.Runtime', 'States.DataLimitExceeded']);

/** Whether `errorEquals` (a Retrier's or Catcher's list) matches the error name. */
export function errorMatches(errorEquals: readonly string[], error: string): boolean {
  for (const name of errorEquals) {
    if (name === error) return true;
    if (name === 'States.ALL' && !UNCATCHABLE.has(error)) return true;
    if (name === 'States.TaskFailed' && !UNCATCHABLE.has(error) && error !== 'States.Timeout') return true;
  }
  return false;
}

/** The delay before retry number `attempt` (1-based) of `retrier`, before and after jitter. */
export function retryDelaySeconds(retrier: Retrier, attempt: number, random: () => number = Math.random): { base: number; delay: number } {
  // Spec defaults: IntervalSeconds 1, BackoffRate 2.0; MaxDelaySeconds caps the interval growth.
  const interval = retrier.IntervalSeconds ?? 1;
  const rate = retrier.BackoffRate ?? 2;
  let base = interval * Math.pow(rate, attempt - 1);
  if (retrier.MaxDelaySeconds !== undefined) base = Math.min(base, retrier.MaxDelaySeconds);
  // JitterStrategy FULL: a random delay between 0 and the computed interval.
  const delay = retrier.JitterStrategy === 'FULL' ? random() * base : base;
  return { base, delay };
}

/** The default MaxAttempts of a Retrier (spec: 3). */
export function maxAttempts(retrier: Retrier): number {
  return retrier.MaxAttempts ?? 3;
}

/** Converts anything thrown inside the interpreter to a StatesError (unknown → States.Runtime). */
export function asStatesError(err: unknown): StatesError {
  if (err instanceof StatesError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StatesError('States.Runtime', message);
}
