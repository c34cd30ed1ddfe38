/**
 * CloudWatch alarms of the world, evaluated on the simulated clock (rule: ./alarm-evaluation.ts),
 * and their SNS actions.
 * - Metric values: single-metric alarms (Namespace, MetricName, exact Dimensions, Statistic or
 *   ExtendedStatistic pNN) and `Metrics` alarms (MetricStat entries, arithmetic expressions,
 *   Metrics Insights SELECT expressions: ./metrics-insights.ts). AWS/SQS
 *   ApproximateNumberOfMessagesVisible comes from `queueDepth`, sampled at each evaluation (SQS
 *   itself samples the queue and publishes the metric).
 * - Actions: on a state change CloudWatch publishes to each SNS ARN of the new state's actions as
 *   the service principal cloudwatch.amazonaws.com: the topic policy must allow sns:Publish
 *   (aws:SourceArn = the alarm ARN, aws:SourceAccount), and for an SSE-KMS topic the key policy
 *   must allow kms:GenerateDataKey* and kms:Decrypt ("Enable compatibility between event sources
 *   from AWS services and encrypted topics", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
 * - The message is the alarm notification JSON (AlarmName, AlarmDescription, AWSAccountId,
 *   NewStateValue, NewStateReason, StateChangeTime, Region, AlarmArn, OldStateValue, Trigger), as
 *   in aws-lambda-go's events/testdata/cloudwatch-alarm-sns-payload-single-metric.json; subject
 *   `ALARM: "<name>" in <region name>`.
 */
import type { RequestAuthorizer, TwinPrincipal } from '../authz/types';
import type { SimClock, TwinAlarm, TwinWorld } from '../world';
import { breaches, canReachAlarm, evaluateRange, evaluationRange, type AlarmState, type ComparisonOperator, type EvaluationRule, type TreatMissingData } from './alarm-evaluation';
import { evaluateArithmetic, isInsightsQuery, parseInsights, runInsights } from './metrics-insights';
import type { MetricDatum, MetricSource, TargetInvoker } from './types';

/** Options of {@link TwinAlarms}. */
export interface TwinAlarmsOptions {
  readonly world: TwinWorld;
  readonly clock: SimClock;
  readonly metrics: MetricSource;
  readonly authorizer: RequestAuthorizer;
  readonly invoker: TargetInvoker;
  /** Current ApproximateNumberOfMessagesVisible of a queue. */
  readonly queueDepth?: (queueArn: string) => Promise<number>;
}

/** One state change. */
export interface AlarmTransition {
  readonly alarm: string;
  readonly at: number;
  readonly from: AlarmState;
  readonly to: AlarmState;
  readonly reason: string;
}

/** One SNS notification CloudWatch attempted. */
export interface AlarmNotification {
  readonly alarm: string;
  readonly topicArn: string;
  readonly at: number;
  readonly state: AlarmState;
  readonly delivered: boolean;
  /** Why it was not delivered (the denying policy's reason, or the publish error). */
  readonly reason?: string;
  readonly subject: string;
  readonly message: string;
}

type Json = Record<string, unknown>;

const CLOUDWATCH: TwinPrincipal = { kind: 'service', service: 'cloudwatch.amazonaws.com' };
const REGION_NAMES: Readonly<Record<string, string>> = { 'us-east-1': 'US East (N. Virginia)', 'us-east-2': 'US East (Ohio)', 'us-west-2': 'US West (Oregon)', 'eu-west-1': 'EU (Ireland)' };

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : fallback;
}

function dims(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of Array.isArray(list) ? (list as Json[]) : []) out[String(d.Name)] = String(d.Value);
  return out;
}

/** Period (s) of an alarm: its Period, or that of its Metrics' return entry / MetricStats. */
export function alarmPeriod(p: Readonly<Json>): number {
  if (p.Period !== undefined) return num(p.Period, 300);
  for (const m of (p.Metrics as Json[] | undefined) ?? []) {
    if (m.Period !== undefined) return num(m.Period, 300);
    const stat = m.MetricStat as Json | undefined;
    if (stat?.Period !== undefined) return num(stat.Period, 300);
  }
  return 300;
}

/** The evaluation rule of an alarm's properties. */
export function alarmRule(p: Readonly<Json>): EvaluationRule {
  const n = num(p.EvaluationPeriods, 1);
  return {
    evaluationPeriods: n,
    datapointsToAlarm: num(p.DatapointsToAlarm, n),
    threshold: num(p.Threshold, 0),
    comparison: String(p.ComparisonOperator) as ComparisonOperator,
    treatMissingData: (p.TreatMissingData ?? 'missing') as TreatMissingData,
  };
}

/**
 * Whether an alarm on a metric that arrives once per `cadenceSeconds` can ever reach ALARM
 * (assuming every datapoint breaches).
 */
export function canAlarmFire(alarm: TwinAlarm, cadenceSeconds: number): boolean {
  return canReachAlarm(alarmRule(alarm.properties), alarmPeriod(alarm.properties), cadenceSeconds);
}

function statistic(stat: string, values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Maximum':
      return sorted[sorted.length - 1];
    case 'Minimum':
      return sorted[0];
    case 'SampleCount':
      return values.length;
  }
  const pct = /^p(\d+(\.\d+)?)$/.exec(stat);
  if (pct) return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((Number(pct[1]) / 100) * sorted.length) - 1))];
  throw new RangeError(`unsupported statistic ${stat}`);
}

/**
 * The twin's CloudWatch alarms.
 *
 * @example
 * const alarms = new TwinAlarms({ world, clock, metrics: store, authorizer, invoker, queueDepth });
 * await alarms.evaluate(); alarms.state('MyAlarm');
 */
export class TwinAlarms {
  public readonly transitions: AlarmTransition[] = [];
  public readonly notifications: AlarmNotification[] = [];
  private readonly states = new Map<string, AlarmState>();
  private readonly samples: MetricDatum[] = [];

  public constructor(private readonly opts: TwinAlarmsOptions) {}

  /** Current state (alarms start in INSUFFICIENT_DATA). */
  public state(name: string): AlarmState {
    return this.states.get(name) ?? 'INSUFFICIENT_DATA';
  }

  /** Notifications CloudWatch could not deliver. */
  public undeliverable(): AlarmNotification[] {
    return this.notifications.filter((n) => !n.delivered);
  }

  /** `arn:aws:cloudwatch:<region>:<account>:alarm:<name>` */
  public alarmArn(name: string): string {
    const w = this.opts.world;
    return `arn:${w.partition}:cloudwatch:${w.region}:${w.account}:alarm:${name}`;
  }

  /** Evaluates every alarm at `at` (default: now), notifying on state changes. */
  public async evaluate(at: number = this.opts.clock.now()): Promise<AlarmTransition[]> {
    await this.sampleQueues(at);
    const out: AlarmTransition[] = [];
    for (const alarm of this.opts.world.alarms.values()) {
      const t = await this.evaluateOne(alarm, at);
      if (t !== undefined) out.push(t);
    }
    return out;
  }

  /** The per-period values (oldest first) an alarm would evaluate at `at`. */
  public series(alarm: TwinAlarm, at: number): (number | undefined)[] {
    const p = alarm.properties;
    const periodMs = alarmPeriod(p) * 1000;
    const slots = evaluationRange(alarmRule(p).evaluationPeriods);
    const end = Math.floor(at / periodMs) * periodMs;
    const out: (number | undefined)[] = [];
    for (let s = slots; s >= 1; s--) out.push(this.valueAt(p, end - s * periodMs, end - (s - 1) * periodMs));
    return out;
  }

  private async sampleQueues(at: number): Promise<void> {
    if (this.opts.queueDepth === undefined) return;
    for (const alarm of this.opts.world.alarms.values()) {
      const p = alarm.properties;
      if (p.Namespace !== 'AWS/SQS' || p.MetricName !== 'ApproximateNumberOfMessagesVisible') continue;
      const name = dims(p.Dimensions).QueueName;
      const queue = [...this.opts.world.queues.values()].find((q) => q.name === name);
      if (queue === undefined || this.samples.some((d) => d.timestamp === at && d.dimensions.QueueName === name)) continue;
      const value = await this.opts.queueDepth(queue.arn);
      this.samples.push({ namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: queue.name }, value, unit: 'Count', timestamp: at });
    }
  }

  private data(namespace: string, name: string, from: number, to: number): MetricDatum[] {
    const own = this.samples.filter((d) => d.namespace === namespace && d.name === name && d.timestamp >= from && d.timestamp < to);
    return [...this.opts.metrics.query({ namespace, name, from, to }), ...own];
  }

  private metricValue(namespace: string, name: string, dimensions: Record<string, string>, stat: string, from: number, to: number): number | undefined {
    const keys = Object.keys(dimensions);
    // A metric is identified by its exact dimension set.
    const values = this.data(namespace, name, from, to)
      .filter((d) => Object.keys(d.dimensions).length === keys.length && keys.every((k) => d.dimensions[k] === dimensions[k]))
      .map((d) => d.value);
    return statistic(stat, values);
  }

  private valueAt(p: Readonly<Json>, from: number, to: number): number | undefined {
    if (p.MetricName !== undefined) {
      return this.metricValue(String(p.Namespace), String(p.MetricName), dims(p.Dimensions), String(p.ExtendedStatistic ?? p.Statistic), from, to);
    }
    const metrics = (p.Metrics as Json[] | undefined) ?? [];
    const byId = new Map(metrics.map((m) => [String(m.Id), m]));
    const resolve = (m: Json): number | undefined => {
      const stat = m.MetricStat as Json | undefined;
      if (stat !== undefined) {
        const metric = stat.Metric as Json;
        return this.metricValue(String(metric.Namespace), String(metric.MetricName), dims(metric.Dimensions), String(stat.Stat), from, to);
      }
      const expression = String(m.Expression ?? '');
      if (isInsightsQuery(expression)) {
        const q = parseInsights(expression);
        if (q.groupBy.length > 0) throw new RangeError(`the twin does not alarm on GROUP BY queries: ${expression}`);
        const all = this.data(q.namespace, q.metric, from, to);
        return runInsights(q, all, from, to).get('');
      }
      const values: Record<string, number | undefined> = {};
      for (const [id, other] of byId) if (other !== m && new RegExp(`\\b${id}\\b`).test(expression)) values[id] = resolve(other);
      return evaluateArithmetic(expression, values);
    };
    const ret = metrics.find((m) => m.ReturnData !== false && m.Expression !== undefined) ?? metrics.find((m) => m.ReturnData !== false) ?? metrics[0];
    return ret === undefined ? undefined : resolve(ret);
  }

  private async evaluateOne(alarm: TwinAlarm, at: number): Promise<AlarmTransition | undefined> {
    const rule = alarmRule(alarm.properties);
    const before = this.state(alarm.name);
    const result = evaluateRange(this.series(alarm, at), rule, before);
    this.states.set(alarm.name, result.state);
    if (result.state === before) return undefined;
    const b = result.evaluated.filter((v) => breaches(v, rule.threshold, rule.comparison)).length;
    const reason =
      result.state === 'INSUFFICIENT_DATA'
        ? 'Insufficient Data: no datapoints were received for the evaluation range.'
        : `Threshold Crossed: ${b} out of the last ${rule.evaluationPeriods} datapoints [${result.evaluated.join(', ')}] ${result.state === 'ALARM' ? 'were' : 'were not'} ${rule.comparison} (${rule.threshold}) (minimum ${rule.datapointsToAlarm} datapoint for ${before} -> ${result.state} transition).`;
    const transition: AlarmTransition = { alarm: alarm.name, at, from: before, to: result.state, reason };
    this.transitions.push(transition);
    const actions = alarm.properties[result.state === 'ALARM' ? 'AlarmActions' : result.state === 'OK' ? 'OKActions' : 'InsufficientDataActions'];
    for (const arn of Array.isArray(actions) ? actions.map(String) : []) {
      if (arn.split(':')[2] === 'sns') await this.notify(alarm, arn, transition);
    }
    return transition;
  }

  private message(alarm: TwinAlarm, t: AlarmTransition): string {
    const p = alarm.properties;
    const w = this.opts.world;
    const common = {
      Period: alarmPeriod(p),
      EvaluationPeriods: num(p.EvaluationPeriods, 1),
      DatapointsToAlarm: num(p.DatapointsToAlarm, num(p.EvaluationPeriods, 1)),
      ComparisonOperator: p.ComparisonOperator,
      Threshold: num(p.Threshold, 0),
      TreatMissingData: String(p.TreatMissingData ?? 'missing'),
      EvaluateLowSampleCountPercentile: String(p.EvaluateLowSampleCountPercentile ?? ''),
    };
    const toDims = (list: unknown): { value: string; name: string }[] => Object.entries(dims(list)).map(([name, value]) => ({ value, name }));
    const trigger =
      p.MetricName !== undefined
        ? {
            MetricName: p.MetricName,
            Namespace: p.Namespace,
            StatisticType: p.ExtendedStatistic !== undefined ? 'ExtendedStatistic' : 'Statistic',
            Statistic: p.ExtendedStatistic ?? String(p.Statistic).toUpperCase(),
            Unit: p.Unit ?? null,
            Dimensions: toDims(p.Dimensions),
            ...common,
          }
        : {
            ...common,
            Metrics: ((p.Metrics as Json[] | undefined) ?? []).map((m) => {
              const stat = m.MetricStat as Json | undefined;
              if (stat === undefined) return { Expression: m.Expression, Id: m.Id, Label: m.Label, ReturnData: m.ReturnData ?? true };
              const metric = stat.Metric as Json;
              return { Id: m.Id, MetricStat: { Metric: { Dimensions: toDims(metric.Dimensions), MetricName: metric.MetricName, Namespace: metric.Namespace }, Period: stat.Period, Stat: stat.Stat }, ReturnData: m.ReturnData ?? true };
            }),
          };
    return JSON.stringify({
      AlarmName: alarm.name,
      AlarmDescription: p.AlarmDescription ?? null,
      AWSAccountId: w.account,
      NewStateValue: t.to,
      NewStateReason: t.reason,
      StateChangeTime: new Date(t.at).toISOString().replace('Z', '+0000'),
      Region: REGION_NAMES[w.region] ?? w.region,
      AlarmArn: this.alarmArn(alarm.name),
      OldStateValue: t.from,
      OKActions: p.OKActions ?? [],
      AlarmActions: p.AlarmActions ?? [],
      InsufficientDataActions: p.InsufficientDataActions ?? [],
      Trigger: trigger,
    });
  }

  private async notify(alarm: TwinAlarm, topicArn: string, t: AlarmTransition): Promise<void> {
    const { world, authorizer, invoker } = this.opts;
    const subject = `${t.to}: "${alarm.name}" in ${REGION_NAMES[world.region] ?? world.region}`;
    const message = this.message(alarm, t);
    const record = (delivered: boolean, reason?: string): void => {
      this.notifications.push({ alarm: alarm.name, topicArn, at: t.at, state: t.to, delivered, reason, subject, message });
    };
    const context = { 'aws:SourceArn': this.alarmArn(alarm.name), 'aws:SourceAccount': world.account, 'aws:SecureTransport': true };
    const publish = await authorizer.authorize({ principal: CLOUDWATCH, action: 'sns:Publish', resource: topicArn, context });
    if (!publish.allowed) return record(false, `sns:Publish denied: ${publish.reason}`);
    const topic = [...world.topics.values()].find((x) => x.arn === topicArn);
    if (topic?.kmsKeyArn !== undefined) {
      const keyArn = world.key(topic.kmsKeyArn)?.arn ?? topic.kmsKeyArn;
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        const d = await authorizer.authorize({ principal: CLOUDWATCH, action, resource: keyArn, context: { ...context, 'kms:EncryptionContext:aws:sns:topicArn': topicArn } });
        if (!d.allowed) return record(false, `${action} on ${keyArn} denied: ${d.reason}`);
      }
    }
    try {
      await invoker.publish(topicArn, subject, message);
      record(true);
    } catch (err) {
      record(false, err instanceof Error ? err.message : String(err));
    }
  }
}
