/**
 * The FactsSource of functions that never reconcile the lifecycle (rotate, reencrypt, escrow,
 * cache-invalidate). They do not run where the cache is reachable, so any reference count they
 * could give would leave the cache out and could let a version be disabled while cache entries
 * still need it: they refuse instead of answering.
 */
import type { FactsSource } from '../../ports/facts-source';
import { ValidationError } from '../../errors';

/**
 * Refuses every lifecycle question with a ValidationError naming the function.
 *
 * @example
 * const keyrings = core.keyringsWith(new NoLifecycleFacts('rotate'));
 * await keyrings.tick(); // ValidationError: the rotate function does not reconcile ...
 */
export class NoLifecycleFacts implements FactsSource {
  public constructor(private readonly functionName: string) {}

  public references(keyring: string, version: number): Promise<number> {
    return Promise.reject(this.refusal(keyring, version));
  }

  public escrowVerified(keyring: string, version: number): Promise<boolean> {
    return Promise.reject(this.refusal(keyring, version));
  }

  private refusal(keyring: string, version: number): ValidationError {
    return new ValidationError(
      `the ${this.functionName} function does not reconcile the lifecycle (asked about ${keyring} v${version}); grace-period and revoke do`,
    );
  }
}
