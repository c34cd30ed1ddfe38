/**
 * rekey's metrics on Powertools Metrics (CloudWatch EMF, namespace `Rekey`). Every data point is
 * emitted with exactly the dimensions it names (`keyring`, and `version` where the metric is
 * per version; no implicit `service`), so alarms, the dashboard and the circuit breaker's
 * GetMetricData can address it by those dimensions alone.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE } from '../vocabulary/metric-names';
import type { MetricDimensions, MetricsPublisher, RekeyMetricUnit } from '../ports/metrics-publisher';

// The port lives in shared/ports; the kit's other modules still name it here.
export type { MetricDimensions, MetricsPublisher, RekeyMetricUnit };

const UNITS: Record<RekeyMetricUnit, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Count: MetricUnit.Count,
  Seconds: MetricUnit.Seconds,
  Milliseconds: MetricUnit.Milliseconds,
  None: MetricUnit.NoUnit,
};

/**
 * Publishes data points through Powertools Metrics as EMF lines on stdout.
 *
 * @example
 * const metrics = new PowertoolsMetricsPublisher({ serviceName: 'escrow' });
 * metrics.put('EscrowDrillFailures', 0, { keyring: 'payments' });
 */
export class PowertoolsMetricsPublisher implements MetricsPublisher {
  private readonly metrics: Metrics;

  public constructor(options: { serviceName: string; metrics?: Metrics }) {
    this.metrics = options.metrics ?? new Metrics({ namespace: METRIC_NAMESPACE, serviceName: options.serviceName });
  }

  public put(name: string, value: number, dimensions: MetricDimensions = {}, unit: RekeyMetricUnit = 'Count'): void {
    if (!Number.isFinite(value)) return;
    // A single-metric instance flushes on addMetric, so each point carries its own dimension set.
    const point = this.metrics.singleMetric();
    point.clearDefaultDimensions();
    for (const [dim, dimValue] of Object.entries(dimensions)) {
      if (dimValue !== undefined) point.addDimension(dim, String(dimValue));
    }
    point.addMetric(name, UNITS[unit], value);
  }
}
