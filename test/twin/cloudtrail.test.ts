/**
 * The twin's CloudTrail (drivers/cloudtrail.ts) end to end on real parts: SDK v3 KMS clients →
 * the authorizing proxy → a private moto_server; each judged KMS request becomes a CloudTrail
 * record on the default bus, where rules in each State receive it or not (event-bus.ts
 * `receives`), and a pattern on `detail.resources.ARN` matches inside the record's array of
 * objects (event-pattern.ts). The authorizer is a table; the Lambda side of the invoker records.
 */
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import type { AuthzDecision, AuthzRequest, RequestAuthorizer } from './authz/types';
import { cloudTrailEvent, CLOUDTRAIL_DETAIL_TYPE, TwinCloudTrail, type CloudTrailRecord } from './drivers/cloudtrail';
import { receives, TwinEventBus } from './drivers/event-bus';
import { matchesPattern } from './drivers/event-pattern';
import type { TargetInvoker } from './drivers/types';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { startTwinProxy, type TwinProxy } from './proxy';
import { SimClock, TwinWorld, type TwinRole, type TwinRule } from './world';

const T0 = Date.parse('2027-02-01T08:00:00Z');

/** Allows the (role, action) rows it holds; everything else is denied with AWS's wording. */
class TableAuthorizer implements RequestAuthorizer {
  public constructor(private readonly rows: readonly { who: string; action: string }[]) {}
  public async authorize(r: AuthzRequest): Promise<AuthzDecision> {
    const who = r.principal.kind === 'role' ? r.principal.arn : r.principal.kind === 'service' ? r.principal.service : 'anonymous';
    const ok = this.rows.some((row) => row.who === who && row.action === r.action);
    return ok ? { allowed: true, reason: 'table allows' } : { allowed: false, reason: `User: ${who} is not authorized to perform: ${r.action} on resource: ${r.resource}` };
  }
}

function role(name: string): TwinRole {
  return { logicalId: name, name, arn: `arn:aws:iam::123456789012:role/${name}`, trust: { Statement: [] }, policies: [], accessKeyId: `AKIA${name.toUpperCase()}`, secretAccessKey: 'secret' };
}

const app = role('orders');
const fnRole = role('Rekey-FngraceperiodRole');
const intruder = role('intruder');
const world = new TwinWorld();
for (const r of [app, fnRole, intruder]) world.roles.set(r.arn, r);
// A deployed function with its own role: its session is named after the function.
world.functions.set('Rekey-grace-period', {
  logicalId: 'Fngraceperiod', name: 'Rekey-grace-period', arn: `arn:aws:lambda:us-east-1:${world.account}:function:Rekey-grace-period`, roleArn: fnRole.arn,
  handler: 'index.handler', assetDir: '', runtime: 'nodejs24.x', environment: {}, timeoutSeconds: 60, memoryMiB: 256, permissions: [],
});
const authorizer = new TableAuthorizer([
  ...['kms:CreateKey', 'kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey'].map((action) => ({ who: app.arn, action })),
  { who: fnRole.arn, action: 'kms:Decrypt' },
  { who: 'events.amazonaws.com', action: 'lambda:InvokeFunction' },
]);
const clock = new SimClock(T0);
const invoked: { arn: string; payload: unknown }[] = [];
const invoker: TargetInvoker = {
  invokeLambdaAsync: async (arn, payload) => void invoked.push({ arn, payload }),
  startExecution: async () => undefined,
  sendToQueue: async () => undefined,
  publish: async () => undefined,
};
const bus = new TwinEventBus({ world, clock, authorizer, invoker });
const trail = new TwinCloudTrail({ world, bus });
const pending: Promise<void>[] = [];

let moto: PrivateMoto;
let proxy: TwinProxy;
let keyArn: string;

const kms = (r: TwinRole): KMSClient =>
  new KMSClient({ endpoint: proxy.url, region: 'us-east-1', credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey }, systemClockOffset: T0 - Date.now(), maxAttempts: 1 });

/** A rule on the default bus targeting a recorded "function". */
function rule(name: string, state: TwinRule['state'], pattern: Record<string, unknown>): string {
  const arn = `arn:aws:events:us-east-1:${world.account}:rule/${name}`;
  const target = `arn:aws:lambda:us-east-1:${world.account}:function:${name}-target`;
  world.functions.set(`${name}-target`, {
    logicalId: name, name: `${name}-target`, arn: target, roleArn: 'arn:aws:iam::123456789012:role/none',
    handler: 'index.handler', assetDir: '', runtime: 'nodejs24.x', environment: {}, timeoutSeconds: 60, memoryMiB: 256, permissions: [],
  });
  world.rules.set(arn, { logicalId: name, name, arn, busName: 'default', pattern, state, targets: [{ id: 't', arn: target, retry: { maximumRetryAttempts: 0 } }] });
  return target;
}

/** Records every request CloudTrail delivers to `name`'s target. */
const deliveredTo = (target: string): CloudTrailRecord[] => invoked.filter((i) => i.arn === target).map((i) => (i.payload as { detail: CloudTrailRecord }).detail);

async function settled(): Promise<void> {
  await Promise.all(pending.splice(0));
}

beforeAll(async () => {
  moto = await startPrivateMoto();
  proxy = await startTwinProxy({
    world,
    motoUrl: moto.url,
    authorizer,
    now: () => clock.now(),
    hooks: {
      after: (req, reply) => void (TwinCloudTrail.covers(req) && pending.push(trail.observe(req, reply))),
      denied: (req, reply) => void (TwinCloudTrail.covers(req) && pending.push(trail.observe(req, reply))),
    },
  });
  const out = await kms(app).send(new CreateKeyCommand({ Description: 'pii keyring key' }));
  keyArn = out.KeyMetadata?.Arn ?? '';
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
});

describe('TwinCloudTrail', () => {
  describe('observe', () => {
    it('records a Decrypt as CloudTrail logs it: role session, context, algorithm, key resource, no ciphertext or plaintext', async () => {
      // Prepare
      const context = { keyring: 'pii', version: '1' };
      const enc = await kms(app).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('version key v1'), EncryptionContext: context }));
      trail.records.length = 0;

      // Act
      await kms(fnRole).send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }));
      await settled();

      // Assess
      expect(trail.records).toHaveLength(1);
      const record = trail.records[0] as CloudTrailRecord;
      expect(record).toMatchObject({
        eventSource: 'kms.amazonaws.com',
        eventName: 'Decrypt',
        awsRegion: world.region,
        eventTime: '2027-02-01T08:00:00Z',
        readOnly: true,
        managementEvent: true,
        eventCategory: 'Management',
        eventType: 'AwsApiCall',
        responseElements: null,
        requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: context },
        resources: [{ accountId: world.account, type: 'AWS::KMS::Key', ARN: keyArn }],
        userIdentity: {
          type: 'AssumedRole',
          arn: `arn:aws:sts::${world.account}:assumed-role/${fnRole.name}/Rekey-grace-period`,
          sessionContext: { sessionIssuer: { type: 'Role', arn: fnRole.arn, userName: fnRole.name } },
        },
      });
      expect(record.errorCode).toBeUndefined();
      expect(record.requestParameters).not.toHaveProperty('keyId');
      const text = JSON.stringify(record);
      expect(text).not.toContain(Buffer.from(enc.CiphertextBlob ?? new Uint8Array()).toString('base64'));
      expect(text).not.toContain(Buffer.from('version key v1').toString('base64'));
    });

    it('records a denied Decrypt with errorCode AccessDeniedException and the caller', async () => {
      // Prepare
      const context = { keyring: 'pii', version: '2' };
      const enc = await kms(app).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('k2'), EncryptionContext: context }));
      trail.records.length = 0;

      // Act
      const err = await kms(intruder).send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context, KeyId: keyArn })).then(() => undefined, (e: unknown) => e as { name?: string });
      await settled();

      // Assess
      expect(err?.name).toBe('AccessDeniedException');
      expect(trail.records).toHaveLength(1);
      expect(trail.records[0]).toMatchObject({
        eventName: 'Decrypt',
        errorCode: 'AccessDeniedException',
        requestParameters: { keyId: keyArn, encryptionContext: context },
        userIdentity: { arn: `arn:aws:sts::${world.account}:assumed-role/intruder/intruder` },
      });
      expect(trail.records[0]?.errorMessage).toContain('kms:Decrypt');
    });

    it('marks DescribeKey read-only with its reply as responseElements, and Encrypt read-only without one', async () => {
      // Prepare
      trail.records.length = 0;

      // Act
      await kms(app).send(new DescribeKeyCommand({ KeyId: keyArn }));
      await kms(app).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x'), EncryptionContext: { keyring: 'pii', version: '3' } }));
      await settled();

      // Assess
      expect(trail.records.map((r) => [r.eventName, r.readOnly, r.responseElements === null])).toEqual([
        ['DescribeKey', true, false],
        ['Encrypt', true, true],
      ]);
      expect(trail.records[0]?.responseElements).toMatchObject({ keyMetadata: { arn: keyArn } });
    });
  });

  describe('delivery to the default bus', () => {
    it('reaches a rule only in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, matching detail.resources.ARN, successful calls only', async () => {
      // Prepare
      const pattern = { source: ['aws.kms'], 'detail-type': [CLOUDTRAIL_DETAIL_TYPE], detail: { eventName: ['Decrypt'], resources: { ARN: [keyArn] }, errorCode: [{ exists: false }] } };
      const all = rule('with-management', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', pattern);
      const plain = rule('enabled', 'ENABLED', pattern);
      const off = rule('disabled', 'DISABLED', pattern);
      const otherKey = rule('other-key', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', { ...pattern, detail: { ...pattern.detail, resources: { ARN: [`${keyArn}0`] } } });
      const context = { keyring: 'pii', version: '4' };
      const enc = await kms(app).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('k4'), EncryptionContext: context }));

      // Act
      await kms(fnRole).send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }));
      await kms(intruder).send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context })).catch(() => undefined);
      await settled();

      // Assess
      expect(deliveredTo(all).map((r) => [r.eventName, r.requestParameters?.['encryptionContext'], r.userIdentity['arn']])).toEqual([
        ['Decrypt', context, `arn:aws:sts::${world.account}:assumed-role/${fnRole.name}/Rekey-grace-period`],
      ]);
      expect(deliveredTo(plain)).toEqual([]);
      expect(deliveredTo(off)).toEqual([]);
      expect(deliveredTo(otherKey)).toEqual([]);
      const delivered = invoked.find((i) => i.arn === all)?.payload as { source: string; 'detail-type': string; resources: unknown[] };
      expect([delivered.source, delivered['detail-type'], delivered.resources]).toEqual(['aws.kms', CLOUDTRAIL_DETAIL_TYPE, []]);
    });
  });
});

describe('receives', () => {
  const record = { eventSource: 'kms.amazonaws.com', eventTime: '2027-02-01T08:00:00Z' } as CloudTrailRecord;
  const event = (readOnly: boolean) => cloudTrailEvent(world, { ...record, readOnly, managementEvent: true });

  it.each([
    ['ENABLED', true, false],
    ['ENABLED', false, true],
    ['ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', true, true],
    ['ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', false, true],
    ['DISABLED', false, false],
  ] as const)('a rule in state %s receives a CloudTrail event with readOnly %s: %s', (state, readOnly, want) => {
    expect(receives({ state }, event(readOnly))).toBe(want);
  });

  it('an ENABLED rule still receives read-only events that are not CloudTrail API calls', () => {
    const other = { ...event(true), 'detail-type': 'Object Created' };
    expect(receives({ state: 'ENABLED' }, other)).toBe(true);
  });
});

describe('matchesPattern on arrays of objects', () => {
  it('matches a nested pattern when any element of the array matches, and not when none does', () => {
    const e = { detail: { resources: [{ type: 'AWS::KMS::Key', ARN: 'a' }, { type: 'AWS::KMS::Key', ARN: 'b' }] } };
    expect(matchesPattern({ detail: { resources: { ARN: ['b'] } } }, e)).toBe(true);
    expect(matchesPattern({ detail: { resources: { ARN: ['c'] } } }, e)).toBe(false);
    expect(matchesPattern({ detail: { resources: { ARN: ['a'], type: ['AWS::S3::Object'] } } }, e)).toBe(false);
  });
});
