/**
 * MetricsPublisher: where use cases publish their data points. On Lambda it is Powertools
 * Metrics (CloudWatch EMF, shared/lambda/rekey-metrics.ts); the CLI passes a publisher that
 * drops them (a one-shot process has nowhere to send them).
 */

/** The units rekey uses. */
export type RekeyMetricUnit = 'Count' | 'Seconds' | 'Milliseconds' | 'None';

/** Dimensions of one data point. */
export interface MetricDimensions {
  readonly keyring?: string;
  readonly version?: number;
  readonly [name: string]: string | number | undefined;
}

/** Port through which use cases and handlers publish metrics. */
export interface MetricsPublisher {
  /** Publishes one data point of `name` with `dimensions`. */
  put(name: string, value: number, dimensions?: MetricDimensions, unit?: RekeyMetricUnit): void;
}
