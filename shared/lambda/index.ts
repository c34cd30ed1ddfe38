/**
 * The Lambda kit as applications use it beside their EnvelopeClient: decrypt metrics (what the
 * circuit breaker reads), the Powertools metrics publisher they flush through, and the logger
 * with rekey's redaction guard. rekey's own functions import the kit's modules directly.
 */
export { DecryptMetrics, UNPARSEABLE } from './decrypt-metrics';
export { PowertoolsMetricsPublisher } from './rekey-metrics';
export type { MetricDimensions, MetricsPublisher, RekeyMetricUnit } from './rekey-metrics';
export { createLogger } from './create-logger';
export type { CreateLoggerOptions } from './create-logger';
