/**
 * Alarms as synthesized: each one's period and evaluation against the cadence its metric arrives
 * at, gauge alarms against the exact dimension set the functions' EMF carries, the topic policy
 * that lets CloudWatch publish, and the runbook links in the alarm descriptions.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { INSIGHTS_ALARM_WINDOW_SECONDS, METRIC_ALARM_WINDOW_SECONDS, EVENT_PERIOD_SECONDS } from '../../infra/constructs/alarm-cadence';
import { ROTATION_OVERDUE_RUNS, type MonitoredAlarm } from '../../infra/constructs/monitoring';
import type { RekeyStack } from '../../infra/rekey-stack';
import { METRIC } from '../../shared/vocabulary/metric-names';
import { PowertoolsMetricsPublisher } from '../../shared/lambda/rekey-metrics';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type AlarmProps = {
  Period?: number;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  TreatMissingData?: string;
  Dimensions?: { Name: string; Value: string }[];
  MetricName?: string;
  Metrics?: { Period?: number; Expression?: string; MetricStat?: { Period: number } }[];
  AlarmDescription: string;
};

function alarmProps(stack: RekeyStack, template: Template, m: MonitoredAlarm): AlarmProps {
  const logicalId = stack.getLogicalId(m.alarm.node.defaultChild as CfnElement);
  return (template.toJSON() as { Resources: Record<string, { Properties: AlarmProps }> }).Resources[logicalId]?.Properties as AlarmProps;
}

/** The period an alarm evaluates: its own, or that of its query / math expression. */
function periodOf(p: AlarmProps): number | undefined {
  return p.Period ?? p.Metrics?.map((x) => x.Period ?? x.MetricStat?.Period).find((x) => x !== undefined);
}

/** The dimension names of one EMF line the functions' publisher writes for `put(name, 1, dims)`. */
function emittedDimensions(name: string, dims: Record<string, string>): string[][] {
  const lines: string[] = [];
  const write = process.stdout.write;
  const log = console.log;
  process.stdout.write = ((chunk: unknown) => lines.push(String(chunk)) > 0) as typeof process.stdout.write;
  console.log = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  try {
    new PowertoolsMetricsPublisher({ serviceName: 'rekey-grace-period' }).put(name, 1, dims);
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
  const emf = lines.map((l) => JSON.parse(l) as { _aws?: { CloudWatchMetrics: { Dimensions: string[][] }[] } }).find((l) => l._aws !== undefined);
  return emf?._aws?.CloudWatchMetrics[0]?.Dimensions ?? [];
}

describe('Monitoring', () => {
  let stack: RekeyStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthStack(FULL_CONFIG));
  });

  describe('alarm cadence', () => {
    it('renders every alarm with the period and evaluation its cadence prescribes', () => {
      // Prepare
      const monitored = stack.monitoring.monitored;
      // Act
      const rendered = monitored.map((m) => ({ m, p: alarmProps(stack, template, m) }));
      // Assess
      expect(monitored.length).toBe(Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length);
      for (const { m, p } of rendered) {
        expect({ id: m.id, period: periodOf(p), evaluationPeriods: p.EvaluationPeriods, datapointsToAlarm: p.DatapointsToAlarm, treatMissingData: p.TreatMissingData }).toEqual({
          id: m.id,
          period: m.cadence.periodSeconds,
          evaluationPeriods: m.cadence.evaluationPeriods,
          datapointsToAlarm: m.cadence.datapointsToAlarm,
          treatMissingData: m.cadence.treatMissingData,
        });
      }
    });

    it('fits every alarm window into what CloudWatch evaluates, and every gauge period holds a data point', () => {
      // Prepare
      const monitored = stack.monitoring.monitored;
      // Act
      const windows = monitored.map((m) => ({ m, window: m.cadence.periodSeconds * m.cadence.evaluationPeriods }));
      // Assess
      for (const { m, window } of windows) {
        expect(window).toBeLessThanOrEqual(m.cadence.source === 'metrics-insights' ? INSIGHTS_ALARM_WINDOW_SECONDS : METRIC_ALARM_WINDOW_SECONDS);
        if (m.cadence.kind === 'gauge') {
          // One point per run: a period as long as the run interval (capped at a day), and a
          // period without one keeps the state instead of flapping to OK.
          expect(m.cadence.periodSeconds).toBe(Math.min(m.cadence.metricEverySeconds, METRIC_ALARM_WINDOW_SECONDS));
          expect(m.cadence.treatMissingData).toBe('ignore');
        } else {
          expect(m.cadence.periodSeconds).toBe(EVENT_PERIOD_SECONDS);
          expect(m.cadence.periodSeconds % m.cadence.metricEverySeconds).toBe(0);
          expect(m.cadence.treatMissingData).toBe('notBreaching');
        }
      }
    });

    it('evaluates the breaker, age and drill gauges over the schedule intervals of the configuration', () => {
      // Prepare
      const { stack: custom } = synthStack({ ...FULL_CONFIG, schedules: { gracePeriod: '30m', escrowDrill: '12h' } });
      // Act
      const byId = new Map(custom.monitoring.monitored.map((m) => [m.id, m.cadence]));
      // Assess
      expect(byId.get('BreakerTripped-pii')).toMatchObject({ kind: 'gauge', metricEverySeconds: 1800, periodSeconds: 1800, evaluationPeriods: 1, datapointsToAlarm: 1 });
      expect(byId.get('RotationOverdue-pii')).toMatchObject({ periodSeconds: 1800, evaluationPeriods: ROTATION_OVERDUE_RUNS, datapointsToAlarm: ROTATION_OVERDUE_RUNS });
      expect(byId.get('EscrowDrillFailed-ops')).toMatchObject({ metricEverySeconds: 43_200, periodSeconds: 43_200, evaluationPeriods: 1 });
      // The default configuration: grace period every 15 minutes, drill daily.
      const defaults = new Map(stack.monitoring.monitored.map((m) => [m.id, m.cadence]));
      expect(defaults.get('BreakerTripped-ops')?.periodSeconds).toBe(stack.config.schedules.gracePeriod);
      expect(defaults.get('EscrowDrillFailed-pii')?.periodSeconds).toBe(stack.config.schedules.escrowDrill);
    });

    it('addresses each gauge by exactly the dimension set the functions emit it with', () => {
      // Prepare
      const gauges = stack.monitoring.monitored.filter((m) => m.cadence.kind === 'gauge');
      // Act
      const rendered = gauges.map((m) => alarmProps(stack, template, m));
      // Assess
      expect(gauges.length).toBe(3 * FULL_CONFIG.keyrings.length);
      for (const p of rendered) {
        const keyring = p.Dimensions?.find((d) => d.Name === 'keyring')?.Value as string;
        expect(emittedDimensions(p.MetricName as string, { keyring })).toEqual([(p.Dimensions ?? []).map((d) => d.Name)]);
      }
    });

    it('alarms on HandlerFailures of every function, summed over codes in one query per function', () => {
      // Prepare
      const failures = stack.monitoring.monitored.filter((m) => m.id.startsWith('HandlerFailures-'));
      // Act
      const expressions = failures.map((m) => alarmProps(stack, template, m).Metrics?.[0]?.Expression);
      // Assess
      expect(failures.map((m) => m.id.slice('HandlerFailures-'.length)).sort()).toEqual(Object.keys(stack.functions).sort());
      expect(emittedDimensions(METRIC.handlerFailures, { function: 'rotate', code: 'ACCESS_DENIED' })).toEqual([['function', 'code']]);
      expect(expressions).toContain(`SELECT SUM(HandlerFailures) FROM "Rekey" WHERE "function" = 'rotate'`);
      for (const m of failures) expect(m.cadence).toMatchObject({ kind: 'event', source: 'metrics-insights', periodSeconds: 300, evaluationPeriods: 1 });
    });
  });

  describe('alarm topic', () => {
    it('lets CloudWatch alarms of this account publish to the topic', () => {
      // Prepare
      const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy')) as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }[];
      // Act
      const allow = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).find((s) => JSON.stringify(s['Principal']).includes('cloudwatch.amazonaws.com'));
      // Assess
      expect(allow).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } });
      expect(JSON.stringify(allow?.['Condition'])).toContain(':alarm:*');
      expect(JSON.stringify(allow?.['Condition'])).toContain('ArnLike');
    });

    it('lets CloudWatch use the topic key for the encrypted topic', () => {
      // Prepare
      const keys = Object.values(template.findResources('AWS::KMS::Key')) as { Properties: { KeyPolicy: { Statement: Record<string, unknown>[] } } }[];
      // Act
      const statement = keys.flatMap((k) => k.Properties.KeyPolicy.Statement).find((s) => s['Sid'] === 'CloudWatchAlarmsPublish');
      // Assess
      expect(statement).toMatchObject({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] });
    });
  });

  describe('runbook links', () => {
    it('points every alarm description at a document and section that exist', () => {
      // Prepare
      const descriptions = stack.monitoring.monitored.map((m) => alarmProps(stack, template, m).AlarmDescription);
      const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
      // Act
      const links = descriptions.flatMap((d) => [...d.matchAll(/(docs\/[\w.-]+\.md)(?:#([\w-]+))?/g)].map((x) => ({ file: x[1] as string, anchor: x[2] })));
      // Assess
      expect(links.length).toBeGreaterThanOrEqual(descriptions.length);
      for (const { file, anchor } of links) {
        const path = join(__dirname, '..', '..', file);
        expect({ file, exists: existsSync(path) }).toEqual({ file, exists: true });
        const anchors = readFileSync(path, 'utf8').split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, '')));
        if (anchor !== undefined) expect(anchors).toContain(anchor);
      }
    });
  });
});
