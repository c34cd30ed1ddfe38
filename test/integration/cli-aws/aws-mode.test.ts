/**
 * `rekey --aws`: the CLI drives a "deployed stack" on moto_server: the stack's outputs come from
 * a real CloudFormation stack in moto, the catalog from S3, keys from KMS, and a revocation is a
 * real EventBridge event routed by a rule to an SQS queue we read back. Lambda invocation (rotate,
 * escrow drill) cannot run in moto without Docker, so the Lambda client is aws-sdk-client-mock'd
 * and we assert what the CLI sent and how it handles each answer.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand, CreateEventBusCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { run } from '../../../cli/main';
import { openAws } from '../../../cli/aws-context';
import { STACK_OUTPUTS } from '../../../infra/outputs';
import { S3KeyUseLog } from '../../../shared/adapters/aws/s3-key-use-log';
import { KEY_USE_PREFIX } from '../../../shared/vocabulary/key-use-names';
import { createHarness, motoUrl, uniqueName, type Harness } from '../functions/support/harness';

const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], lambda?: LambdaClient): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stdout += Buffer.from(chunk).toString();
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await run(argv, { awsOpener: (o) => openAws({ ...o, ...(lambda ? { clients: { lambda } } : {}) }) });
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('rekey --aws', () => {
  let h: Harness;
  let stackName: string;
  let busName: string;
  let queueUrl: string;
  const base = () => ['--aws', '--endpoint', motoUrl(), '--region', 'us-east-1', '--stack', stackName];
  const sqs = new SQSClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    h = await createHarness();
    busName = uniqueName('bus');
    const events = new EventBridgeClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });
    await events.send(new CreateEventBusCommand({ Name: busName }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('q') }))).QueueUrl as string;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string;
    const rule = uniqueName('rule');
    await events.send(new PutRuleCommand({ Name: rule, EventBusName: busName, EventPattern: JSON.stringify({ source: ['rekey'], 'detail-type': ['Key Version Compromised'] }) }));
    await events.send(new PutTargetsCommand({ Rule: rule, EventBusName: busName, Targets: [{ Id: 'q', Arn: queueArn }] }));

    // A stack whose outputs are exactly what the real stack exports (infra/outputs.ts).
    stackName = uniqueName('Rekey').replace(/[^A-Za-z0-9-]/g, '');
    const env: Record<string, string> = { ...h.env, REKEY_EVENT_BUS_NAME: busName };
    const outputs: Record<string, { Value: string }> = {};
    for (const [key, variable] of Object.entries(STACK_OUTPUTS)) {
      if (variable !== undefined && env[variable] !== undefined) outputs[key] = { Value: env[variable] };
    }
    outputs.FunctionNames = { Value: JSON.stringify({ rotate: 'rekey-rotate-fn', escrow: 'rekey-escrow-fn' }) };
    const cfn = new CloudFormationClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });
    await cfn.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify({ Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } }, Outputs: outputs }),
      }),
    );
  });

  afterAll(async () => {
    await h.close();
  });

  describe('status', () => {
    it('prints the deployed keyring with its versions read from the catalog bucket', async () => {
      // Act
      const r = await cli([...base(), 'status', '--json']);
      // Assess
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const body = JSON.parse(r.stdout) as { stack: string; keyrings: Array<{ keyring: string; versions: Array<{ version: number; state: string }> }> };
      expect(body.stack).toBe(stackName);
      expect(body.keyrings.map((k) => k.keyring)).toEqual([h.keyring]);
      expect(body.keyrings[0]!.versions).toEqual([expect.objectContaining({ version: 1, state: 'active' })]);
    });

    it('shows each version\'s last use from the key-use log, and never starts a log it reads', async () => {
      // Prepare: no log yet for the keyring; status with only read access must leave it so.
      const logKey = `${KEY_USE_PREFIX}${h.keyring}.json`;
      const logExists = () =>
        h.clients.s3.send(new HeadObjectCommand({ Bucket: h.buckets.catalog, Key: logKey })).then(
          () => true,
          (err: { name?: string }) => (err.name === 'NotFound' ? false : Promise.reject(err)),
        );
      expect(await logExists()).toBe(false);
      const unobserved = await cli([...base(), 'status', h.keyring, '--json']);
      const logAfterRead = await logExists();
      // The key-use function's write (the same adapter), as if CloudTrail reported a Decrypt of version 1.
      const at = '2026-03-04T05:06:07.000Z';
      const by = 'arn:aws:sts::123456789012:assumed-role/orders/i-0abc';
      await new S3KeyUseLog({ bucket: h.buckets.catalog, client: h.clients.s3, startOnRead: true }).recordUse(h.keyring, 1, { at: new Date(at), by });
      // Act
      const json = await cli([...base(), 'status', h.keyring, '--json']);
      const text = await cli([...base(), 'status', h.keyring]);
      // Assess
      expect(unobserved.code).toBe(0);
      expect(logAfterRead).toBe(false);
      const before = JSON.parse(unobserved.stdout) as { keyrings: Array<{ versions: Array<Record<string, unknown>> }> };
      expect(before.keyrings[0]?.versions[0]).not.toHaveProperty('lastUsedAt');
      expect(json.code).toBe(0);
      const after = JSON.parse(json.stdout) as { keyrings: Array<{ versions: Array<{ version: number; lastUsedAt?: string }> }> };
      expect(after.keyrings[0]?.versions.map((v) => [v.version, v.lastUsedAt])).toEqual([[1, at]]);
      expect(text.code).toBe(0);
      const lines = text.stdout.split('\n');
      const header = lines.findIndex((l) => /^\s+ver\s+state\s+since\s+records\s+cache\b/.test(l));
      expect(header).toBeGreaterThanOrEqual(0);
      const row = lines.findIndex((l, i) => i > header && /^\s+1\s+active\s/.test(l));
      expect(row).toBeGreaterThan(header);
      // The version's detail lines follow its row, up to the next row or the end of the keyring.
      const detail = lines.slice(row + 1).filter((l, i, all) => all.slice(0, i + 1).every((d) => /^\s{7,}\S/.test(d)));
      expect(detail).toContain('       last use: 2026-03-04 05:06Z');
      expect(text.stdout).not.toContain(by);
    });

    it('exits 4 with one line for a keyring the stack does not have', async () => {
      const r = await cli([...base(), 'status', 'no-such-keyring']);
      expect(r.code).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^rekey: unknown keyring 'no-such-keyring'$/)]);
    });

    it('exits 4 when the stack does not exist', async () => {
      const r = await cli(['--aws', '--endpoint', motoUrl(), '--region', 'us-east-1', '--stack', 'NoSuchStack', 'status']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/^rekey: stack 'NoSuchStack' not found in us-east-1: pass --stack /);
    });
  });

  describe('freeze / unfreeze', () => {
    it('writes the freeze into the catalog with compare-and-swap and removes it again', async () => {
      // Act
      const frozen = await cli([...base(), 'freeze', h.keyring, '--reason', 'incident INC-7']);
      const afterFreeze = await h.services.keyrings.get(h.keyring);
      const unfrozen = await cli([...base(), 'unfreeze', h.keyring]);
      const afterUnfreeze = await h.services.keyrings.get(h.keyring);
      // Assess
      expect([frozen.code, unfrozen.code]).toEqual([0, 0]);
      expect(afterFreeze.frozen?.reason).toBe('incident INC-7');
      expect(afterUnfreeze.frozen).toBeUndefined();
    });

    it('a second freeze keeps the first reason and says so; unfreeze of a keyring not frozen says so', async () => {
      // Act
      const first = await cli([...base(), 'freeze', h.keyring, '--reason', 'incident INC-8']);
      const second = await cli([...base(), 'freeze', h.keyring, '--reason', 'another reason', '--json']);
      const kept = await h.services.keyrings.get(h.keyring);
      const text = await cli([...base(), 'freeze', h.keyring, '--reason', 'third']);
      const lifted = await cli([...base(), 'unfreeze', h.keyring]);
      const again = await cli([...base(), 'unfreeze', h.keyring]);
      // Assess
      expect([first.code, second.code, text.code, lifted.code, again.code]).toEqual([0, 0, 0, 0, 0]);
      expect(kept.frozen?.reason).toBe('incident INC-8');
      // The freeze is recorded under the caller's IAM principal, not a local user name.
      expect(kept.frozen?.by).toMatch(/^arn:aws:/);
      expect(JSON.parse(second.stdout)).toEqual({ stack: stackName, keyring: h.keyring, frozen: true, changed: false, reason: 'incident INC-8', since: kept.frozen?.at, by: kept.frozen?.by });
      expect(text.stderr).toContain(`${h.keyring} already frozen since ${kept.frozen?.at ?? ''} (reason: incident INC-8); kept the first reason\n`);
      expect(text.stderr).not.toContain('third');
      expect(again.stderr).toContain(`${h.keyring} is not frozen; nothing to do\n`);
    });
  });

  describe('plan', () => {
    it('prints what the next ticks would do, in text and JSON, from the deployed catalog', async () => {
      // Act
      const json = await cli([...base(), 'plan', h.keyring, '--json']);
      const text = await cli([...base(), 'plan', h.keyring]);
      // Assess
      expect(json.code).toBe(0);
      const body = JSON.parse(json.stdout) as { stack: string; keyrings: Array<{ keyring: string; versions: Array<{ version: number; state: string }> }> };
      expect(body.stack).toBe(stackName);
      expect(body.keyrings.map((k) => k.keyring)).toEqual([h.keyring]);
      expect(body.keyrings[0]?.versions.map((v) => [v.version, v.state])).toEqual([[1, 'active']]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`keyring ${h.keyring} at `);
    });
  });

  describe('revoke', () => {
    it('puts a Key Version Compromised event on the stack bus, which the rule delivers', async () => {
      // Act
      const r = await cli([...base(), 'revoke', h.keyring, '--version', '1', '--reason', 'leaked in a log', '--yes']);
      // Assess
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^revocation requested: event \S+ on bus /);
      const msgs = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }));
      const events = (msgs.Messages ?? []).map((m) => JSON.parse(m.Body as string) as { source: string; 'detail-type': string; detail: unknown });
      expect(events).toEqual([
        expect.objectContaining({ source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: h.keyring, version: 1, reason: 'leaked in a log', requestedBy: expect.stringMatching(/^arn:aws:/) } }),
      ]);
    });

    it('without a terminal and without --yes, refuses with exit 2 and sends nothing', async () => {
      // Act
      const r = await cli([...base(), 'revoke', h.keyring, '--version', '1', '--reason', 'leaked in a log']);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`rekey: revoke ${h.keyring} v1 in stack ${stackName} (us-east-1) cannot be undone: confirm with --yes (no terminal to ask on); nothing was changed\n`);
      const msgs = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      expect(msgs.Messages ?? []).toHaveLength(0);
    });

    it('refuses a bad version with exit 2 and sends nothing', async () => {
      const r = await cli([...base(), 'revoke', h.keyring, '--version', 'one', '--reason', 'x']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^rekey: --version must be a positive integer/);
      const msgs = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      expect(msgs.Messages ?? []).toHaveLength(0);
    });
  });

  describe('rotate and escrow verify (deployed functions)', () => {
    it('invokes the rotate function with force, the operator and the reason', async () => {
      // Prepare
      const lambda = new LambdaClient({ region: 'us-east-1', credentials: creds });
      const mock = mockClient(lambda);
      mock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify({ ok: true, results: [{ keyring: h.keyring, status: 'created', version: 2 }] })) as never });
      // Act
      const r = await cli([...base(), 'rotate', h.keyring, '--reason', 'quarterly'], lambda);
      // Assess
      expect(r.code).toBe(0);
      const call = mock.commandCalls(InvokeCommand)[0]!.args[0].input;
      expect(call.FunctionName).toBe('rekey-rotate-fn');
      // The actor is the caller's IAM principal (STS GetCallerIdentity), not a local user name.
      expect(JSON.parse(Buffer.from(call.Payload as Uint8Array).toString())).toEqual({ keyring: h.keyring, force: true, actor: expect.stringMatching(/^arn:aws:/), reason: 'quarterly' });
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`created version 2 of ${h.keyring} (pending; becomes active after the propagation window)\n`);
    });

    it('exits non-zero with one line when the escrow drill reports a failure', async () => {
      // Prepare
      const lambda = new LambdaClient({ region: 'us-east-1', credentials: creds });
      const mock = mockClient(lambda);
      mock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify({ ok: false, action: 'drill', results: [] })) as never });
      // Act
      const r = await cli([...base(), 'escrow', 'verify'], lambda);
      // Assess
      expect(r.code).toBe(7);
      expect(r.stderr.trim().split('\n').pop()).toBe('rekey: escrow drill failed for at least one version');
      expect(JSON.parse(Buffer.from(mock.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array).toString())).toEqual({ action: 'drill' });
    });

    it('maps a function error to exit 6 without echoing the payload', async () => {
      const lambda = new LambdaClient({ region: 'us-east-1', credentials: creds });
      mockClient(lambda).on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from('{"errorMessage":"secret-ish detail"}') as never });
      const r = await cli([...base(), 'rotate', h.keyring], lambda);
      expect(r.code).toBe(6);
      expect(r.stderr).not.toContain('secret-ish');
    });
  });
});
