/**
 * Alarms and the dashboard. Metrics come from the functions' EMF output (names in
 * shared/vocabulary/metric-names.ts, namespace `Rekey`), each data point with exactly the
 * dimensions it names and no implicit `service` (shared/lambda/rekey-metrics.ts).
 *
 * Each alarm's period and evaluation follow the cadence its metric arrives at (./alarm-cadence):
 * events over 5 minutes, scheduled gauges over their schedule's interval. Gauges published per
 * keyring (`BreakerTripped`, `OldestReferencedVersionAge`, `EscrowDrillFailures`, dimensions
 * exactly `keyring`) alarm on the exact metric; metrics whose dimension set varies (per version,
 * per error code) alarm on a Metrics Insights query, which sums every dimension set matching its
 * WHERE. The dashboard breaks the same queries down by version.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRIC_NAMESPACE } from '../../shared/vocabulary/metric-names';
import type { ResolvedKeyring, Sensitivity } from '../props';
import { type AlarmCadence, SQS_METRIC_INTERVAL_SECONDS, evaluationProps, eventCadence, gaugeCadence } from './alarm-cadence';

/** Props of {@link Monitoring}. */
export interface MonitoringProps {
  readonly topic: sns.ITopic;
  readonly keyrings: readonly ResolvedKeyring[];
  /** Every dead-letter or failure queue, by a readable name. */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** Every function, by its rekey name (the `function` dimension of `HandlerFailures`). */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly sweep: sfn.IStateMachine;
  /** Seconds between sweeps of a target (the re-encryption lag rotation may accumulate). */
  readonly sweepEverySeconds: number;
  /** Seconds between grace-period runs per keyring: the cadence of the breaker and age gauges. */
  readonly gracePeriodEverySeconds: number;
  /** Seconds between escrow drills per keyring: the cadence of `EscrowDrillFailures`. */
  readonly escrowDrillEverySeconds: number;
  readonly dashboardName: string;
}

/** Decrypt failures per 5 minutes that raise the alarm, by sensitivity. */
export const DECRYPT_FAILURE_THRESHOLD: Readonly<Record<Sensitivity, number>> = { low: 25, moderate: 5, high: 1 };

/** Consecutive grace-period runs that must find rotation overdue before the alarm fires. */
export const ROTATION_OVERDUE_RUNS = 2;

/** The runbook of every alarm: docs/deploy.md's alarm section, which links the operations runbook. */
export const ALARM_RUNBOOK = 'docs/deploy.md#8-alarms-and-what-to-do';
/** Runbook sections in docs/operations.md that alarm descriptions point at. */
export const RUNBOOK_SECTIONS = {
  sweep: 'docs/operations.md#recover-from-a-failed-or-interrupted-sweep',
  escrow: 'docs/operations.md#restore-from-escrow',
  freeze: 'docs/operations.md#freeze--unfreeze-during-an-incident',
  revoke: 'docs/operations.md#emergency-revocation',
  status: 'docs/operations.md#reading-status',
} as const;

/** One alarm with the cadence it was built for, so tests can check one against the other. */
export interface MonitoredAlarm {
  /** Construct id of the alarm inside the Monitoring construct. */
  readonly id: string;
  readonly alarm: cloudwatch.Alarm;
  readonly cadence: AlarmCadence;
}

const EVENT_PERIOD = (c: AlarmCadence): Duration => Duration.seconds(c.periodSeconds);

function insights(label: string, select: string, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: select, usingMetrics: {}, period, label });
}

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The alarms of the stack, all notifying one topic, and the dashboard.
 *
 * @example
 * new Monitoring(this, 'Monitoring', { topic, keyrings, queues, functions, sweep, sweepEverySeconds: 86400, gracePeriodEverySeconds: 900, escrowDrillEverySeconds: 86400, dashboardName: 'rekey' });
 */
export class Monitoring extends Construct {
  /** Every alarm, in creation order. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** Every alarm with the cadence of its metric. */
  public readonly monitored: MonitoredAlarm[] = [];
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const notify = new actions.SnsAction(props.topic);
    const add = (alarmId: string, cadence: AlarmCadence, alarmProps: Omit<cloudwatch.AlarmProps, 'evaluationPeriods'>): cloudwatch.Alarm => {
      const alarm = new cloudwatch.Alarm(this, alarmId, { ...alarmProps, ...evaluationProps(cadence) });
      alarm.addAlarmAction(notify);
      this.alarms.push(alarm);
      this.monitored.push({ id: alarmId, alarm, cadence });
      return alarm;
    };
    const atLeastOnce = { threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD };

    const queueCadence = eventCadence('metric', SQS_METRIC_INTERVAL_SECONDS);
    for (const [name, queue] of Object.entries(props.queues)) {
      add(`DlqNotEmpty-${name}`, queueCadence, {
        alarmDescription: `rekey: ${name} holds failed events; inspect, fix the cause, then redrive (${ALARM_RUNBOOK}).`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: EVENT_PERIOD(queueCadence), statistic: 'Maximum' }),
        ...atLeastOnce,
      });
    }
    const lambdaCadence = eventCadence('metric');
    const failureCadence = eventCadence('metrics-insights');
    for (const [name, fn] of Object.entries(props.functions)) {
      add(`FunctionErrors-${name}`, lambdaCadence, {
        alarmDescription: `rekey: the ${name} function failed (an error, a timeout, or a deployment fault such as access denied); see its logs (${ALARM_RUNBOOK}).`,
        metric: fn.metricErrors({ period: EVENT_PERIOD(lambdaCadence), statistic: 'Sum' }),
        ...atLeastOnce,
      });
      // Refusals answered with { ok: false } succeed as invocations: only this metric sees them.
      add(`HandlerFailures-${name}`, failureCadence, {
        alarmDescription: `rekey: the ${name} function refused a request it cannot carry out (HandlerFailures, by code); see its logs (${ALARM_RUNBOOK}).`,
        metric: insights(
          `${name} handler failures`,
          `SELECT SUM(${METRIC.handlerFailures}) FROM "${METRIC_NAMESPACE}" WHERE "function" = ${quote(name)}`,
          EVENT_PERIOD(failureCadence),
        ),
        ...atLeastOnce,
      });
    }

    const sweepCadence = eventCadence('metric');
    add('SweepStalled', sweepCadence, {
      alarmDescription: `rekey: a re-encryption sweep failed, timed out or was aborted; it resumes from its checkpoint when restarted (${RUNBOOK_SECTIONS.sweep}).`,
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: props.sweep.metricFailed({ statistic: 'Sum' }),
          timedOut: props.sweep.metricTimedOut({ statistic: 'Sum' }),
          aborted: props.sweep.metricAborted({ statistic: 'Sum' }),
        },
        period: EVENT_PERIOD(sweepCadence),
        label: 'sweeps not completed',
      }),
      ...atLeastOnce,
    });

    const rows: cloudwatch.IWidget[][] = [];
    const breakerCadence = gaugeCadence(props.gracePeriodEverySeconds, 1);
    const ageCadence = gaugeCadence(props.gracePeriodEverySeconds, ROTATION_OVERDUE_RUNS);
    const drillCadence = gaugeCadence(props.escrowDrillEverySeconds, 1);
    const decryptCadence = eventCadence('metrics-insights');
    // Metrics Insights: the sweep worker counts by {keyring}, revoke's inline sweep by {keyring, version}; a single-metric alarm would see only one of them.
    const itemsCadence = eventCadence('metrics-insights');
    const gauge = (name: string, keyring: string, cadence: AlarmCadence, statistic: string): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName: name, dimensionsMap: { keyring }, statistic, period: Duration.seconds(cadence.periodSeconds) });
    for (const k of props.keyrings) {
      const where = `WHERE keyring = ${quote(k.name)}`;
      add(`DecryptFailures-${k.name}`, decryptCadence, {
        alarmDescription: `rekey: decrypt failures on keyring ${k.name} (sensitivity ${k.sensitivity}); the dashboard shows which version (${RUNBOOK_SECTIONS.freeze}, ${RUNBOOK_SECTIONS.revoke}).`,
        metric: insights(`${k.name} decrypt failures`, `SELECT SUM(${METRIC.decryptFailures}) FROM "${METRIC_NAMESPACE}" ${where}`, EVENT_PERIOD(decryptCadence)),
        threshold: DECRYPT_FAILURE_THRESHOLD[k.sensitivity],
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
      add(`SweepItemsFailed-${k.name}`, itemsCadence, {
        alarmDescription: `rekey: sweep items of keyring ${k.name} failed for good (they stay on their old version); the map run's results name them (${RUNBOOK_SECTIONS.sweep}).`,
        metric: insights(`${k.name} sweep items failed`, `SELECT SUM(${METRIC.sweepFailed}) FROM "${METRIC_NAMESPACE}" ${where}`, EVENT_PERIOD(itemsCadence)),
        ...atLeastOnce,
      });
      // Data may lawfully sit on a version for rotateEvery + propagation + grace, plus one sweep
      // cycle to move it; older means rotation (or the re-encryption it relies on) is overdue.
      const allowedAge = k.policy.rotateEverySeconds + k.policy.propagationSeconds + k.policy.graceSeconds + props.sweepEverySeconds + 3600;
      add(`RotationOverdue-${k.name}`, ageCadence, {
        alarmDescription: `rekey: data on keyring ${k.name} is older than its policy allows (${allowedAge} s); check the breaker, freezes and the rotate function (${RUNBOOK_SECTIONS.status}).`,
        metric: gauge(METRIC.oldestReferencedVersionAge, k.name, ageCadence, 'Maximum'),
        threshold: allowedAge,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      add(`BreakerTripped-${k.name}`, breakerCadence, {
        alarmDescription: `rekey: the circuit breaker paused automatic transitions of keyring ${k.name}; rotation waits until it resets (${RUNBOOK_SECTIONS.status}).`,
        metric: gauge(METRIC.breakerTripped, k.name, breakerCadence, 'Maximum'),
        ...atLeastOnce,
      });
      add(`EscrowDrillFailed-${k.name}`, drillCadence, {
        alarmDescription: `rekey: the escrow restore drill of keyring ${k.name} could not restore at least one version from escrow alone (${RUNBOOK_SECTIONS.escrow}).`,
        metric: gauge(METRIC.escrowDrillFailures, k.name, drillCadence, 'Maximum'),
        ...atLeastOnce,
      });
      rows.push(...keyringWidgets(k, where, allowedAge));
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      widgets: [[new cloudwatch.AlarmStatusWidget({ title: 'rekey alarms', alarms: [...this.alarms], width: 24, height: 6 })], ...rows],
    });
  }
}

/** The dashboard rows of one keyring. */
function keyringWidgets(k: ResolvedKeyring, where: string, allowedAge: number): cloudwatch.IWidget[][] {
  const period = Duration.minutes(5);
  const byVersion = (metric: string, stat: string): cloudwatch.MathExpression =>
    insights(`${k.name} ${metric}`, `SELECT ${stat}(${metric}) FROM "${METRIC_NAMESPACE}" ${where} GROUP BY version`, period);
  const sum = (label: string, metric: string): cloudwatch.MathExpression => insights(`${k.name} ${label}`, `SELECT SUM(${metric}) FROM "${METRIC_NAMESPACE}" ${where}`, period);
  return [
    [new cloudwatch.TextWidget({ markdown: `### keyring \`${k.name}\` (rotate every ${k.policy.rotateEverySeconds / 86_400} d, sensitivity ${k.sensitivity})`, width: 24, height: 1 })],
    [
      new cloudwatch.GraphWidget({ title: `${k.name}: records by version`, left: [byVersion(METRIC.recordsByVersion, 'MAX')], width: 8, stacked: true }),
      new cloudwatch.GraphWidget({ title: `${k.name}: cache entries by version`, left: [byVersion(METRIC.cacheEntriesByVersion, 'MAX')], width: 8, stacked: true }),
      new cloudwatch.GraphWidget({ title: `${k.name}: decrypt failures by version`, left: [byVersion(METRIC.decryptFailures, 'SUM')], width: 8 }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: `${k.name}: sweep progress`,
        left: [sum('done', METRIC.sweepDone), sum('skipped', METRIC.sweepSkipped), sum('failed', METRIC.sweepFailed)],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: `${k.name}: oldest referenced version age (s)`,
        left: [insights(`${k.name} age`, `SELECT MAX(${METRIC.oldestReferencedVersionAge}) FROM "${METRIC_NAMESPACE}" ${where}`, period)],
        leftAnnotations: [{ value: allowedAge, label: 'overdue above', color: cloudwatch.Color.RED }],
        width: 12,
      }),
    ],
  ];
}
