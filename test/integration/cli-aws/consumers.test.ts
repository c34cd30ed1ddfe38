/**
 * `rekey --aws consumers`: the CLI writes the registry document in the deployed catalog bucket
 * (moto S3) with the operator's credentials, refuses roles outside the stack's ConsumerAccounts
 * output, and key-access then grants from the document it wrote.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateKeyCommand, ListGrantsCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { openAws } from '../../../cli/aws-context';
import { runCli } from '../cli/support/cli-harness';
import { createKeyAccessHandler } from '../../../functions/key-access/handler';
import { STACK_OUTPUTS } from '../../../shared/config/stack-outputs';
import { buildKeyAccessServices } from '../../../shared/compose/aws/key-access-services';
import { createHarness, motoUrl, RecordingMetrics, uniqueName, type Harness } from '../functions/support/harness';

const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const ORDERS = 'arn:aws:iam::111122223333:role/orders';

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCli(argv, { runOptions: { awsOpener: (o) => openAws(o) } });
  return { ...r, stdout: r.stdout.toString('utf8') };
}

async function createStack(h: Harness, extra: Record<string, string>): Promise<string> {
  const stackName = uniqueName('Rekey').replace(/[^A-Za-z0-9-]/g, '');
  const outputs: Record<string, { Value: string }> = {};
  for (const [key, variable] of Object.entries(STACK_OUTPUTS)) {
    if (variable !== undefined && h.env[variable] !== undefined) outputs[key] = { Value: h.env[variable] };
  }
  for (const [key, value] of Object.entries(extra)) outputs[key] = { Value: value };
  const cfn = new CloudFormationClient({ endpoint: motoUrl(), region: 'us-east-1', credentials: creds });
  await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify({ Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } }, Outputs: outputs }) }));
  return stackName;
}

describe('rekey --aws consumers', () => {
  let h: Harness;
  let stack: string;
  let oldStack: string;
  const base = (name = stack) => ['--aws', '--endpoint', motoUrl(), '--region', 'us-east-1', '--stack', name];

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    h = await createHarness();
    stack = await createStack(h, { ConsumerAccounts: JSON.stringify(['123456789012', '111122223333']) });
    oldStack = await createStack(h, {});
  });
  afterAll(async () => {
    await h.close();
  });

  it('writes consumers/<keyring>.json in the catalog bucket, says key-access grants it, and key-access does', async () => {
    // Act
    const r = await cli([...base(), 'consumers', 'add', h.keyring, ORDERS, '--decrypt-only']);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(
      `registered ${ORDERS} on keyring ${h.keyring} (decrypt); the key-access function of stack ${stack} grants it on the S3 event of this write (its schedule is the backstop); follow with 'rekey --aws consumers list ${h.keyring}'`,
    );
    expect(r.stderr).toContain(`rekey: acted on stack ${stack} in us-east-1`);
    const raw = await h.clients.s3.send(new GetObjectCommand({ Bucket: h.buckets.catalog, Key: `consumers/${h.keyring}.json` }));
    const doc = JSON.parse((await raw.Body?.transformToString('utf8')) ?? '') as { consumers: Array<{ principalArn: string; access: string; addedBy: string }> };
    expect(doc.consumers).toEqual([expect.objectContaining({ principalArn: ORDERS, access: 'decrypt', addedBy: expect.stringMatching(/^arn:aws:(iam|sts)::\d{12}:/) as unknown })]);

    // key-access, on the S3 event of that write.
    const opsKeyArn = (await h.clients.kms.send(new CreateKeyCommand({ Description: 'ops' }))).KeyMetadata?.Arn as string;
    const services = buildKeyAccessServices(h.config, { clients: h.clients, grantees: {}, consumerBound: { accounts: ['111122223333'], opsKeyArn } });
    const handler = createKeyAccessHandler({ services: () => services, logger: { info: () => undefined, warn: () => undefined, error: () => undefined }, metrics: new RecordingMetrics() });
    await handler({ source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: h.buckets.catalog }, object: { key: `consumers/${h.keyring}.json` } } });
    const grants = await h.clients.kms.send(new ListGrantsCommand({ KeyId: h.keyArn }));
    expect((grants.Grants ?? []).map((g) => g.GranteePrincipal)).toEqual([ORDERS]);
  });

  it('lists the consumers the stack\'s registry holds', async () => {
    // Act
    const r = await cli([...base(), 'consumers', 'list', h.keyring, '--json']);
    // Assess
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { keyrings: Array<{ consumers: Array<{ principalArn: string }> }> }).keyrings[0]?.consumers.map((c) => c.principalArn)).toEqual([ORDERS]);
  });

  it('refuses a role outside the stack\'s ConsumerAccounts with exit 2', async () => {
    // Act
    const r = await cli([...base(), 'consumers', 'add', h.keyring, 'arn:aws:iam::999999999999:role/x']);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/account 999999999999, outside the consumer accounts the stack was deployed with \(123456789012, 111122223333\)/);
  });

  it('refuses to register on a stack deployed without the registry (no ConsumerAccounts output)', async () => {
    // Act
    const r = await cli([...base(oldStack), 'consumers', 'add', h.keyring, ORDERS]);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no ConsumerAccounts output: it was deployed without the consumer registry/);
  });

  it('removes the consumer; a second remove is no change', async () => {
    // Act
    const first = await cli([...base(), 'consumers', 'remove', h.keyring, ORDERS, '--json']);
    const again = await cli([...base(), 'consumers', 'remove', h.keyring, ORDERS, '--json']);
    // Assess
    expect(JSON.parse(first.stdout)).toMatchObject({ outcome: 'removed', grants: 'key-access' });
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged' });
    expect(first.stderr).toContain('revokes its grants on the S3 event of this write');
  });

  it("'outputs' prints the stack's outputs as one object that the client's loader accepts", async () => {
    // Act
    const r = await cli([...base(), 'outputs']);
    // Assess
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, string>;
    expect(printed.CatalogBucket).toBe(h.env.REKEY_CATALOG_BUCKET);
    expect(JSON.parse(printed.ConsumerAccounts as string)).toEqual(['123456789012', '111122223333']);
    expect(Object.keys(printed)).toEqual([...Object.keys(printed)].sort((a, b) => a.localeCompare(b)));
    const { configFromOutputs } = await import('../../../shared/app/client-config');
    expect(configFromOutputs(printed, 'us-east-1').catalogBucket).toBe(h.env.REKEY_CATALOG_BUCKET);
  });
});
