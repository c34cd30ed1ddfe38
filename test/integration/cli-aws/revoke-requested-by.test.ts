/**
 * `rekey --aws revoke` names who asked: the CLI reads its own identity with STS
 * GetCallerIdentity (moto_server) and sends it as `detail.requestedBy`, an assumed-role session
 * written as the role's ARN (as `aws:PrincipalArn` reads it). The event goes through a real
 * EventBridge rule to SQS, where we read what the CLI sent.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { run } from '../../../cli/main';
import { openAws } from '../../../cli/aws-context';
import { STACK_OUTPUTS } from '../../../infra/outputs';
import { createHarness, motoUrl, uniqueName, type Harness } from '../functions/support/harness';

const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

async function cli(argv: string[], eventBridge?: EventBridgeClient): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stdout += Buffer.from(chunk).toString();
    (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await run(argv, { awsOpener: (o) => openAws({ ...o, ...(eventBridge ? { clients: { eventBridge } } : {}) }) });
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('rekey --aws revoke: requestedBy', () => {
  let h: Harness;
  let stackName: string;
  let busName: string;
  let queueUrl: string;
  const base = () => ['--aws', '--endpoint', motoUrl(), '--region', 'us-east-1', '--stack', stackName];
  const sqs = new SQSClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });

  const received = async (): Promise<Array<{ detail: Record<string, unknown> }>> => {
    const msgs = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }));
    return (msgs.Messages ?? []).map((m) => JSON.parse(m.Body as string) as { detail: Record<string, unknown> });
  };

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
    stackName = uniqueName('Rekey').replace(/[^A-Za-z0-9-]/g, '');
    const env: Record<string, string> = { ...h.env, REKEY_EVENT_BUS_NAME: busName };
    const outputs: Record<string, { Value: string }> = {};
    for (const [key, variable] of Object.entries(STACK_OUTPUTS)) {
      if (variable !== undefined && env[variable] !== undefined) outputs[key] = { Value: env[variable] };
    }
    outputs.FunctionNames = { Value: JSON.stringify({ rotate: 'rekey-rotate-fn', escrow: 'rekey-escrow-fn' }) };
    const cfn = new CloudFormationClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });
    await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify({ Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } }, Outputs: outputs }) }));
  });

  afterAll(async () => {
    await h.close();
  });

  it('sends the role ARN of an assumed-role session, not the session ARN nor $USER', async () => {
    // Prepare: a session of role SecOps (moto STS AssumeRole:
    // https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
    const sts = new STSClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/SecOps', RoleSessionName: 'alice' }));
    expect(assumed.AssumedRoleUser?.Arn).toBe('arn:aws:sts::123456789012:assumed-role/SecOps/alice');
    const c = assumed.Credentials!;
    const session: Credentials = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    const eventBridge = new EventBridgeClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: session });
    // Act
    const r = await cli([...base(), 'revoke', h.keyring, '--version', '1', '--reason', 'leaked in a log', '--yes'], eventBridge);
    // Assess
    expect(r.stderr).toBe(`rekey: acted on stack ${stackName} in us-east-1\n`);
    expect(r.code).toBe(0);
    expect((await received()).map((e) => e.detail)).toEqual([
      { keyring: h.keyring, version: 1, reason: 'leaked in a log', requestedBy: 'arn:aws:iam::123456789012:role/SecOps' },
    ]);
  });

  it('sends any caller that is not a role session as STS names it', async () => {
    // Prepare: who the default credentials are (moto answers with its built-in user)
    const sts = new STSClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });
    const caller = (await sts.send(new GetCallerIdentityCommand({}))).Arn as string;
    expect(caller).not.toMatch(/assumed-role/);
    // Act
    const r = await cli([...base(), 'revoke', h.keyring, '--version', '1', '--reason', 'second report', '--yes']);
    // Assess
    expect(r.code).toBe(0);
    const details = (await received()).map((e) => e.detail);
    expect(details).toEqual([{ keyring: h.keyring, version: 1, reason: 'second report', requestedBy: caller }]);
  });
});
