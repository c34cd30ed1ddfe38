/**
 * How each alarm's period, evaluation periods, datapoints-to-alarm and missing-data treatment
 * follow from the cadence its metric arrives at. Two kinds of metric reach rekey's alarms:
 *
 * - *events* (a failure, an error, a DLQ message): data points exist only when something
 *   happened. A 5-minute period of Sum (or Maximum) over them, one breaching period alarms, and
 *   a missing period is "nothing happened" (notBreaching).
 * - *gauges published on a schedule* (breaker state and oldest referenced version age by the
 *   grace-period reconciler, drill failures by the escrow drill): one data point per keyring per
 *   run. The period is the run interval, so every period holds exactly one point, and a period
 *   without one (a late or skipped run) keeps the alarm's state (ignore) instead of flapping to
 *   OK between runs or never collecting enough points.
 *
 * CloudWatch bounds the window: period x evaluation periods at most one day for a metric alarm
 * (PutMetricAlarm, "EvaluationPeriods"), at most three hours for an alarm on a Metrics Insights
 * query (CloudWatch User Guide, "Limits": "Only the latest 3 hours of data can be used for
 * evaluating the alarm's conditions"). Gauges therefore alarm on the exact metric (their
 * dimension set is exactly `keyring`, see shared/lambda/rekey-metrics.ts), not on a query.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** Period of every event alarm. */
export const EVENT_PERIOD_SECONDS = 300;

/** Longest evaluation window of an alarm on one metric (or metric math). */
export const METRIC_ALARM_WINDOW_SECONDS = 86_400;

/** Longest evaluation window of an alarm on a Metrics Insights query. */
export const INSIGHTS_ALARM_WINDOW_SECONDS = 3 * 3600;

/** Seconds between the data points of SQS's queue metrics (pushed at one-minute intervals). */
export const SQS_METRIC_INTERVAL_SECONDS = 60;

/** What an alarm expects of its metric, and the evaluation settings derived from it. */
export interface AlarmCadence {
  /** `event` (points only when something happens) or `gauge` (one point every `metricEverySeconds`). */
  readonly kind: 'event' | 'gauge';
  /** Seconds between data points of a gauge, or the finest resolution of an event metric. */
  readonly metricEverySeconds: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: cloudwatch.TreatMissingData;
  /** Whether the alarm reads a Metrics Insights query (three-hour window) or a metric. */
  readonly source: 'metrics-insights' | 'metric';
}

/**
 * The cadence of an alarm over an event metric.
 *
 * @example
 * eventCadence('metric', 60).periodSeconds; // 300
 */
export function eventCadence(source: AlarmCadence['source'], metricEverySeconds = 60): AlarmCadence {
  return {
    kind: 'event',
    metricEverySeconds,
    periodSeconds: EVENT_PERIOD_SECONDS,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    source,
  };
}

/**
 * The cadence of an alarm over a gauge published every `everySeconds`, alarming after
 * `consecutive` breaching runs (fewer when the window would exceed CloudWatch's one-day bound).
 *
 * @example
 * gaugeCadence(900, 2); // period 900, 2 of 2, missing data ignored
 */
export function gaugeCadence(everySeconds: number, consecutive: number): AlarmCadence {
  const periodSeconds = Math.min(Math.max(60, Math.round(everySeconds / 60) * 60), METRIC_ALARM_WINDOW_SECONDS);
  const evaluationPeriods = Math.max(1, Math.min(consecutive, Math.floor(METRIC_ALARM_WINDOW_SECONDS / periodSeconds)));
  return {
    kind: 'gauge',
    metricEverySeconds: everySeconds,
    periodSeconds,
    evaluationPeriods,
    datapointsToAlarm: evaluationPeriods,
    treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    source: 'metric',
  };
}

/** The evaluation settings of `cadence`, as Alarm props. */
export function evaluationProps(cadence: AlarmCadence): Pick<cloudwatch.AlarmProps, 'evaluationPeriods' | 'datapointsToAlarm' | 'treatMissingData'> {
  return { evaluationPeriods: cadence.evaluationPeriods, datapointsToAlarm: cadence.datapointsToAlarm, treatMissingData: cadence.treatMissingData };
}
