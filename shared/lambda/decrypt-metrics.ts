/**
 * Decrypt attempts and failures by keyring and version, as the circuit breaker reads them
 * (`DecryptAttempts`, `DecryptFailures` in the Rekey namespace). Applications plug it into their
 * EnvelopeClient; counts are aggregated in memory and published by `flush()` (at the end of
 * each Lambda invocation, or on an interval in a long-running service), so a hot decrypt path
 * costs a Map update, not a log line.
 */
import type { DecryptObserver } from '../envelope/api';
import { METRIC } from '../vocabulary/metric-names';
import type { MetricsPublisher } from './rekey-metrics';

/** Keyring dimension used (without a version) when a failed envelope's header could not even be parsed. */
export const UNPARSEABLE = 'unparseable';

interface Counter {
  readonly keyring: string;
  readonly version: number | undefined;
  attempts: number;
  failures: number;
}

/**
 * A {@link DecryptObserver} that counts and publishes decrypt outcomes.
 *
 * @example
 * const decryptMetrics = new DecryptMetrics(new PowertoolsMetricsPublisher({ serviceName: 'orders' }));
 * const client = new EnvelopeClient(provider, { observer: decryptMetrics });
 * // ... at the end of the invocation:
 * decryptMetrics.flush();
 */
export class DecryptMetrics implements DecryptObserver {
  private readonly counts = new Map<string, Counter>();

  public constructor(private readonly metrics: MetricsPublisher) {}

  /** Counts a successful decryption. */
  public decrypted(keyring: string, version: number): void {
    this.bump(keyring, version).attempts += 1;
  }

  /** Counts a failed decryption (any reason: tampered, wrong context, revoked, key unavailable). */
  public failed(keyring: string | undefined, version: number | undefined, _code: string): void {
    const c = keyring === undefined || version === undefined ? this.bump(UNPARSEABLE, undefined) : this.bump(keyring, version);
    c.attempts += 1;
    c.failures += 1;
  }

  /** Publishes the counts gathered since the last flush and starts again from zero. */
  public flush(): void {
    for (const c of this.counts.values()) {
      const dims = c.version === undefined ? { keyring: c.keyring } : { keyring: c.keyring, version: c.version };
      this.metrics.put(METRIC.decryptAttempts, c.attempts, dims);
      this.metrics.put(METRIC.decryptFailures, c.failures, dims);
    }
    this.counts.clear();
  }

  private bump(keyring: string, version: number | undefined): Counter {
    const key = `${keyring}\u0000${version}`;
    let c = this.counts.get(key);
    if (c === undefined) {
      c = { keyring, version, attempts: 0, failures: 0 };
      this.counts.set(key, c);
    }
    return c;
  }
}
