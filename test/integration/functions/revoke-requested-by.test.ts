/**
 * Who revoked, on AWS: the revoke function records the event's `detail.requestedBy` (the IAM
 * principal the CLI read from STS) as the actor of the ledger mark and of the audit events, and
 * falls back to `event:<id>` when a sender did not say. Real moto S3 (Object Lock ledger) and
 * EventBridge (the audit sink's bus, read back through a rule into SQS).
 */
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createRevokeHandler } from '../../../functions/revoke/handler';
import { S3RevocationLedger } from '../../../shared/adapters/aws/s3-revocation-ledger';
import { EventBridgeAuditSink } from '../../../shared/adapters/aws/eventbridge-audit-sink';
import { createHarness, lambdaContext, motoUrl, uniqueName, type Harness } from './support/harness';

const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const SECOPS = 'arn:aws:iam::123456789012:role/SecOps';

// EventBridge event shape: https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
function compromised(h: Harness, id: string, requestedBy?: string) {
  return {
    version: '0',
    id,
    source: 'rekey',
    'detail-type': 'Key Version Compromised',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: { keyring: h.keyring, version: 1, reason: 'SEC-42 key exposure', ...(requestedBy === undefined ? {} : { requestedBy }) },
  };
}

/** The audit events of `keyring` that the audit sink put on the harness's bus. */
async function auditQueue(h: Harness): Promise<() => Promise<Array<{ action: string; actor: string; keyring: string }>>> {
  const sqs = new SQSClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('audit') }))).QueueUrl as string;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string;
  const rule = uniqueName('audit');
  // Event pattern on this keyring's audit events only (other suites share moto's default bus).
  await h.clients.eventBridge.send(
    new PutRuleCommand({ Name: rule, EventBusName: h.config.eventBusName, EventPattern: JSON.stringify({ source: [EventBridgeAuditSink.SOURCE], detail: { keyring: [h.keyring] } }) }),
  );
  await h.clients.eventBridge.send(new PutTargetsCommand({ Rule: rule, EventBusName: h.config.eventBusName, Targets: [{ Id: 'q', Arn: queueArn }] }));
  return async () => {
    const out: Array<{ action: string; actor: string; keyring: string }> = [];
    for (;;) {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if ((got.Messages ?? []).length === 0) return out;
      for (const m of got.Messages ?? []) out.push((JSON.parse(m.Body as string) as { detail: { action: string; actor: string; keyring: string } }).detail);
    }
  };
}

describe('revoke function: who revoked', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('records detail.requestedBy as the actor of the ledger mark and of the revocation audit', async () => {
    // Prepare
    h = await createHarness();
    const drain = await auditQueue(h);
    const handler = createRevokeHandler(h.deps);
    // Act: the first call settles (retryable), the retry after the cache lifetime completes.
    await expect(handler(compromised(h, uniqueName('evt'), SECOPS), lambdaContext())).rejects.toThrow(/settles at/);
    // Assess
    const marks = await new S3RevocationLedger({ client: h.clients.s3, bucket: h.buckets.escrow }).revoked(h.keyring);
    expect(marks.get(1)).toMatchObject({ keyring: h.keyring, version: 1, actor: SECOPS });
    const audit = await drain();
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.find((e) => /revoke/.test(e.action))).toBeDefined();
    expect(new Set(audit.filter((e) => /revoke/.test(e.action)).map((e) => e.actor))).toEqual(new Set([SECOPS]));
    expect(audit.map((e) => e.actor).join(' ')).not.toMatch(/event:/);
  });

  it('falls back to event:<id> when the event does not name its sender', async () => {
    // Prepare
    h = await createHarness();
    const handler = createRevokeHandler(h.deps);
    const id = uniqueName('evt');
    // Act
    await expect(handler(compromised(h, id), lambdaContext())).rejects.toThrow(/settles at/);
    // Assess
    const marks = await new S3RevocationLedger({ client: h.clients.s3, bucket: h.buckets.escrow }).revoked(h.keyring);
    expect(marks.get(1)?.actor).toBe(`event:${id}`);
  });

  it('refuses a requestedBy that is not an IAM principal ARN and revokes nothing', async () => {
    // Prepare
    h = await createHarness();
    const handler = createRevokeHandler(h.deps);
    const before = await h.snapshot();
    // Act
    const res = await handler(compromised(h, uniqueName('evt'), 'alice'), lambdaContext());
    // Assess: a bad event is answered (not retried) with the typed validation error
    expect(res).toMatchObject({ ok: false, error: { code: 'VALIDATION', name: 'ValidationError', message: expect.stringMatching(/detail\.requestedBy/) } });
    expect(await h.snapshot()).toBe(before);
  });
});
