/**
 * Bounded concurrency without a worker-pool library: at most `limit` calls of `fn` in flight.
 */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; resolves when all settled, in
 * input order. The first rejection is rethrown after every started call has settled, so no
 * call is left running behind the caller's back.
 *
 * @example
 * await runBounded(ids, 8, (id) => migrate(id));
 */
export async function runBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next;
      next += 1;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
