/**
 * Alarms and the dashboard. Per-version metrics come from the functions' EMF output (names in
 * shared/runtime/metric-names.ts, namespace `Rekey`, dimensions `keyring` and `version`); the
 * alarms over them use CloudWatch Metrics Insights queries, which sum every version (and any
 * extra dimension such as Powertools' `service`) of one keyring, while the dashboard breaks the
 * same queries down by version.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRIC_NAMESPACE } from '../../shared/runtime/metric-names';
import type { ResolvedKeyring, Sensitivity } from '../props';

/** Props of {@link Monitoring}. */
export interface MonitoringProps {
  readonly topic: sns.ITopic;
  readonly keyrings: readonly ResolvedKeyring[];
  /** Every dead-letter or failure queue, by a readable name. */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** Every function, by its rekey name. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly sweep: sfn.IStateMachine;
  /** Seconds between sweeps of a target (the re-encryption lag rotation may accumulate). */
  readonly sweepEverySeconds: number;
  readonly dashboardName: string;
}

/** Decrypt failures per 5 minutes that raise the alarm, by sensitivity. */
export const DECRYPT_FAILURE_THRESHOLD: Readonly<Record<Sensitivity, number>> = { low: 25, moderate: 5, high: 1 };

const PERIOD = Duration.minutes(5);

function insights(label: string, select: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: select, usingMetrics: {}, period: PERIOD, label });
}

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The alarms of the stack, all notifying one topic, and the dashboard.
 *
 * @example
 * new Monitoring(this, 'Monitoring', { topic, keyrings, queues, functions, sweep, sweepEverySeconds: 86400, dashboardName: 'rekey' });
 */
export class Monitoring extends Construct {
  /** Every alarm, by construct id. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const notify = new actions.SnsAction(props.topic);
    const add = (alarmId: string, alarmProps: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const alarm = new cloudwatch.Alarm(this, alarmId, alarmProps);
      alarm.addAlarmAction(notify);
      this.alarms.push(alarm);
      return alarm;
    };

    for (const [name, queue] of Object.entries(props.queues)) {
      add(`DlqNotEmpty-${name}`, {
        alarmDescription: `rekey: ${name} holds failed events; inspect, fix the cause, then redrive (docs/runbook.md).`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      add(`FunctionErrors-${name}`, {
        alarmDescription: `rekey: the ${name} function failed.`,
        metric: fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    add('SweepStalled', {
      alarmDescription: 'rekey: a re-encryption sweep failed, timed out or was aborted; it resumes from its checkpoint when restarted.',
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: props.sweep.metricFailed({ statistic: 'Sum' }),
          timedOut: props.sweep.metricTimedOut({ statistic: 'Sum' }),
          aborted: props.sweep.metricAborted({ statistic: 'Sum' }),
        },
        period: PERIOD,
        label: 'sweeps not completed',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    add('EscrowDrillFailed', {
      alarmDescription: 'rekey: the escrow restore drill could not restore at least one version from escrow alone.',
      metric: insights('escrow drill failures', `SELECT SUM(${METRIC.escrowDrillFailures}) FROM "${METRIC_NAMESPACE}"`),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const rows: cloudwatch.IWidget[][] = [];
    for (const k of props.keyrings) {
      const where = `WHERE keyring = ${quote(k.name)}`;
      add(`DecryptFailures-${k.name}`, {
        alarmDescription: `rekey: decrypt failures on keyring ${k.name} (sensitivity ${k.sensitivity}); the dashboard shows which version.`,
        metric: insights(`${k.name} decrypt failures`, `SELECT SUM(${METRIC.decryptFailures}) FROM "${METRIC_NAMESPACE}" ${where}`),
        threshold: DECRYPT_FAILURE_THRESHOLD[k.sensitivity],
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      // Data may lawfully sit on a version for rotateEvery + propagation + grace, plus one sweep
      // cycle to move it; older means rotation (or the re-encryption it relies on) is overdue.
      const allowedAge = k.policy.rotateEverySeconds + k.policy.propagationSeconds + k.policy.graceSeconds + props.sweepEverySeconds + 3600;
      add(`RotationOverdue-${k.name}`, {
        alarmDescription: `rekey: data on keyring ${k.name} is older than its policy allows (${allowedAge} s); check the breaker, freezes and the rotate function.`,
        metric: insights(`${k.name} oldest referenced version age`, `SELECT MAX(${METRIC.oldestReferencedVersionAge}) FROM "${METRIC_NAMESPACE}" ${where}`),
        threshold: allowedAge,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      add(`BreakerTripped-${k.name}`, {
        alarmDescription: `rekey: the circuit breaker paused automatic transitions of keyring ${k.name}; rotation waits until it resets.`,
        metric: insights(`${k.name} breaker`, `SELECT MAX(${METRIC.breakerTripped}) FROM "${METRIC_NAMESPACE}" ${where}`),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

      const byVersion = (metric: string, stat: string): cloudwatch.MathExpression =>
        insights(`${k.name} ${metric}`, `SELECT ${stat}(${metric}) FROM "${METRIC_NAMESPACE}" ${where} GROUP BY version`);
      rows.push([
        new cloudwatch.TextWidget({ markdown: `### keyring \`${k.name}\` (rotate every ${k.policy.rotateEverySeconds / 86_400} d, sensitivity ${k.sensitivity})`, width: 24, height: 1 }),
      ]);
      rows.push([
        new cloudwatch.GraphWidget({ title: `${k.name}: records by version`, left: [byVersion(METRIC.recordsByVersion, 'MAX')], width: 8, stacked: true }),
        new cloudwatch.GraphWidget({ title: `${k.name}: cache entries by version`, left: [byVersion(METRIC.cacheEntriesByVersion, 'MAX')], width: 8, stacked: true }),
        new cloudwatch.GraphWidget({ title: `${k.name}: decrypt failures by version`, left: [byVersion(METRIC.decryptFailures, 'SUM')], width: 8 }),
      ]);
      rows.push([
        new cloudwatch.GraphWidget({
          title: `${k.name}: sweep progress`,
          left: [
            insights(`${k.name} done`, `SELECT SUM(${METRIC.sweepDone}) FROM "${METRIC_NAMESPACE}" ${where}`),
            insights(`${k.name} skipped`, `SELECT SUM(${METRIC.sweepSkipped}) FROM "${METRIC_NAMESPACE}" ${where}`),
            insights(`${k.name} failed`, `SELECT SUM(${METRIC.sweepFailed}) FROM "${METRIC_NAMESPACE}" ${where}`),
          ],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: `${k.name}: oldest referenced version age (s)`,
          left: [insights(`${k.name} age`, `SELECT MAX(${METRIC.oldestReferencedVersionAge}) FROM "${METRIC_NAMESPACE}" ${where}`)],
          leftAnnotations: [{ value: allowedAge, label: 'overdue above', color: cloudwatch.Color.RED }],
          width: 12,
        }),
      ]);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      widgets: [[new cloudwatch.AlarmStatusWidget({ title: 'rekey alarms', alarms: [...this.alarms], width: 24, height: 6 })], ...rows],
    });
  }
}
