/**
 * Support of the faults scenario (faults.test.ts): the stand-up a platform team does
 * (docs/deploy.md: the application and operator roles of the revocation scenario's context, the
 * record buckets), an on-call inbox subscribed to the alarm topic on moto, and the proof that an
 * alarm would page: it watches a metric the code really emitted, it can fire at the cadence that
 * metric arrives, it is in ALARM, CloudWatch could publish, and the message reached the inbox.
 */
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { S3Client } from '@aws-sdk/client-s3';
import type { Catalog } from '../../../shared/catalog/model';
import { openApplication, type Application } from '../application';
import { canAlarmFire } from '../drivers/alarms';
import { parseEmfLine } from '../runtime/emf';
import { Twin } from '../twin';
import type { TwinAlarm, TwinRole } from '../world';
import { operatorPolicyFromDoc, revocationContext, APP_ROLE, OPERATOR_ROLE, RECORD_BUCKET, RECORD_PREFIX } from './revocation-setup';
import { createRecordBucket, recordBucketPolicy } from './support/app-team';
import { catalogReader, subscribeOncallInbox } from './support/oncall';

/** SQS pushes queue metrics to CloudWatch at one-minute intervals (Amazon SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS"). */
const SQS_METRIC_SECONDS = 60;
/** Finest arrival of an event metric: standard-resolution CloudWatch data points are per minute. */
const EVENT_METRIC_SECONDS = 60;
const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** One stood-up stack of the faults scenario. */
export interface FaultStack {
  readonly twin: Twin;
  readonly app: Application;
  readonly operator: TwinRole;
  readonly sqs: SQSClient;
  /** The `pii` catalog, read as moto's admin (moto enforces no policy: the test's view only). */
  catalog(keyring?: string): Promise<Catalog>;
  /** The SNS messages the on-call inbox (an SQS queue subscribed to the alarm topic) received. */
  inbox(): Promise<Record<string, unknown>[]>;
  /** Messages in a queue of the stack (left visible: receiving does not hide them). */
  queueMessages(queueLogicalPrefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Stands the stack up at `start` with the revocation scenario's context (same synth cache): the
 * application role `orders-app` on keyring pii, the operator role with docs/deploy.md's policy,
 * the record buckets, and the on-call inbox.
 */
export async function standUpFaults(start: number): Promise<FaultStack> {
  const twin = await Twin.standUp({
    start,
    context: revocationContext(),
    roles: [
      { name: APP_ROLE, policies: [recordBucketPolicy(RECORD_BUCKET, RECORD_PREFIX)] },
      { name: OPERATOR_ROLE, policies: [] },
    ],
  });
  const config = { endpoint: twin.moto.url, region: twin.world.region, credentials: ADMIN };
  const sqs = new SQSClient(config);
  const sns = new SNSClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  try {
    for (const bucket of ['example-orders-records', 'example-ops-records']) await createRecordBucket(twin, bucket);
    const operator = twin.role(OPERATOR_ROLE);
    operator.policies.push(operatorPolicyFromDoc(twin));
    const inbox = await subscribeOncallInbox(twin, sqs, sns);
    const app = openApplication({
      role: twin.role(APP_ROLE),
      proxyUrl: twin.proxyUrl,
      region: twin.world.region,
      clock: twin.clock,
      catalogBucket: twin.world.outputs.CatalogBucket ?? '',
      catalogPrefix: twin.world.outputs.CatalogPrefix ?? '',
      recordBucket: RECORD_BUCKET,
      recordPrefix: RECORD_PREFIX,
    });
    return {
      twin,
      app,
      operator,
      sqs,
      catalog: catalogReader(twin, s3),
      inbox,
      queueMessages: async (prefix) => {
        const queue = [...twin.world.queues.values()].find((q) => q.logicalId.startsWith(prefix));
        if (queue === undefined) throw new Error(`no queue ${prefix}`);
        const depth = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages'] }));
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
        const bodies = (res.Messages ?? []).map((m) => m.Body ?? '');
        if (bodies.length !== Number(depth.Attributes?.ApproximateNumberOfMessages ?? '0')) throw new Error(`${prefix}: read ${bodies.length} of ${depth.Attributes?.ApproximateNumberOfMessages}`);
        return bodies;
      },
      close: async () => {
        sqs.destroy();
        sns.destroy();
        s3.destroy();
        app.s3.destroy();
        app.kms.destroy();
        await twin.close();
      },
    };
  } catch (err) {
    sqs.destroy();
    sns.destroy();
    s3.destroy();
    await twin.close();
    throw err;
  }
}

/** The alarm of a Monitoring construct id (`FunctionErrors-rotate`, `DlqNotEmpty-rotate-failures`, `SweepStalled`). */
export function alarmOf(twin: Twin, constructId: string): TwinAlarm {
  const logical = new RegExp(`^Monitoring${constructId.replace(/[^A-Za-z0-9]/g, '')}[0-9A-F]{8}$`);
  const found = [...twin.world.alarms.values()].filter((a) => logical.test(a.logicalId));
  if (found.length !== 1) throw new Error(`expected one alarm ${constructId}, found ${found.length}`);
  return found[0] as TwinAlarm;
}

type Json = Record<string, unknown>;

/** Namespace and name of each metric an alarm reads (single metric, MetricStats, Insights queries). */
export function alarmMetrics(alarm: TwinAlarm): { namespace: string; name: string; filter: Record<string, string> }[] {
  const p = alarm.properties;
  const dims = (list: unknown): Record<string, string> => Object.fromEntries(((list as Json[] | undefined) ?? []).map((d) => [String(d.Name), String(d.Value)]));
  if (p.MetricName !== undefined) return [{ namespace: String(p.Namespace), name: String(p.MetricName), filter: dims(p.Dimensions) }];
  return ((p.Metrics as Json[] | undefined) ?? []).flatMap((m) => {
    const stat = m.MetricStat as Json | undefined;
    if (stat !== undefined) {
      const metric = stat.Metric as Json;
      return [{ namespace: String(metric.Namespace), name: String(metric.MetricName), filter: dims(metric.Dimensions) }];
    }
    // SELECT FUNC(name) FROM "namespace" [WHERE "dim" = 'value']
    const q = /^SELECT \w+\((\w+)\) FROM "([^"]+)"(?: WHERE "?(\w+)"? = '([^']*)')?$/.exec(String(m.Expression ?? ''));
    if (q === null) return [];
    return [{ namespace: q[2] as string, name: q[1] as string, filter: q[3] === undefined ? {} : { [q[3]]: q[4] as string } }];
  });
}

/** Functions whose own log lines carried an EMF data point of `name` matching `filter`. */
export function emittingFunctions(twin: Twin, namespace: string, name: string, filter: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const log of twin.runtime.invocationLogs) {
    for (const line of log.logs) {
      if (line.stream !== 'stdout') continue;
      if (parseEmfLine(line.text).some((d) => d.namespace === namespace && d.name === name && Object.entries(filter).every(([k, v]) => d.dimensions[k] === v))) out.add(log.functionName);
    }
  }
  return [...out];
}

/**
 * How often the metric of `alarm` arrives: SQS's one-minute push for queue metrics; otherwise
 * the slowest schedule that runs the emitting code (the function, or the state machine that
 * invokes it) for the alarm's keyring; an event-driven emitter (no schedule) as often as a
 * standard-resolution metric can arrive.
 */
export function cadenceOf(twin: Twin, alarm: TwinAlarm): number {
  const metrics = alarmMetrics(alarm);
  if (metrics.every((m) => m.namespace === 'AWS/SQS')) return SQS_METRIC_SECONDS;
  const targets = new Set<string>();
  for (const m of metrics) {
    if (m.namespace === 'AWS/Lambda' && m.filter.FunctionName !== undefined) targets.add(twin.world.fn(m.filter.FunctionName)?.arn ?? '');
    else if (m.namespace === 'AWS/States' && m.filter.StateMachineArn !== undefined) targets.add(m.filter.StateMachineArn);
    else for (const fn of emittingFunctions(twin, m.namespace, m.name, m.filter)) targets.add(twin.world.fn(fn)?.arn ?? '');
  }
  // The reencrypt worker runs only inside sweeps: its cadence is the sweep schedules'.
  for (const sm of twin.world.stateMachines.values()) {
    if ([...targets].some((t) => JSON.stringify(sm.definition).includes(t))) targets.add(sm.arn);
  }
  const keyring = metrics.map((m) => m.filter.keyring).find((k) => k !== undefined);
  let slowest = 0;
  const now = twin.clock.now();
  for (const s of twin.world.schedules.values()) {
    if (!targets.has(s.targetArn)) continue;
    if (keyring !== undefined && s.input !== undefined && (JSON.parse(s.input) as { keyring?: string }).keyring !== keyring) continue;
    const [a, b] = twin.scheduler.occurrences(s, now, now + 8 * 86_400_000);
    if (a !== undefined && b !== undefined) slowest = Math.max(slowest, (b - a) / 1000);
  }
  return slowest === 0 ? EVENT_METRIC_SECONDS : slowest;
}

/** Data points the twin holds for the metrics `alarm` reads (AWS/SQS: the alarm driver's own samples, through `series`). */
export function emittedPoints(twin: Twin, alarm: TwinAlarm): number {
  return alarmMetrics(alarm).reduce(
    (n, m) => n + twin.metrics.all().filter((d) => d.namespace === m.namespace && d.name === m.name && Object.entries(m.filter).every(([k, v]) => d.dimensions[k] === v)).length,
    0,
  );
}

/**
 * Asserts that `constructId`'s alarm pages: its metric was emitted, it can fire at that metric's
 * cadence, it is in ALARM, its ALARM notification was delivered, and the message reached the
 * on-call inbox on moto.
 */
export async function expectPaged(stack: FaultStack, constructId: string): Promise<void> {
  const { twin } = stack;
  const alarm = alarmOf(twin, constructId);
  const isQueue = alarmMetrics(alarm).every((m) => m.namespace === 'AWS/SQS');
  if (!isQueue) expect({ alarm: constructId, emitted: emittedPoints(twin, alarm) > 0 }).toEqual({ alarm: constructId, emitted: true });
  expect({ alarm: constructId, canFire: canAlarmFire(alarm, cadenceOf(twin, alarm)) }).toEqual({ alarm: constructId, canFire: true });
  expect({ alarm: constructId, state: twin.alarms.state(alarm.name) }).toEqual({ alarm: constructId, state: 'ALARM' });
  const sent = twin.alarms.notifications.filter((n) => n.alarm === alarm.name && n.state === 'ALARM');
  expect({ alarm: constructId, delivered: sent.map((n) => n.delivered) }).toEqual({ alarm: constructId, delivered: [true] });
  const messages = await stack.inbox();
  const got = messages.filter((m) => m.AlarmName === alarm.name && m.NewStateValue === 'ALARM');
  expect({ alarm: constructId, inbox: got.length }).toEqual({ alarm: constructId, inbox: 1 });
}

/** The alarm names in ALARM now. */
export function alarming(twin: Twin): string[] {
  return [...twin.world.alarms.values()].filter((a) => twin.alarms.state(a.name) === 'ALARM').map((a) => a.logicalId);
}
