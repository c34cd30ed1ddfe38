/**
 * How a job that works through several keyrings ends: one keyring's failure does not stop the
 * others; afterwards a retryable failure is rethrown (the invoker retries, and every step is
 * idempotent), and a lone keyring's non-retryable failure is rethrown as itself so the response
 * names it.
 */
import { BackendError, isRekeyError, summarizeError, ThrottledError, type RekeyError } from '../errors';

/** One keyring's failure, as reported in a response. */
export interface KeyringFailure {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

/**
 * Runs `work` for each name, collecting errors; then throws as described above, or returns
 * the per-name results (failed ones as `{ keyring, error }`).
 *
 * @example
 * const results = await settleEach(['a', 'b'], async (k) => ({ keyring: k, status: 'ok' }));
 */
export async function settleEach<R extends { keyring: string }>(
  names: readonly string[],
  work: (name: string) => Promise<R>,
): Promise<Array<R | { keyring: string; status: 'failed'; error: KeyringFailure }>> {
  const out: Array<R | { keyring: string; status: 'failed'; error: KeyringFailure }> = [];
  const errors: unknown[] = [];
  for (const name of names) {
    try {
      out.push(await work(name));
    } catch (err) {
      errors.push(err);
      out.push({ keyring: name, status: 'failed', error: summarizeError(err) });
    }
  }
  const retryable = errors.find((e) => !isRekeyError(e) || e.retryable);
  if (retryable !== undefined) throw isRekeyError(retryable) ? retryable : new BackendError('unexpected failure', { cause: retryable });
  if (names.length === 1 && errors.length === 1) throw errors[0] as RekeyError;
  return out;
}

/** The error to rethrow for failures a core service reported instead of throwing. */
export function retryableFrom(failures: readonly KeyringFailure[], what: string): RekeyError | undefined {
  const retryable = failures.filter((f) => f.retryable);
  if (retryable.length === 0) return undefined;
  const codes = [...new Set(retryable.map((f) => f.code))].join(', ');
  const message = `${what}: ${retryable.length} keyring(s) failed (${codes}); retrying`;
  return retryable.every((f) => f.code === 'THROTTLED') ? new ThrottledError(message) : new BackendError(message);
}
