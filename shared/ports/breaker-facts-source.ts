/**
 * BreakerFactsSource: where the circuit breaker learns how decrypts have been going. On AWS it
 * reads the CloudWatch metrics `DecryptFailures` / `DecryptAttempts`; locally the CLI may count
 * in process.
 */
import type { DecryptFacts } from '../catalog/circuit-breaker';

/** Port to the decrypt-outcome facts of a keyring. */
export interface BreakerFactsSource {
  /** Decrypt failures and attempts of `versions` of `keyring` over the last `windowSeconds`. */
  decryptFacts(keyring: string, versions: readonly number[], windowSeconds: number): Promise<DecryptFacts>;
}
