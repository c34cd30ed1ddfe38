/**
 * Deadlines of calls that all share one timeout, with one timer for the whole queue instead of
 * a setTimeout / clearTimeout pair per call (the cache store's get and set are hot paths).
 * Every call gets the same timeout and the clock is monotonic, so deadlines are in insertion
 * order: the queue is a FIFO, and the timer only ever waits for the oldest unsettled call.
 */
import { performance } from 'node:perf_hooks';

/** A call whose promise is settled by its owner, or rejected by the queue at its deadline. */
export interface PendingCall<T> {
  readonly promise: Promise<T>;
  /** Settles the call (ignored once it is settled or past its deadline). */
  resolve(value: T): void;
  /** Settles the call (ignored once it is settled or past its deadline). */
  reject(err: Error): void;
  /** Whether the call was settled (by its owner or by its deadline). */
  readonly settled: boolean;
}

class Call<T> implements PendingCall<T> {
  public settled = false;
  public readonly promise: Promise<T>;
  private done!: (value: T) => void;
  private fail!: (err: Error) => void;

  public constructor(
    private readonly queue: DeadlineQueue,
    public readonly deadline: number,
    public readonly label: string,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.done = resolve;
      this.fail = reject;
    });
  }

  public resolve(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.queue.release();
    this.done(value);
  }

  public reject(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.queue.release();
    this.fail(err);
  }

  /** Called by the queue, which has already released it. */
  public expire(err: Error): void {
    this.settled = true;
    this.fail(err);
  }
}

/**
 * Calls with a common timeout. The timer runs only while a call is open, so an idle queue
 * never keeps the process alive.
 *
 * @example
 * const deadlines = new DeadlineQueue(100, (op) => new Error(`${op}: no reply within 100 ms`));
 * const call = deadlines.open<string | null>('get');
 * client.get('k').then((v) => call.resolve(v), (e: Error) => call.reject(e));
 * await call.promise;
 */
export class DeadlineQueue {
  private calls: Call<unknown>[] = [];
  private head = 0;
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `expired(label)` is the error of a call still open at its deadline. */
  public constructor(
    public readonly timeoutMs: number,
    private readonly expired: (label: string) => Error,
  ) {}

  /** Calls not yet settled. */
  public get openCalls(): number {
    return this.pending;
  }

  /** Opens a call, rejected with `expired(label)` unless it is settled within the timeout. */
  public open<T>(label: string): PendingCall<T> {
    const call = new Call<T>(this, performance.now() + this.timeoutMs, label);
    this.calls.push(call as Call<unknown>);
    this.pending++;
    if (this.timer === undefined) this.timer = setTimeout(this.sweep, this.timeoutMs);
    return call;
  }

  /** @internal A call was settled by its owner. */
  public release(): void {
    this.pending--;
    if (this.pending === 0) {
      // Nothing left to watch: drop the timer (and the settled calls it would have walked).
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.calls = [];
      this.head = 0;
    }
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const calls = this.calls;
    while (this.head < calls.length) {
      const call = calls[this.head]!;
      if (!call.settled) {
        if (call.deadline > now) break;
        this.pending--;
        call.expire(this.expired(call.label));
      }
      this.head++;
    }
    if (this.pending === 0) {
      this.calls = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024 && this.head * 2 > calls.length) {
      this.calls = calls.slice(this.head);
      this.head = 0;
    }
    const next = this.calls[this.head]!;
    this.timer = setTimeout(this.sweep, Math.max(1, Math.ceil(next.deadline - now)));
  };
}
