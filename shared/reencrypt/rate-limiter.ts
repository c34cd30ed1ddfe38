/**
 * Token-bucket rate limiter with an injected clock and sleep, so that the sweep's rate can be
 * tested by counting tokens and sleeps rather than by measuring wall time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ValidationError } from '../errors';

/** Time source in milliseconds (monotonic is best; `Date.now` works). */
export interface Clock {
  now(): number;
}

/** Waits `ms` milliseconds (or until the signal aborts). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real clock: `performance.now()`. */
export const systemClock: Clock = { now: () => performance.now() };

/** The real sleep: a timer, cancelled when `signal` aborts (then it rejects with the signal's reason). */
export const systemSleep: Sleep = (ms, signal) =>
  // node:timers/promises rejects an abort with its own AbortError; callers expect the signal's reason.
  sleep(ms, undefined, signal === undefined ? undefined : { signal }).catch((err: unknown) => {
    throw signal?.aborted === true ? signal.reason : err;
  });

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second (sustained rate). */
  readonly ratePerSecond: number;
  /** Bucket capacity: how many tokens may be taken at once after idling. @default max(1, ratePerSecond / 10) */
  readonly burst?: number;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
}

/**
 * A token bucket: `take()` resolves when a token is available. Callers are served in arrival
 * order, so concurrent workers share the rate fairly.
 *
 * @example
 * const bucket = new TokenBucket({ ratePerSecond: 500 });
 * await bucket.take(); // at most 500 per second on average, bursts of at most 50
 */
export class TokenBucket {
  private readonly rate: number;
  private readonly capacity: number;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();
  private sleeps = 0;
  private taken = 0;

  public constructor(options: TokenBucketOptions) {
    if (!(Number.isFinite(options.ratePerSecond) && options.ratePerSecond > 0)) {
      throw new ValidationError('ratePerSecond must be a positive number');
    }
    const burst = options.burst ?? Math.max(1, options.ratePerSecond / 10);
    if (!(Number.isFinite(burst) && burst >= 1)) throw new ValidationError('burst must be a number >= 1');
    this.rate = options.ratePerSecond;
    this.capacity = burst;
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? systemSleep;
    this.tokens = burst;
    this.last = this.clock.now();
  }

  /** Takes one token, waiting as long as the rate requires. Rejects if `signal` aborts while waiting. */
  public take(signal?: AbortSignal): Promise<void> {
    // Chaining keeps arrival order: each taker waits for the previous one to be served.
    const turn = this.queue.then(() => this.serve(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** How many times the bucket slept, and how many tokens were handed out (for tests and metrics). */
  public stats(): { sleeps: number; taken: number } {
    return { sleeps: this.sleeps, taken: this.taken };
  }

  private async serve(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        this.taken += 1;
        return;
      }
      const waitMs = Math.ceil(((1 - this.tokens) / this.rate) * 1000);
      this.sleeps += 1;
      await this.sleep(waitMs, signal);
    }
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.rate) / 1000);
  }
}
