/**
 * The FactsSource of functions that never reconcile the lifecycle (rotate, reencrypt, escrow,
 * cache-invalidate). They do not run where the cache is reachable, so any reference count they
 * could give would leave the cache out and could let a version be disabled while cache entries
 * still need it: they refuse instead of answering.
 */
import type { FactsSource, ReferenceCounts } from '../../ports/facts-source';
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

  public referenceCounts(keyring: string): Promise<ReferenceCounts> {
    return Promise.reject(this.refusal(keyring));
  }

  public escrowVerified(keyring: string, version: number): Promise<boolean> {
    return Promise.reject(this.refusal(`${keyring} v${version}`));
  }

  private refusal(subject: string): ValidationError {
    return new ValidationError(
      `the ${this.functionName} function does not reconcile the lifecycle (asked about ${subject}); grace-period and revoke do`,
    );
  }
}
