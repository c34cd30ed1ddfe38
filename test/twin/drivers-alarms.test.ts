/**
 * The twin's CloudWatch alarms: the documented evaluation tables, end-to-end transitions over the
 * runtime's MetricStore with notifications published to a private moto's SNS (read back through
 * an SQS subscription), Metrics Insights, a denied publish, and canAlarmFire on the synthesized
 * template's own alarms.
 */
import { synthesizeTwin } from './synth';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AuthzDecision, AuthzRequest, RequestAuthorizer } from './authz/types';
import { evaluateRange, type EvaluationRule, type TreatMissingData } from './drivers/alarm-evaluation';
import { canAlarmFire, TwinAlarms } from './drivers/alarms';
import { parseInsights, runInsights } from './drivers/metrics-insights';
import type { TargetInvoker } from './drivers/types';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { MetricStore } from './runtime/metric-store';
import { SimClock, TwinWorld, type TwinAlarm } from './world';

const cfg = (url: string): { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } } => ({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
const T0 = Date.parse('2027-01-04T00:00:00Z');
const MIN = 60_000;

class TableAuthorizer implements RequestAuthorizer {
  public readonly seen: AuthzRequest[] = [];
  public constructor(private readonly rows: { who: string; action: string; resource: string; when?: (r: AuthzRequest) => boolean }[]) {}
  public async authorize(r: AuthzRequest): Promise<AuthzDecision> {
    this.seen.push(r);
    const who = r.principal.kind === 'service' ? r.principal.service : r.principal.kind === 'role' ? r.principal.arn : 'anonymous';
    const ok = this.rows.some((x) => x.who === who && x.action === r.action && x.resource === r.resource && (x.when?.(r) ?? true));
    return { allowed: ok, reason: ok ? 'allowed' : `no statement allows ${who} ${r.action}` };
  }
}

describe('evaluateRange: the tables of "How alarm state is evaluated when data is missing"', () => {
  // 0 = not breaching, X = breaching, - = missing; columns MISSING, IGNORE, BREACHING, NOT BREACHING.
  const retain = 'retain';
  const threeOfThree: [string, string[]][] = [
    ['0 - X - X', ['OK', 'OK', 'OK', 'OK']],
    ['0 - - - -', ['OK', 'OK', 'OK', 'OK']],
    ['- - - - -', ['INSUFFICIENT_DATA', retain, 'ALARM', 'OK']],
    ['0 X X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['- - - - X', ['INSUFFICIENT_DATA', retain, 'ALARM', 'OK']],
    ['X - - - -', ['ALARM', retain, 'ALARM', 'OK']],
  ];
  const twoOfThree: [string, string[]][] = [
    ['0 - X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['0 0 X 0 X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['0 - X - -', ['OK', 'OK', 'ALARM', 'OK']],
    ['- - - - 0', ['OK', 'OK', 'ALARM', 'OK']],
    ['- - - - X', ['INSUFFICIENT_DATA', retain, 'ALARM', 'OK']],
  ];
  const modes: TreatMissingData[] = ['missing', 'ignore', 'breaching', 'notBreaching'];
  const parse = (s: string): (number | undefined)[] => s.split(' ').map((c) => (c === '-' ? undefined : c === 'X' ? 5 : 0));
  const cases = [...threeOfThree.map(([d, e]) => [3, d, e] as const), ...twoOfThree.map(([d, e]) => [2, d, e] as const)];
  it.each(cases)('M=%i of 3: %s', (m, data, expected) => {
    modes.forEach((mode, i) => {
      const rule: EvaluationRule = { evaluationPeriods: 3, datapointsToAlarm: m, threshold: 3, comparison: 'GreaterThanThreshold', treatMissingData: mode };
      for (const current of ['OK', 'ALARM'] as const) {
        const want = expected[i] === retain ? current : expected[i];
        expect([mode, current, evaluateRange(parse(data), rule, current).state]).toEqual([mode, current, want]);
      }
    });
  });
});

describe('Metrics Insights', () => {
  it('SELECT SUM/MAX/AVG/COUNT ... WHERE keyring over the store, per period, with GROUP BY', () => {
    const store = new MetricStore();
    const put = (keyring: string, version: string, value: number, at: number, extra: Record<string, string> = {}): void => store.put({ namespace: 'Rekey', name: 'DecryptFailures', dimensions: { keyring, version, ...extra }, value, unit: 'Count', timestamp: at });
    put('pii', '1', 2, T0 + MIN);
    put('pii', '2', 3, T0 + 2 * MIN, { service: 'decrypt' });
    put('ops', '1', 10, T0 + MIN);
    put('pii', '1', 7, T0 + 6 * MIN);
    const run = (q: string, from = T0, to = T0 + 5 * MIN): Map<string, number> => runInsights(parseInsights(q), store.all(), from, to);
    expect(run(`SELECT SUM(DecryptFailures) FROM "Rekey" WHERE keyring = 'pii'`)).toEqual(new Map([['', 5]]));
    expect(run(`SELECT MAX(DecryptFailures) FROM "Rekey" WHERE keyring = 'pii'`)).toEqual(new Map([['', 3]]));
    expect(run(`SELECT AVG(DecryptFailures) FROM Rekey WHERE keyring != 'ops'`)).toEqual(new Map([['', 2.5]]));
    expect(run(`SELECT COUNT(DecryptFailures) FROM "Rekey"`)).toEqual(new Map([['', 3]]));
    expect(run(`SELECT SUM(DecryptFailures) FROM "Rekey" WHERE keyring = 'pii' GROUP BY version`)).toEqual(new Map([['1', 2], ['2', 3]]));
    expect(run(`SELECT SUM(DecryptFailures) FROM SCHEMA("Rekey", keyring, version)`)).toEqual(new Map([['', 12]]));
    expect(run(`SELECT SUM(DecryptFailures) FROM "Rekey" WHERE keyring = 'pii'`, T0 + 5 * MIN, T0 + 10 * MIN)).toEqual(new Map([['', 7]]));
    expect(run(`SELECT SUM(DecryptFailures) FROM "Rekey" WHERE keyring = 'nope'`).size).toBe(0);
  });
});

describe('TwinAlarms', () => {
  let moto: PrivateMoto;
  let sns: SNSClient;
  let sqs: SQSClient;
  beforeAll(async () => {
    moto = await startPrivateMoto();
    sns = new SNSClient(cfg(moto.url));
    sqs = new SQSClient(cfg(moto.url));
  }, 60_000);
  afterAll(async () => moto.stop());

  const invoker: TargetInvoker = {
    invokeLambdaAsync: async () => undefined,
    startExecution: async () => undefined,
    sendToQueue: async () => undefined,
    publish: async (TopicArn, Subject, Message) => void (await sns.send(new PublishCommand({ TopicArn, Subject, Message }))),
  };

  async function topicWithInbox(name: string): Promise<{ topicArn: string; read: () => Promise<Record<string, unknown>[]> }> {
    const { TopicArn = '' } = await sns.send(new CreateTopicCommand({ Name: name }));
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-inbox` }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }));
    const read = async (): Promise<Record<string, unknown>[]> => {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      return (r.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
    };
    return { topicArn: TopicArn, read };
  }

  it('goes INSUFFICIENT_DATA → OK → ALARM on Lambda Errors (2 of 3) and publishes the documented notification', async () => {
    const { topicArn, read } = await topicWithInbox(`alarms-${Date.now()}`);
    const world = new TwinWorld();
    const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/k1';
    world.topics.set('AlarmTopic', { logicalId: 'AlarmTopic', name: 'alarms', arn: topicArn, kmsKeyArn: keyArn, subscriptions: [] });
    const alarm: TwinAlarm = { logicalId: 'A', name: 'rotate-errors', properties: { AlarmActions: [topicArn], ComparisonOperator: 'GreaterThanOrEqualToThreshold', Dimensions: [{ Name: 'FunctionName', Value: 'rotate' }], EvaluationPeriods: 3, DatapointsToAlarm: 2, MetricName: 'Errors', Namespace: 'AWS/Lambda', Period: 300, Statistic: 'Sum', Threshold: 1, TreatMissingData: 'notBreaching' } };
    world.alarms.set(alarm.name, alarm);
    const store = new MetricStore();
    const clock = new SimClock(T0);
    const alarmArn = 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:rotate-errors';
    const bySource = (r: AuthzRequest): boolean => r.context?.['aws:SourceArn'] === alarmArn && r.context['aws:SourceAccount'] === '123456789012';
    const auth = new TableAuthorizer([
      { who: 'cloudwatch.amazonaws.com', action: 'sns:Publish', resource: topicArn, when: bySource },
      { who: 'cloudwatch.amazonaws.com', action: 'kms:GenerateDataKey', resource: keyArn, when: bySource },
      { who: 'cloudwatch.amazonaws.com', action: 'kms:Decrypt', resource: keyArn, when: bySource },
    ]);
    const alarms = new TwinAlarms({ world, clock, metrics: store, authorizer: auth, invoker });
    const errors = (n: number, at: number): void => store.put({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: 'rotate' }, value: n, timestamp: at });
    errors(0, T0 + MIN);
    expect((await alarms.evaluate(T0 + 5 * MIN)).map((t) => t.to)).toEqual(['OK']);
    errors(1, T0 + 6 * MIN);
    expect(await alarms.evaluate(T0 + 10 * MIN)).toEqual([]);
    expect(alarms.state('rotate-errors')).toBe('OK');
    errors(2, T0 + 12 * MIN);
    errors(1, T0 + 12 * MIN);
    expect((await alarms.evaluate(T0 + 15 * MIN)).map((t) => `${t.from}->${t.to}`)).toEqual(['OK->ALARM']);
    expect(alarms.undeliverable()).toEqual([]);
    const [note] = await read();
    expect(note?.Subject).toBe('ALARM: "rotate-errors" in US East (N. Virginia)');
    const msg = JSON.parse(String(note?.Message)) as Record<string, unknown>;
    expect(msg).toMatchObject({ AlarmName: 'rotate-errors', AWSAccountId: '123456789012', NewStateValue: 'ALARM', OldStateValue: 'OK', Region: 'US East (N. Virginia)', AlarmArn: alarmArn, StateChangeTime: '2027-01-04T00:15:00.000+0000' });
    expect(msg.Trigger).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', StatisticType: 'Statistic', Statistic: 'SUM', Dimensions: [{ value: 'rotate', name: 'FunctionName' }], Period: 300, EvaluationPeriods: 3, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: 1 });
    expect(auth.seen.map((r) => r.action)).toEqual(['sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt']);
  });

  it('a DLQ-depth alarm reads queueDepth; a publish the topic policy does not allow for cloudwatch.amazonaws.com is undeliverable', async () => {
    const { topicArn, read } = await topicWithInbox(`denied-${Date.now()}`);
    const world = new TwinWorld();
    world.topics.set('T', { logicalId: 'T', name: 'denied', arn: topicArn, subscriptions: [] });
    world.queues.set('dlq', { logicalId: 'Q', name: 'dlq', arn: 'arn:aws:sqs:us-east-1:123456789012:dlq', url: 'http://x/dlq' });
    world.alarms.set('dlq-not-empty', { logicalId: 'D', name: 'dlq-not-empty', properties: { AlarmActions: [topicArn], ComparisonOperator: 'GreaterThanOrEqualToThreshold', Dimensions: [{ Name: 'QueueName', Value: 'dlq' }], EvaluationPeriods: 1, MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Period: 300, Statistic: 'Maximum', Threshold: 1, TreatMissingData: 'notBreaching' } });
    let depth = 0;
    // Only the account root is allowed (a topic policy without a cloudwatch.amazonaws.com statement).
    const auth = new TableAuthorizer([{ who: 'arn:aws:iam::123456789012:root', action: 'sns:Publish', resource: topicArn }]);
    const alarms = new TwinAlarms({ world, clock: new SimClock(T0), metrics: new MetricStore(), authorizer: auth, invoker, queueDepth: async (arn) => (arn === 'arn:aws:sqs:us-east-1:123456789012:dlq' ? depth : -1) });
    // Nothing before T0: the empty range is treated as not breaching.
    expect((await alarms.evaluate(T0 + MIN)).map((t) => t.to)).toEqual(['OK']);
    expect(await alarms.evaluate(T0 + 5 * MIN)).toEqual([]);
    depth = 2;
    await alarms.evaluate(T0 + 6 * MIN);
    expect((await alarms.evaluate(T0 + 10 * MIN)).map((t) => t.to)).toEqual(['ALARM']);
    expect(alarms.undeliverable()).toEqual([expect.objectContaining({ alarm: 'dlq-not-empty', topicArn, state: 'ALARM', delivered: false, reason: expect.stringContaining('sns:Publish denied') as unknown })]);
    expect(await read()).toEqual([]);
  });

  it('evaluates metric math (failed + timedOut + aborted) and Insights alarms as the stack renders them', async () => {
    const template = (await synthesizeTwin()).template as unknown as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const world = new TwinWorld();
    const sm = 'arn:aws:states:us-east-1:123456789012:stateMachine:sweep';
    const resolve = (props: Record<string, unknown>): Record<string, unknown> => JSON.parse(JSON.stringify({ ...props, AlarmActions: [] }).replace(/\{"Ref":"SweepStateMachineE9432328"\}/g, JSON.stringify(sm))) as Record<string, unknown>;
    const sweep = template.Resources.MonitoringSweepStalledCA0E3FE7?.Properties;
    const decrypt = template.Resources.MonitoringDecryptFailurespii0252CACA?.Properties;
    if (sweep === undefined || decrypt === undefined) throw new Error('alarms missing from the template');
    world.alarms.set('sweep', { logicalId: 'S', name: 'sweep', properties: resolve(sweep) });
    world.alarms.set('decrypt', { logicalId: 'D', name: 'decrypt', properties: resolve(decrypt) });
    const store = new MetricStore();
    const alarms = new TwinAlarms({ world, clock: new SimClock(T0), metrics: store, authorizer: new TableAuthorizer([]), invoker });
    await alarms.evaluate(T0 + 5 * MIN);
    expect([alarms.state('sweep'), alarms.state('decrypt')]).toEqual(['OK', 'OK']);
    store.put({ namespace: 'AWS/States', name: 'ExecutionsTimedOut', dimensions: { StateMachineArn: sm }, value: 1, timestamp: T0 + 7 * MIN });
    store.put({ namespace: 'Rekey', name: 'DecryptFailures', dimensions: { keyring: 'ops', version: '1' }, value: 9, timestamp: T0 + 7 * MIN });
    await alarms.evaluate(T0 + 10 * MIN);
    expect([alarms.state('sweep'), alarms.state('decrypt')]).toEqual(['ALARM', 'OK']);
    store.put({ namespace: 'Rekey', name: 'DecryptFailures', dimensions: { keyring: 'pii', version: '2', service: 'decrypt' }, value: 1, timestamp: T0 + 11 * MIN });
    // The doc: with fewer than the retrieved datapoints, the most recent existing ones are re-evaluated.
    await alarms.evaluate(T0 + 15 * MIN);
    expect([alarms.state('sweep'), alarms.state('decrypt')]).toEqual(['ALARM', 'ALARM']);
    await alarms.evaluate(T0 + 30 * MIN);
    expect([alarms.state('sweep'), alarms.state('decrypt')]).toEqual(['OK', 'OK']);
  });

  it('canAlarmFire on the synthesized alarms: a gauge alarm fires at its own cadence and never when its metric arrives less often than its evaluation range', async () => {
    const template = (await synthesizeTwin()).template as unknown as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const alarms = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm').map(([id, r]): TwinAlarm => ({ logicalId: id, name: id, properties: r.Properties }));
    const overdue = alarms.find((a) => a.logicalId.startsWith('MonitoringRotationOverduepii'));
    const decrypt = alarms.find((a) => a.logicalId.startsWith('MonitoringDecryptFailurespii'));
    if (overdue === undefined || decrypt === undefined) throw new Error('expected alarms missing from the template');
    const period = Number(overdue.properties.Period);
    const n = Number(overdue.properties.EvaluationPeriods);
    expect(canAlarmFire(overdue, period)).toBe(true);
    // CloudWatch looks back N + 2 periods at most (AlarmThatSendsEmail, "evaluation range"): a slower metric can never fill M of N.
    expect(canAlarmFire(overdue, period * (n + 3))).toBe(false);
    expect(canAlarmFire(decrypt, 3600)).toBe(true);
    expect(canAlarmFire(decrypt, 86_400)).toBe(true);
  });
});
