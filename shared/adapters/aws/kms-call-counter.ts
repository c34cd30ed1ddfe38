/**
 * Counts the calls a KMS client makes (each logical call once, retries not counted), so a
 * function can publish its `KmsCalls` metric: KMS quotas are per region and shared, and the
 * version-key cache exists to keep this number small.
 */

/** The part of an SDK v3 client this needs. */
interface ClientWithStack {
  middlewareStack: {
    add(middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }): void;
  };
}

/** A running count of calls. */
export interface CallCounter {
  /** Calls since the last {@link CallCounter.take}. */
  readonly count: number;
  /** Returns the count and starts again from zero. */
  take(): number;
}

/**
 * Installs a counting middleware on `client` (idempotent per client) and returns the counter.
 *
 * @example
 * const kmsCalls = countCalls(kmsClient);
 * // ... after the work
 * metrics.put('KmsCalls', kmsCalls.take(), { function: 'rotate' });
 */
export function countCalls(client: ClientWithStack): CallCounter {
  const state = { count: 0 };
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      state.count += 1;
      return next(args);
    },
    { step: 'initialize', name: 'rekeyCallCounter', override: true },
  );
  return {
    get count() {
      return state.count;
    },
    take() {
      const n = state.count;
      state.count = 0;
      return n;
    },
  };
}
