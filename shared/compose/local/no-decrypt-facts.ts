/**
 * The circuit breaker's facts in local mode. Locally nothing records decrypt outcomes across
 * processes (each CLI command is its own short process; there is no CloudWatch), so this source
 * honestly reports what it knows: no attempts and no failures. With fewer attempts than the
 * breaker's minimum the breaker holds its state, so a local tick never trips or resets it.
 */
import type { DecryptFacts } from '../../catalog/circuit-breaker';
import type { BreakerFactsSource } from '../../ports/breaker-facts-source';

/**
 * A BreakerFactsSource that has observed nothing.
 *
 * @example
 * await new NoDecryptFacts().decryptFacts('pii', [1, 2], 900); // { failures: 0, attempts: 0 }
 */
export class NoDecryptFacts implements BreakerFactsSource {
  public async decryptFacts(): Promise<DecryptFacts> {
    return { failures: 0, attempts: 0 };
  }
}
