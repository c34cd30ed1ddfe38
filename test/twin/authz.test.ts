/**
 * The twin's authorizer against a hand-filled world (./authz/test-world.ts, policies copied in
 * shape from the synthesized template) and a private moto_server for real KMS grants.
 *
 * Expected decisions follow the AWS pages cited in ./authz/authorize.ts: IAM "Policy evaluation
 * for requests within a single account", KMS "Default key policy" (the key policy is
 * authoritative), KMS API "GrantConstraints", Lambda "Viewing resource-based IAM policies".
 */
import { CreateGrantCommand, CreateKeyCommand, KMSClient, RevokeGrantCommand } from '@aws-sdk/client-kms';
import { TWIN_ACCOUNT as A } from './world';
import { Authorizer } from './authz/authorize';
import { installIamSimulatePatch, isIamSimulatePatchInstalled, uninstallIamSimulatePatch } from './authz/iam-simulate-patch';
import { grantVerdict, MotoGrantSource } from './authz/kms-grants';
import { ARNS, buildWorld, KEY_ADMIN_ACTIONS } from './authz/test-world';
import { mapRequest } from './request-map';
import type { AuthzRequest, RequestContext, TwinPrincipal } from './authz/types';
import { startPrivateMoto, type PrivateMoto } from './moto';

const role = (arn: string): TwinPrincipal => ({ kind: 'role', arn });
const service = (name: string): TwinPrincipal => ({ kind: 'service', service: name });
const ctx = (pairs: Record<string, string>): RequestContext => ({
  ...Object.fromEntries(Object.entries(pairs).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
  'kms:EncryptionContextKeys': Object.keys(pairs),
});

let moto: PrivateMoto;
let kms: KMSClient;
let grants: MotoGrantSource;
let keyringKey: string;
let opsKey: string;
let authz: Authorizer;
let world: ReturnType<typeof buildWorld>;
const decide = (r: AuthzRequest) => authz.authorize(r);

beforeAll(async () => {
  moto = await startPrivateMoto();
  kms = new KMSClient({ endpoint: moto.url, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  keyringKey = (await kms.send(new CreateKeyCommand({ Description: 'keyring pii' }))).KeyMetadata!.Arn!;
  opsKey = (await kms.send(new CreateKeyCommand({ Description: 'ops' }))).KeyMetadata!.Arn!;
  grants = new MotoGrantSource({ endpoint: moto.url });
  world = buildWorld({ keyring: keyringKey, ops: opsKey });
  authz = new Authorizer(world, grants);
});

afterAll(async () => {
  grants?.close();
  kms?.destroy();
  await moto?.stop();
});

describe('identity-based policies (S3, same account)', () => {
  const object = `${ARNS.catalogBucket}/catalog/pii/3.json`;

  it('allows what the role policy allows and denies a role without one', async () => {
    await expect(decide({ principal: role(ARNS.rotateRole), action: 's3:GetObject', resource: object })).resolves.toMatchObject({ allowed: true, reason: 'allowed by identity-based policy' });
    const denied = await decide({ principal: role(ARNS.reencryptRole), action: 's3:GetObject', resource: object });
    expect(denied).toEqual({ allowed: false, reason: `User: ${ARNS.reencryptRole} is not authorized to perform: s3:GetObject on resource: ${object} because no identity-based policy allows the s3:GetObject action` });
  });

  it('evaluates s3:prefix on ListBucket', async () => {
    const list = (prefix: string) => decide({ principal: role(ARNS.rotateRole), action: 's3:ListBucket', resource: ARNS.catalogBucket, context: { 's3:prefix': prefix } });
    expect((await list('catalog/pii/')).allowed).toBe(true);
    expect((await list('escrow/')).allowed).toBe(false);
  });

  it('maps an assumed-role session ARN to its role, and denies an unknown principal', async () => {
    const session = `arn:aws:sts::${A}:assumed-role/Rekey-FnrotateRole/rekey-rotate-session`;
    expect((await decide({ principal: role(session), action: 's3:GetObject', resource: object })).allowed).toBe(true);
    const stranger = await decide({ principal: role(`arn:aws:sts::${A}:assumed-role/Nobody/s`), action: 's3:GetObject', resource: object });
    expect(stranger.allowed).toBe(false);
    expect(stranger.reason).toContain('is not a role of this account');
  });
});

describe('bucket policies', () => {
  it('explicitly denies a request without TLS (enforceSSL) even when the identity policy allows it', async () => {
    const d = await decide({ principal: role(ARNS.rotateRole), action: 's3:GetObject', resource: `${ARNS.catalogBucket}/catalog/x`, context: { 'aws:SecureTransport': false } });
    expect(d).toEqual({ allowed: false, reason: `User: ${ARNS.rotateRole} is not authorized to perform: s3:GetObject on resource: ${ARNS.catalogBucket}/catalog/x with an explicit deny in a resource-based policy (bucket policy)` });
  });

  it('evaluates aws:PrincipalArn (only the escrow role may delete escrow objects)', async () => {
    const del = (arn: string) => decide({ principal: role(arn), action: 's3:DeleteObject', resource: `${ARNS.escrowBucket}/pii/3` });
    expect((await del(ARNS.escrowRole)).allowed).toBe(true);
    const rotate = await del(ARNS.rotateRole);
    expect(rotate.allowed).toBe(false);
    expect(rotate.reason).toContain('with an explicit deny in a resource-based policy');
  });
});

describe('key policies (authoritative for KMS)', () => {
  it('does not let an identity policy alone allow kms:Decrypt when the key policy names only the account root for administration', async () => {
    const d = await decide({ principal: role(ARNS.appRole), action: 'kms:Decrypt', resource: opsKey });
    expect(d).toEqual({ allowed: false, reason: `User: ${ARNS.appRole} is not authorized to perform: kms:Decrypt on resource: ${opsKey} because no resource-based policy allows the kms:Decrypt action` });
  });

  it('lets an identity policy count for actions the key policy gives the account root (DescribeKey), and says which policy is missing', async () => {
    expect((await decide({ principal: role(ARNS.appRole), action: 'kms:DescribeKey', resource: opsKey })).allowed).toBe(true);
    const noIdentity = await decide({ principal: role(ARNS.reencryptRole), action: 'kms:DescribeKey', resource: opsKey });
    expect(noIdentity.reason).toContain('because no identity-based policy allows the kms:DescribeKey action');
  });

  it('evaluates kms:ViaService: the catalog key is usable only through S3', async () => {
    const d = (context?: RequestContext) => decide({ principal: role(ARNS.keyaccessRole), action: 'kms:Decrypt', resource: opsKey, ...(context ? { context } : {}) });
    expect((await d()).allowed).toBe(false);
    expect((await d({ 'kms:ViaService': 's3.us-east-1.amazonaws.com' })).allowed).toBe(true);
  });

  it('evaluates kms:EncryptionContext:keyring, kms:EncryptionContextKeys (ForAllValues) and Null on version', async () => {
    const d = (context: RequestContext) => decide({ principal: role(ARNS.reencryptRole), action: 'kms:Decrypt', resource: keyringKey, context });
    expect(await d(ctx({ keyring: 'pii', version: '3' }))).toMatchObject({ allowed: true, reason: 'allowed by key policy' });
    expect((await d(ctx({ keyring: 'ops', version: '3' }))).allowed).toBe(false);
    expect((await d(ctx({ keyring: 'pii', version: '3', tenant: 'a' }))).allowed).toBe(false);
    expect((await d(ctx({ keyring: 'pii' }))).allowed).toBe(false);
  });

  it('needs the iam-simulate patch for kms:EncryptionContext:<key> (without it the matching request is denied)', async () => {
    const request: AuthzRequest = { principal: role(ARNS.reencryptRole), action: 'kms:Decrypt', resource: keyringKey, context: ctx({ keyring: 'pii', version: '7' }) };
    uninstallIamSimulatePatch();
    try {
      expect(isIamSimulatePatchInstalled()).toBe(false);
      expect((await decide(request)).allowed).toBe(false);
    } finally {
      installIamSimulatePatch();
    }
    expect((await decide(request)).allowed).toBe(true);
  });

  it('evaluates the CreateGrant conditions (kms:GrantOperations, GranteePrincipal, GrantConstraintType, GrantIsForAWSResource)', async () => {
    const grant = (ops: string[], grantee: string) =>
      decide({
        principal: role(ARNS.keyaccessRole),
        action: 'kms:CreateGrant',
        resource: keyringKey,
        context: { ...ctx({ keyring: 'pii', version: '3' }), 'kms:GrantOperations': ops, 'kms:GranteePrincipal': grantee, 'kms:GrantConstraintType': 'EncryptionContextEquals', 'kms:GrantIsForAWSResource': false },
      });
    expect((await grant(['Decrypt'], ARNS.escrowRole)).allowed).toBe(true);
    expect((await grant(['Decrypt', 'Encrypt'], ARNS.escrowRole)).allowed).toBe(false);
    expect((await grant(['Decrypt'], ARNS.rotateRole)).allowed).toBe(false);
  });

  it('evaluates actions without resource-level permissions (kms:ListAliases) on `*`, where identity policies decide', async () => {
    expect((await decide({ principal: role(ARNS.appRole), action: 'kms:ListAliases', resource: '*' })).allowed).toBe(true);
    expect((await decide({ principal: role(ARNS.reencryptRole), action: 'kms:ListAliases', resource: '*' })).reason).toContain('because no identity-based policy allows the kms:ListAliases action');
  });

  it('lets cloudwatch.amazonaws.com use the ops key only from this account (aws:SourceAccount)', async () => {
    const d = (account: string) => decide({ principal: service('cloudwatch.amazonaws.com'), action: 'kms:GenerateDataKey', resource: opsKey, context: { 'aws:SourceAccount': account } });
    expect((await d(A)).allowed).toBe(true);
    expect((await d('210987654321')).allowed).toBe(false);
  });
});

describe('KMS grants (live, from moto)', () => {
  const decrypt = (context: RequestContext) => decide({ principal: role(ARNS.escrowRole), action: 'kms:Decrypt', resource: keyringKey, context });

  it('allows Decrypt only with the exact context (EncryptionContextEquals), and stops once the grant is revoked', async () => {
    expect((await decrypt(ctx({ keyring: 'pii', version: '3' }))).allowed).toBe(false);
    const { GrantId } = await kms.send(
      new CreateGrantCommand({ KeyId: keyringKey, GranteePrincipal: ARNS.escrowRole, Operations: ['Decrypt'], Constraints: { EncryptionContextEquals: { keyring: 'pii', version: '3' } } }),
    );
    grants.invalidate(keyringKey);
    expect(await decrypt(ctx({ keyring: 'pii', version: '3' }))).toEqual({ allowed: true, reason: `allowed by KMS grant ${GrantId}` });
    const otherVersion = await decrypt(ctx({ keyring: 'pii', version: '2' }));
    expect(otherVersion.allowed).toBe(false);
    expect(otherVersion.reason).toContain('grant constraint does not match the encryption context');
    expect((await decrypt(ctx({ keyring: 'pii', version: '3', extra: 'x' }))).allowed).toBe(false);
    const generate = await decide({ principal: role(ARNS.escrowRole), action: 'kms:GenerateDataKey', resource: keyringKey, context: ctx({ keyring: 'pii', version: '3' }) });
    expect(generate.allowed).toBe(false);

    // An explicit deny in the key policy wins over the grant.
    const key = world.key(keyringKey)!;
    const saved = key.policy;
    key.policy = { ...saved, Statement: [...saved.Statement, { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] };
    try {
      const insecure = await decrypt({ ...ctx({ keyring: 'pii', version: '3' }), 'aws:SecureTransport': false });
      expect(insecure.allowed).toBe(false);
      expect(insecure.reason).toContain('with an explicit deny in a resource-based policy (key policy)');
    } finally {
      key.policy = saved;
    }

    await kms.send(new RevokeGrantCommand({ KeyId: keyringKey, GrantId }));
    // Cached until invalidated (the proxy invalidates after RevokeGrant), then read again from moto.
    expect((await decrypt(ctx({ keyring: 'pii', version: '3' }))).allowed).toBe(true);
    grants.invalidate(keyringKey);
    expect((await decrypt(ctx({ keyring: 'pii', version: '3' }))).allowed).toBe(false);
  });

  it('reads constraints back from moto and judges EncryptionContextSubset with case-insensitive keys', async () => {
    const { GrantId } = await kms.send(
      new CreateGrantCommand({ KeyId: keyringKey, GranteePrincipal: ARNS.appRole, Operations: ['Encrypt', 'Decrypt'], Constraints: { EncryptionContextSubset: { keyring: 'pii' } } }),
    );
    grants.invalidate();
    const live = (await grants.grantsFor(keyringKey)).find((g) => g.grantId === GrantId)!;
    expect(live.constraints).toEqual({ encryptionContextSubset: { keyring: 'pii' } });
    expect(grantVerdict(live, ARNS.appRole, 'Decrypt', { KeyRing: 'pii', version: '9' })).toBe('allows');
    expect(grantVerdict(live, ARNS.appRole, 'Decrypt', { keyring: 'PII' })).toBe('constraint-mismatch');
    expect(grantVerdict(live, ARNS.appRole, 'GenerateDataKey', { keyring: 'pii' })).toBe('operation-not-granted');
    expect(grantVerdict(live, ARNS.rotateRole, 'Decrypt', { keyring: 'pii' })).toBe('not-grantee');
    expect((await decide({ principal: role(ARNS.appRole), action: 'kms:Decrypt', resource: keyringKey, context: ctx({ keyring: 'pii', version: '1' }) })).allowed).toBe(true);
    await kms.send(new RevokeGrantCommand({ KeyId: keyringKey, GrantId }));
    grants.invalidate(keyringKey);
  });
});

describe('topic, queue and bus policies', () => {
  it('denies CloudWatch publishing to a topic whose policy does not allow cloudwatch.amazonaws.com, allows it once it does', async () => {
    const publish = () => decide({ principal: service('cloudwatch.amazonaws.com'), action: 'sns:Publish', resource: ARNS.alarmTopic, context: { 'aws:SourceAccount': A } });
    expect(await publish()).toEqual({ allowed: false, reason: `User: cloudwatch.amazonaws.com is not authorized to perform: sns:Publish on resource: ${ARNS.alarmTopic} because no resource-based policy allows the sns:Publish action` });
    const topic = [...world.topics.values()][0]!;
    const saved = topic.policy!;
    topic.policy = { ...saved, Statement: [...saved.Statement, { Sid: 'CloudWatchAlarms', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: ARNS.alarmTopic, Condition: { StringEquals: { 'aws:SourceAccount': A } } }] };
    try {
      expect((await publish()).allowed).toBe(true);
    } finally {
      topic.policy = saved;
    }
  });

  it('lets EventBridge send to the DLQ only for the rules the queue policy names (aws:SourceArn)', async () => {
    const send = (rule: string) => decide({ principal: service('events.amazonaws.com'), action: 'sqs:SendMessage', resource: ARNS.dlq, context: { 'aws:SourceArn': rule } });
    expect((await send(ARNS.compromisedRule)).allowed).toBe(true);
    expect((await send(`arn:aws:events:us-east-1:${A}:rule/Rekey-events/Other`)).allowed).toBe(false);
    expect((await decide({ principal: role(ARNS.rotateRole), action: 'sqs:SendMessage', resource: ARNS.dlq })).allowed).toBe(true);
  });

  it('evaluates an event bus policy: it can allow a principal with no identity policy, and deny', async () => {
    const put = (arn: string) => decide({ principal: role(arn), action: 'events:PutEvents', resource: ARNS.bus });
    expect((await put(ARNS.rotateRole)).allowed).toBe(true);
    expect((await put(ARNS.reencryptRole)).allowed).toBe(false);
    const bus = world.buses.get('Rekey-events')!;
    const saved = bus.policy;
    bus.policy = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ReencryptPublishes', Effect: 'Allow', Principal: { AWS: ARNS.reencryptRole }, Action: 'events:PutEvents', Resource: ARNS.bus },
        { Sid: 'NoRotate', Effect: 'Deny', Principal: { AWS: ARNS.rotateRole }, Action: 'events:PutEvents', Resource: ARNS.bus },
      ],
    };
    try {
      expect((await put(ARNS.reencryptRole)).allowed).toBe(true);
      expect((await put(ARNS.rotateRole)).reason).toContain('with an explicit deny in a resource-based policy (event bus policy)');
    } finally {
      bus.policy = saved;
    }
  });

  describe('the bus policy of compromise reports (Deny to Principal "*" on events:detail-type unless aws:PrincipalArn is listed)', () => {
    // One PutEvents as the SDK sends it (AwsJson1_1, X-Amz-Target AWSEvents.PutEvents; entry fields:
    // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html),
    // mapped by the proxy's own request map, so the condition keys are the ones the twin supplies.
    const putEvents = async (roleArn: string, entries: Array<{ Source: string; DetailType: string }>) => {
      const accessKeyId = world.roles.get(roleArn)!.accessKeyId;
      const body = Buffer.from(JSON.stringify({ Entries: entries.map((e) => ({ ...e, Detail: '{}', EventBusName: 'Rekey-events' })) }));
      const mapped = mapRequest(world, {
        method: 'POST',
        path: '/',
        query: '',
        headers: { 'x-amz-target': 'AWSEvents.PutEvents', authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20270101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=0` },
        body,
      });
      expect(mapped.authz.map((a) => [a.action, a.resource, a.context?.['events:detail-type']])).toEqual(entries.map((e) => ['events:PutEvents', ARNS.bus, e.DetailType]));
      return Promise.all(mapped.authz.map((a) => decide(a)));
    };
    const compromise = { Source: 'rekey', DetailType: 'Key Version Compromised' };
    const audit = { Source: 'rekey.audit', DetailType: 'Rekey Audit Event' };

    it('denies a role whose identity policy allows PutEvents on the bus, for that detail-type only', async () => {
      // rotate's role may put events on the bus (identity policy): only the bus policy's Deny stops this.
      const [forged] = await putEvents(ARNS.rotateRole, [compromise]);
      expect(forged).toEqual({ allowed: false, reason: `User: ${ARNS.rotateRole} is not authorized to perform: events:PutEvents on resource: ${ARNS.bus} with an explicit deny in a resource-based policy (event bus policy)` });
      const [routine] = await putEvents(ARNS.rotateRole, [audit]);
      expect(routine).toMatchObject({ allowed: true, reason: 'allowed by identity-based policy' });
    });

    it('denies the whole batch when one entry is a compromise report', async () => {
      const decisions = await putEvents(ARNS.rotateRole, [audit, compromise]);
      expect(decisions.map((d) => d.allowed)).toEqual([true, false]);
    });

    it('lets a listed security principal report a compromise with no identity policy of its own (the bus policy allows it), and nothing else', async () => {
      const [report] = await putEvents(ARNS.securityRole, [compromise]);
      expect(report).toMatchObject({ allowed: true, reason: 'allowed by event bus policy' });
      const [other] = await putEvents(ARNS.securityRole, [audit]);
      expect(other?.allowed).toBe(false);
    });

    it('denies a principal whose IAM policy allows everything (events:* on *) when it is not listed', async () => {
      const admin = world.roles.get(ARNS.deployRole)!;
      const saved = admin.policies;
      admin.policies = [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }];
      try {
        const [forged] = await putEvents(ARNS.deployRole, [compromise]);
        expect(forged).toMatchObject({ allowed: false, reason: expect.stringContaining('with an explicit deny in a resource-based policy (event bus policy)') });
      } finally {
        admin.policies = saved;
      }
    });
  });
});

describe('key administration (the deploying role and the break-glass role only)', () => {
  const admin = (arn: string, action: string) => decide({ principal: role(arn), action, resource: keyringKey });

  it.each(['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DisableKey'])('%s: denied to an account role whose IAM policy allows kms:*, allowed to the deploying and break-glass roles', async (action) => {
    const app = await admin(ARNS.appRole, action);
    expect(app).toEqual({ allowed: false, reason: `User: ${ARNS.appRole} is not authorized to perform: ${action} on resource: ${keyringKey} because no resource-based policy allows the ${action} action` });
    expect((await admin(ARNS.deployRole, action)).allowed).toBe(true);
    expect((await admin(ARNS.breakGlassRole, action)).allowed).toBe(true);
  });

  it('gives the administrators no cryptographic use of the key', async () => {
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:ReEncryptFrom']) {
      expect(KEY_ADMIN_ACTIONS).not.toContain(action);
      expect((await decide({ principal: role(ARNS.breakGlassRole), action, resource: keyringKey, context: ctx({ keyring: 'pii', version: '1' }) })).allowed).toBe(false);
    }
  });

  it('still lets the account (its IAM policies) read key metadata', async () => {
    expect((await admin(ARNS.appRole, 'kms:GetKeyPolicy')).allowed).toBe(true);
    expect((await admin(ARNS.appRole, 'kms:ListGrants')).allowed).toBe(true);
  });
});

describe('Lambda permissions and trust policies', () => {
  it('allows events.amazonaws.com to invoke a function only from the rule its permission names', async () => {
    const invoke = (fn: string, rule: string) => decide({ principal: service('events.amazonaws.com'), action: 'lambda:InvokeFunction', resource: fn, context: { 'aws:SourceArn': rule, 'aws:SourceAccount': A } });
    expect((await invoke(ARNS.keyaccessFn, ARNS.catalogWrittenRule)).allowed).toBe(true);
    expect((await invoke(ARNS.keyaccessFn, `arn:aws:events:us-east-1:${A}:rule/Rekey-events/Forged`)).allowed).toBe(false);
    expect((await invoke(ARNS.rotateFn, ARNS.catalogWrittenRule)).reason).toContain('because no resource-based policy allows the lambda:InvokeFunction action');
    expect((await decide({ principal: role(ARNS.schedulerRole), action: 'lambda:InvokeFunction', resource: ARNS.rotateFn })).allowed).toBe(true);
  });

  it('lets scheduler.amazonaws.com assume the scheduler role only for this account (aws:SourceAccount), and no other service', async () => {
    const assume = (svc: string, account: string, target: string = ARNS.schedulerRole) => decide({ principal: service(svc), action: 'sts:AssumeRole', resource: target, context: { 'aws:SourceAccount': account } });
    expect((await assume('scheduler.amazonaws.com', A)).allowed).toBe(true);
    expect((await assume('scheduler.amazonaws.com', '210987654321')).allowed).toBe(false);
    expect((await assume('lambda.amazonaws.com', A)).allowed).toBe(false);
    expect((await assume('lambda.amazonaws.com', A, ARNS.rotateRole)).allowed).toBe(true);
    const byRole = await decide({ principal: role(ARNS.appRole), action: 'sts:AssumeRole', resource: ARNS.schedulerRole });
    expect(byRole.reason).toContain('because no resource-based policy allows the sts:AssumeRole action');
  });
});

it('keeps context values (encryption context, prefixes) out of the reason', async () => {
  const d = await decide({ principal: role(ARNS.appRole), action: 'kms:Decrypt', resource: keyringKey, context: ctx({ keyring: 'pii', version: '3', tenant: 'tenant-secret-42' }) });
  expect(d.allowed).toBe(false);
  expect(d.reason).not.toContain('tenant-secret-42');
});
