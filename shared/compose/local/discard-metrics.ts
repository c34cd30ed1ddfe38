/**
 * The use cases' metrics in the CLI: a one-shot local process has no metrics backend to send
 * data points to (its counts are what `rekey status` prints), so they are dropped.
 */
import type { MetricsPublisher } from '../../ports/metrics-publisher';

/**
 * A MetricsPublisher that drops every data point.
 *
 * @example
 * new DiscardMetrics().put('EscrowDrillFailures', 0, { keyring: 'pii' }); // nothing happens
 */
export class DiscardMetrics implements MetricsPublisher {
  public put(): void {
    // Deliberately empty: see the file comment.
  }
}
