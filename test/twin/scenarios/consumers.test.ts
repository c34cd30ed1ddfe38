/**
 * Issue 13, cross-account consumers on the deployed-stack twin: the stack deployed with
 * `consumerAccounts: [own, OTHER]`; an application role in OTHER whose identity policy is exactly
 * what `Rekey.fromOutputs(...).keyring('pii').grantDecrypt(role)` synthesizes in the
 * application's own stack; the platform team registers it with `rekey --aws consumers add`
 * (no redeploy), key-access reconciles the registry into grants, and the application's
 * createRekeyClient({ outputs }) encrypts and decrypts through the authorizing proxy as AWS
 * would evaluate it across accounts (identity policy AND bucket policy; KMS grants). Before
 * registration and after `consumers remove` it is denied; a role of a third account (not in
 * consumerAccounts) is never granted anything.
 */
import { ListGrantsCommand, KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Rekey } from '../../../infra';
import { createRekeyClient, type RekeyClient } from '../../../shared/app/client';
import { IntrinsicResolver } from '../standup/intrinsics';
import type { CfnTemplate } from '../standup/template';
import { Twin } from '../twin';
import { TWIN_ACCOUNT, TWIN_REGION, type PolicyDocument, type RequestLogEntry, type TwinRole } from '../world';
import { operatorPolicyFromDoc } from './operators-setup';

jest.setTimeout(20 * 60_000);

const OTHER = '444455556666';
const THIRD = '777788889999';
const OPERATOR = 'rekey-operator';
const roleArn = (account: string, name: string): string => `arn:aws:iam::${account}:role/${name}`;

/**
 * The identity policy the application's own CDK stack gives its role for the imported keyring,
 * synthesized from the construct and resolved as CloudFormation would in OTHER.
 */
function consumerPolicyFromConstruct(outputs: Readonly<Record<string, string>>): PolicyDocument {
  const app = new App();
  const stack = new Stack(app, 'Orders', { env: { account: OTHER, region: TWIN_REGION } });
  const role = new iam.Role(stack, 'OrdersRole', { roleName: 'orders', assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  Rekey.fromOutputs(stack, 'R', outputs).keyring('pii').grantDecrypt(role);
  const template = app.synth().getStackByName('Orders').template as CfnTemplate;
  const policies = Object.values(template.Resources).filter((r) => r.Type === 'AWS::IAM::Policy');
  expect(policies).toHaveLength(1);
  const resolver = new IntrinsicResolver(template, {
    account: OTHER,
    region: TWIN_REGION,
    partition: 'aws',
    stackName: 'Orders',
    stackId: `arn:aws:cloudformation:${TWIN_REGION}:${OTHER}:stack/Orders/1`,
    // The consumer policy names rekey's resources (literal, from the outputs), never the stack's own.
    ref: (id) => {
      throw new Error(`consumer policy refers to ${id} of its own stack`);
    },
    getAtt: (id, attr) => {
      throw new Error(`consumer policy refers to ${id}.${attr} of its own stack`);
    },
  });
  return resolver.resolve((policies[0]!.Properties as Record<string, unknown>)['PolicyDocument']) as PolicyDocument;
}

describe('issue 13: cross-account consumers, registered without a redeploy', () => {
  let twin: Twin;
  let operator: TwinRole;
  let orders: TwinRole;
  let stranger: TwinRole;
  const expectedDenials = new Set<RequestLogEntry>();

  /** The application's client acting as `role` through the proxy at the simulated time. */
  const clientAs = async (role: TwinRole): Promise<{ rekey: RekeyClient; close: () => void }> => {
    const config = twin.clientConfig(role);
    const s3 = new S3Client({ ...config, forcePathStyle: true, maxAttempts: 1 });
    const kms = new KMSClient({ ...config, maxAttempts: 1 });
    // The simulated clock moves between calls: keep the signing offset current (as ../application.ts does).
    const resync = (): void => {
      for (const c of [s3.config, kms.config]) (c as { systemClockOffset: number }).systemClockOffset = twin.clock.now() - Date.now();
    };
    s3.middlewareStack.add((next) => (args) => (resync(), next(args)), { step: 'initialize', name: 'twinClock' });
    kms.middlewareStack.add((next) => (args) => (resync(), next(args)), { step: 'initialize', name: 'twinClock' });
    const rekey = await createRekeyClient({ outputs: twin.world.outputs, clients: { s3, kms }, metrics: { publish: () => undefined } as never });
    return { rekey, close: () => (s3.destroy(), kms.destroy()) };
  };
  const deniedSince = (from: number): RequestLogEntry[] => {
    const denied = twin.world.requestLog.slice(from).filter((r) => !r.allowed);
    for (const d of denied) expectedDenials.add(d);
    return denied;
  };
  const grantsTo = async (grantee: string): Promise<number> => {
    const admin = new KMSClient({ endpoint: twin.moto.url, region: TWIN_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    try {
      const keys = [...twin.world.keys.values()].map((k) => k.arn);
      let n = 0;
      for (const key of keys) n += ((await admin.send(new ListGrantsCommand({ KeyId: key }))).Grants ?? []).filter((g) => g.GranteePrincipal === grantee).length;
      return n;
    } finally {
      admin.destroy();
    }
  };
  const roundTrip = async (role: TwinRole): Promise<string> => {
    const { rekey, close } = await clientAs(role);
    try {
      const envelope = await rekey.encrypt('pii', 'card 4111', { context: { customer: 'c-42' } });
      return (await rekey.decrypt(envelope, { context: { customer: 'c-42' } })).plaintext.toString('utf8');
    } finally {
      await rekey.close();
      close();
    }
  };

  beforeAll(async () => {
    const policy = await operatorPolicyFromDoc(0, { region: TWIN_REGION, account: TWIN_ACCOUNT, stack: 'Rekey' });
    twin = await Twin.standUp({
      context: { operatorRoleArns: [roleArn(TWIN_ACCOUNT, OPERATOR)], consumerAccounts: [TWIN_ACCOUNT, OTHER] },
      roles: [
        { name: OPERATOR, policies: [policy] },
        { name: 'orders', account: OTHER, policies: [] },
        { name: 'orders', account: THIRD, policies: [] },
      ],
    });
    operator = twin.role(OPERATOR);
    orders = twin.role('orders', OTHER);
    stranger = twin.role('orders', THIRD);
    // Exactly what the application's stack gives its role (both accounts' roles get the same policy).
    const consumerPolicy = consumerPolicyFromConstruct(twin.world.outputs);
    orders.policies = [consumerPolicy];
    stranger.policies = [consumerPolicy];
  });

  afterAll(async () => {
    await twin?.close();
  });

  it('denies the consumer before it is registered: its identity policy alone opens nothing in the stack account', async () => {
    const from = twin.world.requestLog.length;
    await expect(roundTrip(orders)).rejects.toThrow();
    expect(deniedSince(from).length).toBeGreaterThan(0);
    expect(await grantsTo(orders.arn)).toBe(0);
  });

  it('registers the role with `rekey --aws consumers add`; key-access grants it; the application encrypts and decrypts', async () => {
    const added = await twin.cli(['consumers', 'add', 'pii', orders.arn], operator);
    expect(added).toMatchObject({ code: 0 });
    await twin.advance(15 * 60_000);
    expect(await grantsTo(orders.arn)).toBeGreaterThan(0);
    const from = twin.world.requestLog.length;
    await expect(roundTrip(orders)).resolves.toBe('card 4111');
    expect(deniedSince(from)).toEqual([]);
  });

  it('refuses (or never grants) a role of an account outside consumerAccounts', async () => {
    const from = twin.world.requestLog.length;
    const refused = await twin.cli(['consumers', 'add', 'pii', stranger.arn], operator);
    await twin.advance(15 * 60_000);
    // The contract: a registry principal outside REKEY_CONSUMER_ACCOUNTS is a ValidationError.
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(THIRD);
    expect(await grantsTo(stranger.arn)).toBe(0);
    await expect(roundTrip(stranger)).rejects.toThrow();
    deniedSince(from);
  });

  it('denies the consumer again after `rekey --aws consumers remove`', async () => {
    expect(await twin.cli(['consumers', 'remove', 'pii', orders.arn], operator)).toMatchObject({ code: 0 });
    await twin.advance(15 * 60_000);
    expect(await grantsTo(orders.arn)).toBe(0);
    const from = twin.world.requestLog.length;
    await expect(roundTrip(orders)).rejects.toThrow();
    const denied = deniedSince(from);
    expect(denied.every((d) => d.caller === orders.arn)).toBe(true);
  });

  it('shows only the expected denials', () => {
    const unexpected = twin.deniedRequests().filter((d) => !expectedDenials.has(d));
    expect(unexpected.map((d) => `${d.caller} ${d.action} ${d.resources.join(',')}: ${d.reason ?? ''}`)).toEqual([]);
    for (const d of expectedDenials) expect([orders.arn, stranger.arn]).toContain(d.caller);
  });
});
