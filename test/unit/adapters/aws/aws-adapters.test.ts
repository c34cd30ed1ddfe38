import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient, EventBridgeServiceException, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { AccessDeniedError, BackendError, ThrottledError } from '../../../../shared/errors';
import { CloudWatchBreakerFacts } from '../../../../shared/adapters/aws/cloudwatch-breaker-facts';
import { EventBridgeAuditSink } from '../../../../shared/adapters/aws/eventbridge-audit-sink';
import { SfnSweepStarter, sweepExecutionName } from '../../../../shared/adapters/aws/sfn-sweep-starter';

const EVENT = { at: '2026-03-01T12:00:00.000Z', actor: 'scheduler', action: 'version.activated', keyring: 'payments', version: 4, details: { plaintext: 'oops', demoted: 3 } };

describe('EventBridgeAuditSink', () => {
  const eb = mockClient(EventBridgeClient);
  afterEach(() => eb.reset());

  describe('record', () => {
    it('puts one sanitized event with source rekey.audit', async () => {
      // Prepare
      eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
      const sink = new EventBridgeAuditSink({ client: new EventBridgeClient({ region: 'us-east-1' }), eventBusName: 'rekey-audit' });
      // Act
      await sink.record(EVENT);
      // Assess
      const entry = eb.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!;
      expect(entry).toMatchObject({ EventBusName: 'rekey-audit', Source: 'rekey.audit', DetailType: 'Rekey Audit Event', Time: new Date(EVENT.at) });
      expect(JSON.parse(entry.Detail!)).toEqual({ at: EVENT.at, actor: 'scheduler', action: 'version.activated', keyring: 'payments', version: 4, details: { demoted: 3 } });
    });

    it.each<[string, unknown, unknown]>([
      ['a rejected entry', { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] }, BackendError],
      ['throttling', new EventBridgeServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: {} }), ThrottledError],
      ['access denied', new EventBridgeServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {} }), AccessDeniedError],
    ])('maps %s to a rekey error', async (_what, outcome, type) => {
      // Prepare
      if (outcome instanceof Error) eb.on(PutEventsCommand).rejects(outcome);
      else eb.on(PutEventsCommand).resolves(outcome as never);
      const sink = new EventBridgeAuditSink({ client: new EventBridgeClient({ region: 'us-east-1' }), eventBusName: 'b' });
      // Act
      const err = await sink.record(EVENT).catch((e: unknown) => e);
      // Assess
      expect(err).toBeInstanceOf(type as new () => Error);
    });
  });
});

describe('SfnSweepStarter', () => {
  const sfn = mockClient(SFNClient);
  afterEach(() => sfn.reset());
  const input = { keyring: 'payments', version: 3, bucket: 'data', prefix: 'orders/', mode: 'reencrypt' as const };
  const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:sweep';

  describe('start', () => {
    it('starts under the deterministic name with the sweep as input', async () => {
      // Prepare
      sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec' });
      const starter = new SfnSweepStarter({ client: new SFNClient({ region: 'us-east-1' }), stateMachineArn: arn });
      // Act
      const out = await starter.start(input);
      // Assess
      expect(out).toEqual({ executionName: sweepExecutionName(input), started: true, executionArn: 'arn:exec' });
      expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({ stateMachineArn: arn, name: sweepExecutionName(input), input: JSON.stringify(input) });
    });

    it('treats ExecutionAlreadyExists as success', async () => {
      // Prepare
      sfn.on(StartExecutionCommand).rejects(new SFNServiceException({ name: 'ExecutionAlreadyExists', $fault: 'client', $metadata: {} }));
      const starter = new SfnSweepStarter({ client: new SFNClient({ region: 'us-east-1' }), stateMachineArn: arn });
      // Act
      const out = await starter.start(input);
      // Assess
      expect(out).toEqual({ executionName: sweepExecutionName(input), started: false });
    });

    it('maps access denied to AccessDeniedError', async () => {
      // Prepare
      sfn.on(StartExecutionCommand).rejects(new SFNServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {} }));
      const starter = new SfnSweepStarter({ client: new SFNClient({ region: 'us-east-1' }), stateMachineArn: arn });
      // Act
      const err = await starter.start(input).catch((e: unknown) => e);
      // Assess
      expect(err).toBeInstanceOf(AccessDeniedError);
    });
  });

  describe('sweepExecutionName', () => {
    it('is stable per identity, distinct across identities, and fits Step Functions names', () => {
      // Prepare
      const other = { ...input, keyring: 'pay.ments' };
      const alias = { ...input, keyring: 'pay_ments' };
      // Act
      const names = [sweepExecutionName(input), sweepExecutionName({ ...input }), sweepExecutionName(other), sweepExecutionName(alias), sweepExecutionName({ ...input, keyring: 'k'.repeat(64) })];
      // Assess
      expect(names[0]).toBe(names[1]);
      expect(names[2]).not.toBe(names[3]);
      for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    });
  });
});

describe('CloudWatchBreakerFacts', () => {
  const cw = mockClient(CloudWatchClient);
  afterEach(() => cw.reset());

  describe('decryptFacts', () => {
    it('sums failures and attempts over every version and page', async () => {
      // Prepare
      cw.on(GetMetricDataCommand)
        .resolvesOnce({ MetricDataResults: [{ Id: 'f0', Values: [2, 1] }, { Id: 'a0', Values: [50] }], NextToken: 't' })
        .resolvesOnce({ MetricDataResults: [{ Id: 'f1', Values: [4] }, { Id: 'a1', Values: [70, 30] }] });
      const now = new Date('2026-03-01T12:00:00Z');
      const facts = new CloudWatchBreakerFacts({ client: new CloudWatchClient({ region: 'us-east-1' }), now: () => now });
      // Act
      const out = await facts.decryptFacts('payments', [1, 2], 900);
      // Assess
      expect(out).toEqual({ failures: 7, attempts: 150 });
      const first = cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
      expect(first.StartTime).toEqual(new Date(now.getTime() - 900_000));
      expect(first.MetricDataQueries).toHaveLength(4);
      expect(first.MetricDataQueries![0]!.MetricStat!.Metric!.Dimensions).toEqual([{ Name: 'keyring', Value: 'payments' }, { Name: 'version', Value: '2' }]);
    });

    it('asks nothing for a keyring without versions', async () => {
      // Prepare
      const facts = new CloudWatchBreakerFacts({ client: new CloudWatchClient({ region: 'us-east-1' }) });
      // Act
      const out = await facts.decryptFacts('payments', [], 900);
      // Assess
      expect(out).toEqual({ failures: 0, attempts: 0 });
      expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(0);
    });
  });
});
