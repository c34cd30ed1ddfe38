/**
 * A real RekeyClient for unit tests: the application client's one implementation over a real
 * EnvelopeClient, with the envelope tests' seeded key provider and recorded decrypt metrics.
 */
import { AppRekeyClient } from '../../../shared/app/app-client';
import { EnvelopeClient } from '../../../shared/envelope';
import { DecryptMetrics } from '../../../shared/lambda/decrypt-metrics';
import type { MetricDimensions, MetricsPublisher } from '../../../shared/ports/metrics-publisher';
import { TestProvider } from '../envelope/test-provider';

/** Keeps every data point. */
export class RecordedMetrics implements MetricsPublisher {
  public readonly points: Array<{ name: string; value: number; dimensions: MetricDimensions }> = [];
  public put(name: string, value: number, dimensions: MetricDimensions = {}): void {
    this.points.push({ name, value, dimensions });
  }
}

/** A client over a TestProvider; `released` counts backend releases. */
export function testClient(): { client: AppRekeyClient; provider: TestProvider; metrics: RecordedMetrics; released: () => number } {
  const provider = new TestProvider();
  const metrics = new RecordedMetrics();
  const decryptMetrics = new DecryptMetrics(metrics);
  let released = 0;
  const client = new AppRekeyClient({
    envelopes: new EnvelopeClient(provider, { observer: decryptMetrics }),
    decryptMetrics,
    release: () => {
      released += 1;
    },
  });
  return { client, provider, metrics, released: () => released };
}
