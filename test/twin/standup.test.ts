/**
 * The twin's synthesis and stand-up, against the real app: synthesize (cached), stand up on a
 * private moto_server, then check the WORLD and MOTO against the template, evaluated
 * independently (./standup/expected.ts). Redeploys change the context and check what changed.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetBucketPolicyCommand, GetBucketVersioningCommand, GetObjectLockConfigurationCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { runCustomResource } from './drivers/custom-resource';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { IntrinsicResolver, isFullyResolved } from './standup/intrinsics';
import * as provider from './standup/test-provider';
import { extrasOf, standUp, updateStack, type StackChangeSummary } from './standup/standup';
import { expected, leftoverIntrinsics } from './standup/expected';
import { topologicalOrder, type CfnTemplate } from './standup/template';
import type { CustomResourceCall } from './standup/types';
import { synthesizeTwin, twinContext, type SynthesizedTwin } from './synth';
import { TwinWorld } from './world';

jest.setTimeout(600_000);

const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };
let moto: PrivateMoto;
let synth: SynthesizedTwin;
let world: TwinWorld;
let summary: StackChangeSummary;
let standUpMillis = 0;
const calls: CustomResourceCall[] = [];
/** Whether the provider function was already in the world when its custom resource was called (dependency order). */
const providerExisted = new Map<string, boolean>();
const timings: Record<string, number> = {};

/** Records every request and answers as a provider would (the function runtime is not part of this test). */
async function recordingProvider(call: CustomResourceCall): Promise<{ physicalResourceId: string; data: Record<string, unknown> }> {
  calls.push(call);
  providerExisted.set(call.logicalId, world.fn(call.serviceToken) !== undefined);
  return { physicalResourceId: call.physicalResourceId ?? `${call.logicalId}-physical`, data: { Echo: call.logicalId } };
}

function resourcesOf(template: CfnTemplate, type: string): [string, Record<string, unknown>][] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

const clients = () => {
  const config = { endpoint: moto.url, region: 'us-east-1', credentials: ADMIN };
  return { s3: new S3Client({ ...config, forcePathStyle: true }), kms: new KMSClient(config), sqs: new SQSClient(config), cloudwatch: new CloudWatchClient(config) };
};

describe('the real app', () => {
  beforeAll(async () => {
    const cold = Date.now();
    synth = await synthesizeTwin();
    timings['synth (first call)'] = Date.now() - cold;
    timings['synth (first call) cached'] = synth.cached ? 1 : 0;
    const warm = await synthesizeTwin();
    timings['synth (warm)'] = warm.millis;
    expect(warm.cached).toBe(true);
    moto = await startPrivateMoto();
    world = new TwinWorld();
    const t0 = Date.now();
    summary = await standUp({ template: synth.template, outdir: synth.outdir, motoUrl: moto.url, world, stackName: synth.stackName, onCustomResource: recordingProvider });
    standUpMillis = Date.now() - t0;
    timings['stand-up'] = standUpMillis;
  });

  afterAll(async () => {
    console.log(`twin timings (ms): ${JSON.stringify(timings)}`);
    await moto?.stop();
  });

  describe('synthesizeTwin', () => {
    test('caches the assembly under node_modules/.cache, keyed by sources and context', async () => {
      expect(synth.outdir.startsWith(path.resolve(__dirname, '..', '..', 'node_modules', '.cache', 'rekey-twin'))).toBe(true);
      expect(existsSync(path.join(synth.outdir, `${synth.stackName}.template.json`))).toBe(true);
      expect(twinContext({ context: { breakerThreshold: 0.2 } })['rekey']).toMatchObject({ breakerThreshold: 0.2, keyrings: expect.any(Array) });
      expect(Object.keys(synth.template.Resources).length).toBeGreaterThan(50);
    });
  });

  describe('standUp of the real template', () => {
    test('every resource exists in the world, with a physical id', () => {
      for (const [id, r] of Object.entries(synth.template.Resources)) {
        if (summary.skipped.includes(id)) continue;
        expect([id, world.physicalIds.has(id)]).toEqual([id, true]);
        const pid = world.physicalIds.get(id) ?? '';
        const present: Record<string, () => boolean> = {
          'AWS::IAM::Role': () => [...world.roles.values()].some((x) => x.logicalId === id),
          'AWS::KMS::Key': () => [...world.keys.values()].some((x) => x.logicalId === id && x.keyId === pid),
          'AWS::S3::Bucket': () => world.buckets.has(pid),
          'AWS::SQS::Queue': () => [...world.queues.values()].some((x) => x.url === pid),
          'AWS::SNS::Topic': () => world.topics.has(pid),
          'AWS::Events::EventBus': () => world.buses.has(pid),
          'AWS::Events::Rule': () => [...world.rules.values()].some((x) => x.logicalId === id),
          'AWS::Lambda::Function': () => world.functions.has(pid),
          'AWS::StepFunctions::StateMachine': () => world.stateMachines.has(pid),
          'AWS::Scheduler::Schedule': () => world.schedules.has(pid),
          'AWS::CloudWatch::Alarm': () => world.alarms.has(pid),
          'AWS::Events::Archive': () => extrasOf(world).archives.some((a) => a.logicalId === id),
          'AWS::CloudWatch::Dashboard': () => extrasOf(world).dashboards.has(pid),
          'AWS::Logs::LogGroup': () => extrasOf(world).logGroups.has(pid),
        };
        const check = r.Type.startsWith('Custom::') ? () => world.customResources.has(id) : present[r.Type];
        if (check !== undefined) expect([id, check()]).toEqual([id, true]);
      }
      expect(summary.created.length).toBe(Object.keys(synth.template.Resources).length - summary.skipped.length);
    });

    test('no intrinsic is left anywhere in the world', () => {
      const maps = { roles: world.roles, buckets: world.buckets, keys: world.keys, topics: world.topics, queues: world.queues, buses: world.buses, rules: world.rules, functions: world.functions, stateMachines: world.stateMachines, schedules: world.schedules, alarms: world.alarms, customResources: world.customResources, outputs: world.outputs, physicalIds: world.physicalIds };
      expect(leftoverIntrinsics(maps)).toEqual([]);
      expect(leftoverIntrinsics(extrasOf(world))).toEqual([]);
    });

    test('buckets: versioning, Object Lock, policies, SSE-KMS keys as the template says, in moto too', async () => {
      const { s3 } = clients();
      for (const [id, p] of resourcesOf(synth.template, 'AWS::S3::Bucket')) {
        const name = world.physicalIds.get(id) ?? '';
        const twin = world.buckets.get(name);
        const versioning = (await s3.send(new GetBucketVersioningCommand({ Bucket: name }))).Status;
        expect([id, versioning]).toEqual([id, (p['VersioningConfiguration'] as { Status?: string } | undefined)?.Status]);
        expect(twin?.versioning).toBe(versioning === 'Enabled');
        if (p['ObjectLockEnabled'] === true) {
          const lock = (await s3.send(new GetObjectLockConfigurationCommand({ Bucket: name }))).ObjectLockConfiguration;
          const rule = (p['ObjectLockConfiguration'] as { Rule: { DefaultRetention: { Mode: string; Days: number } } }).Rule.DefaultRetention;
          expect(lock?.ObjectLockEnabled).toBe('Enabled');
          expect(lock?.Rule?.DefaultRetention).toMatchObject({ Mode: rule.Mode, Days: rule.Days });
          expect(twin?.objectLock).toEqual({ mode: rule.Mode, days: rule.Days });
        }
        const kmsKey = (p['BucketEncryption'] as { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { KMSMasterKeyID?: unknown } }[] } | undefined)?.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault.KMSMasterKeyID;
        expect(twin?.kmsKeyArn).toEqual(kmsKey === undefined ? undefined : expected(world, synth.template, kmsKey));
        expect(twin?.eventBridge).toBe((p['NotificationConfiguration'] as { EventBridgeConfiguration?: unknown } | undefined)?.EventBridgeConfiguration !== undefined);
      }
      expect([...world.buckets.values()].some((b) => b.objectLock?.mode === 'COMPLIANCE')).toBe(true);
      for (const [, p] of resourcesOf(synth.template, 'AWS::S3::BucketPolicy')) {
        const name = String(expected(world, synth.template, p['Bucket']));
        const want = expected(world, synth.template, p['PolicyDocument']);
        expect(world.buckets.get(name)?.policy).toEqual(want);
        // Not in moto on purpose (moto would enforce the TLS deny against the proxy's HTTP hop): see handlers/storage.ts.
        await expect(s3.send(new GetBucketPolicyCommand({ Bucket: name }))).rejects.toThrow();
      }
    });

    test('key policies equal the template, in the world and in moto', async () => {
      const { kms } = clients();
      const keys = resourcesOf(synth.template, 'AWS::KMS::Key');
      expect(keys.length).toBeGreaterThan(0);
      for (const [id, p] of keys) {
        const keyId = world.physicalIds.get(id) ?? '';
        const want = expected(world, synth.template, p['KeyPolicy']);
        expect(world.key(keyId)?.policy).toEqual(want);
        expect(JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy ?? '{}')).toEqual(want);
      }
    });

    test('roles: trust and identity policies equal the template; each role has its own access key', () => {
      const roles = resourcesOf(synth.template, 'AWS::IAM::Role');
      const keys = new Set<string>();
      for (const [id, p] of roles) {
        const role = [...world.roles.values()].find((r) => r.logicalId === id);
        expect(role?.trust).toEqual(expected(world, synth.template, p['AssumeRolePolicyDocument']));
        const attached = resourcesOf(synth.template, 'AWS::IAM::Policy')
          .filter(([, pp]) => (pp['Roles'] as unknown[]).some((r) => expected(world, synth.template, r) === role?.name))
          .map(([, pp]) => expected(world, synth.template, pp['PolicyDocument']));
        const inline = ((p['Policies'] as { PolicyDocument: unknown }[] | undefined) ?? []).map((x) => expected(world, synth.template, x.PolicyDocument));
        expect(role?.policies).toEqual([...inline, ...attached]);
        expect(role?.accessKeyId).toMatch(/^AKIA[A-Z]{16}$/);
        expect(world.roleByAccessKey(role?.accessKeyId ?? '')).toBe(role);
        keys.add(role?.accessKeyId ?? '');
      }
      expect(keys.size).toBe(roles.length);
    });

    test('queues and topics: resource policies recorded and set on moto', async () => {
      const { sqs } = clients();
      for (const [, p] of resourcesOf(synth.template, 'AWS::SQS::QueuePolicy')) {
        const want = expected(world, synth.template, p['PolicyDocument']);
        for (const url of expected(world, synth.template, p['Queues']) as string[]) {
          expect([...world.queues.values()].find((q) => q.url === url)?.policy).toEqual(want);
          const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Policy'] }));
          expect(JSON.parse(attrs.Attributes?.['Policy'] ?? '{}')).toEqual(want);
        }
      }
      for (const [id, p] of resourcesOf(synth.template, 'AWS::SNS::Topic')) {
        const topic = world.topics.get(world.physicalIds.get(id) ?? '');
        if (p['KmsMasterKeyId'] !== undefined) expect(topic?.kmsKeyArn).toBe(expected(world, synth.template, p['KmsMasterKeyId']));
        const subs = resourcesOf(synth.template, 'AWS::SNS::Subscription').filter(([, s]) => expected(world, synth.template, s['TopicArn']) === topic?.arn);
        expect(topic?.subscriptions).toEqual(subs.map(([, s]) => ({ protocol: s['Protocol'], endpoint: s['Endpoint'] })));
      }
    });

    test('functions: resolved environments, asset folders with index.js, invoke configs and permissions', () => {
      const fns = resourcesOf(synth.template, 'AWS::Lambda::Function');
      expect(fns.length).toBeGreaterThan(0);
      for (const [id, p] of fns) {
        const fn = world.functions.get(world.physicalIds.get(id) ?? '');
        expect(fn?.arn).toBe(`arn:aws:lambda:us-east-1:123456789012:function:${fn?.name}`);
        expect(fn?.name.length).toBeLessThanOrEqual(64);
        const env = (p['Environment'] as { Variables: Record<string, unknown> }).Variables;
        expect(fn?.environment).toEqual(expected(world, synth.template, env));
        for (const v of Object.values(fn?.environment ?? {})) expect(typeof v).toBe('string');
        expect(existsSync(path.join(fn?.assetDir ?? '', 'index.js'))).toBe(true);
        expect(fn?.assetDir.startsWith(synth.outdir)).toBe(true);
        expect([fn?.handler, fn?.runtime, fn?.timeoutSeconds, fn?.memoryMiB, fn?.roleArn]).toEqual([p['Handler'], p['Runtime'], p['Timeout'] ?? 3, p['MemorySize'] ?? 128, expected(world, synth.template, p['Role'])]);
        expect(fn?.reservedConcurrency).toBe(p['ReservedConcurrentExecutions']);
      }
      for (const [, p] of resourcesOf(synth.template, 'AWS::Lambda::EventInvokeConfig')) {
        const fn = world.functions.get(String(expected(world, synth.template, p['FunctionName'])));
        expect(fn?.asyncConfig?.maximumRetryAttempts).toBe(p['MaximumRetryAttempts']);
        expect(fn?.asyncConfig?.onFailureArn).toBe(expected(world, synth.template, (p['DestinationConfig'] as { OnFailure: { Destination: unknown } }).OnFailure.Destination));
      }
      for (const [, p] of resourcesOf(synth.template, 'AWS::Lambda::Permission')) {
        const fn = world.fn(String(expected(world, synth.template, p['FunctionName'])));
        expect(fn?.permissions).toContainEqual({ principal: p['Principal'], action: p['Action'], sourceArn: expected(world, synth.template, p['SourceArn']) });
      }
    });

    test('schedules, rules, alarms and the state machine are recorded as the template says', async () => {
      const schedules = resourcesOf(synth.template, 'AWS::Scheduler::Schedule');
      expect(world.schedules.size).toBe(schedules.length);
      for (const [id, p] of schedules) {
        const s = world.schedules.get(world.physicalIds.get(id) ?? '');
        const target = p['Target'] as Record<string, unknown>;
        expect([s?.expression, s?.state, s?.targetArn, s?.roleArn, s?.input]).toEqual([p['ScheduleExpression'], p['State'], expected(world, synth.template, target['Arn']), expected(world, synth.template, target['RoleArn']), target['Input']]);
        expect(world.fn(s?.targetArn ?? '') ?? world.stateMachines.get(s?.targetArn ?? '')).toBeDefined();
      }
      for (const [id, p] of resourcesOf(synth.template, 'AWS::Events::Rule')) {
        const rule = [...world.rules.values()].find((r) => r.logicalId === id);
        expect(rule?.pattern).toEqual(expected(world, synth.template, p['EventPattern']));
        expect(rule?.busName).toBe(p['EventBusName'] === undefined ? 'default' : expected(world, synth.template, p['EventBusName']));
        expect(rule?.targets.map((t) => t.arn)).toEqual((p['Targets'] as { Arn: unknown }[]).map((t) => expected(world, synth.template, t.Arn)));
      }
      const alarms = resourcesOf(synth.template, 'AWS::CloudWatch::Alarm');
      expect(world.alarms.size).toBe(alarms.length);
      const inMoto = await clients().cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 100 }));
      expect(inMoto.MetricAlarms?.length).toBe(alarms.length);
      for (const [id, p] of alarms) expect(world.alarms.get(world.physicalIds.get(id) ?? '')?.properties).toMatchObject(expected(world, synth.template, p) as Record<string, unknown>);
      for (const [id] of resourcesOf(synth.template, 'AWS::StepFunctions::StateMachine')) {
        const sm = world.stateMachines.get(world.physicalIds.get(id) ?? '');
        expect(sm?.definition['StartAt']).toEqual(expect.any(String));
      }
    });

    test('outputs are resolved strings that name what the world holds', () => {
      expect(Object.keys(world.outputs).sort()).toEqual(Object.keys(synth.template.Outputs ?? {}).sort());
      for (const [key, out] of Object.entries(synth.template.Outputs ?? {})) expect([key, world.outputs[key]]).toEqual([key, expected(world, synth.template, out.Value)]);
      const keyring = JSON.parse(world.outputs['KeyringKeys'] ?? '{}') as Record<string, string>;
      for (const arn of Object.values(keyring)) expect(world.key(arn)).toBeDefined();
    });

    test('custom resources of the template got a Create, in dependency order, with string properties', () => {
      const customs = Object.entries(synth.template.Resources).filter(([, r]) => r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource');
      expect(calls.filter((c) => c.requestType === 'Create').map((c) => c.logicalId).sort()).toEqual(customs.map(([id]) => id).sort());
      for (const c of calls) {
        expect([c.logicalId, providerExisted.get(c.logicalId)]).toEqual([c.logicalId, true]);
        for (const v of Object.values(c.properties)) expect(typeof v === 'number' || typeof v === 'boolean').toBe(false);
        expect(world.customResources.get(c.logicalId)?.physicalId).toBe(`${c.logicalId}-physical`);
      }
    });
  });

  describe('updateStack (redeploy with a changed context)', () => {
    test('a changed keyring policy and breaker threshold update functions (and custom resources) in place', async () => {
      const base = twinContext()['rekey'] as { keyrings: Record<string, unknown>[] };
      const keyrings = base.keyrings.map((k) => (k['name'] === 'pii' ? { ...k, rotateEvery: '45d' } : k));
      const next = await synthesizeTwin({ context: { keyrings, breakerThreshold: 0.2 } });
      timings['synth (changed context)'] = next.millis;
      calls.length = 0;
      const result = await updateStack({ template: next.template, outdir: next.outdir, motoUrl: moto.url, world, onCustomResource: recordingProvider });
      timings['update'] = result.millis;
      const fnIds = resourcesOf(next.template, 'AWS::Lambda::Function').map(([id]) => id);
      expect(result.updated).toEqual(expect.arrayContaining(fnIds));
      for (const id of fnIds) expect(world.functions.get(world.physicalIds.get(id) ?? '')?.environment['REKEY_BREAKER_THRESHOLD']).toBe('0.2');
      expect(world.outputs['BreakerThreshold']).toBe('0.2');
      expect(result.created).toEqual([]);
      expect(result.deleted).toEqual([]);
      // A custom resource whose properties mention the changed keyring policy must get an Update.
      const customs = Object.entries(next.template.Resources).filter(([, r]) => r.Type.startsWith('Custom::'));
      const mentioning = customs.filter(([, r]) => JSON.stringify(r.Properties).includes('"45d"')).map(([id]) => id);
      if (customs.length > 0) expect(mentioning.length).toBeGreaterThan(0);
      expect(result.updated).toEqual(expect.arrayContaining(mentioning));
      for (const id of mentioning) {
        expect(calls).toContainEqual(expect.objectContaining({ logicalId: id, requestType: 'Update', physicalResourceId: `${id}-physical`, oldProperties: expect.any(Object) }));
        const update = calls.find((c) => c.logicalId === id);
        expect(JSON.stringify(update?.properties)).toContain('"45d"');
        expect(JSON.stringify(update?.oldProperties)).not.toContain('"45d"');
        expect(JSON.stringify(world.customResources.get(id)?.properties)).toContain('"45d"');
      }
      expect(calls.every((c) => c.requestType === 'Update')).toBe(true);
    });

    test('removing a keyring deletes its schedules but no KMS key or bucket (DeletionPolicy Retain)', async () => {
      const base = twinContext()['rekey'] as { keyrings: { name: string }[]; recordTargets: { keyring: string }[] };
      const before = new Map(world.physicalIds);
      const next = await synthesizeTwin({ context: { keyrings: base.keyrings.filter((k) => k.name !== 'ops'), recordTargets: base.recordTargets.filter((t) => t.keyring !== 'ops') } });
      calls.length = 0;
      const result = await updateStack({ template: next.template, outdir: next.outdir, motoUrl: moto.url, world, onCustomResource: recordingProvider });
      const removedKeys = [...before.keys()].filter((id) => synth.template.Resources[id]?.Type === 'AWS::KMS::Key' && next.template.Resources[id] === undefined);
      expect(removedKeys.length).toBeGreaterThan(0);
      expect(result.retained).toEqual(expect.arrayContaining(removedKeys));
      const { kms, s3 } = clients();
      for (const id of removedKeys) {
        const keyId = before.get(id) ?? '';
        expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Enabled');
        expect(world.key(keyId)).toBeDefined();
      }
      for (const [id, r] of Object.entries(synth.template.Resources)) {
        if (r.Type === 'AWS::S3::Bucket') await expect(s3.send(new HeadBucketCommand({ Bucket: before.get(id) ?? '' }))).resolves.toBeDefined();
      }
      const removedSchedules = [...before.keys()].filter((id) => synth.template.Resources[id]?.Type === 'AWS::Scheduler::Schedule' && next.template.Resources[id] === undefined);
      expect(removedSchedules.length).toBeGreaterThan(0);
      expect(result.deleted).toEqual(expect.arrayContaining(removedSchedules));
      for (const id of removedSchedules) expect(world.schedules.has(before.get(id) ?? '')).toBe(false);
      const removedCustom = [...before.keys()].filter((id) => synth.template.Resources[id]?.Type.startsWith('Custom::') === true && next.template.Resources[id] === undefined);
      expect(calls.filter((c) => c.requestType === 'Delete').map((c) => c.logicalId).sort()).toEqual(removedCustom.sort());
    });
  });
});

describe('intrinsics', () => {
  const template: CfnTemplate = {
    Parameters: { Env: { Type: 'String', Default: 'prod' } },
    Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] }, NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] } },
    Resources: { A: { Type: 'AWS::SQS::Queue' }, B: { Type: 'AWS::SQS::Queue', DependsOn: 'C' }, C: { Type: 'AWS::SQS::Queue', Properties: { X: { 'Fn::Sub': '${A.Arn}' } } } },
  };
  const scope = {
    account: '123456789012',
    region: 'eu-west-1',
    partition: 'aws',
    stackName: 'S',
    stackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1',
    ref: (id: string) => `ref-${id}`,
    getAtt: (id: string, attr: string) => {
      if (attr !== 'Arn') throw new Error(`no ${attr}`);
      return `arn-${id}`;
    },
  };
  const r = new IntrinsicResolver(template, scope);

  test('Ref, GetAtt, Join, both forms of Sub, Select, Split, If, GetAZs, pseudo parameters, NoValue', () => {
    expect(r.resolve({ Ref: 'A' })).toBe('ref-A');
    expect(r.resolve({ 'Fn::GetAtt': ['A', 'Arn'] })).toBe('arn-A');
    expect(r.resolve({ 'Fn::GetAtt': 'A.Arn' })).toBe('arn-A');
    expect(r.resolve({ 'Fn::Join': ['-', ['x', { Ref: 'AWS::Region' }, { Ref: 'Env' }]] })).toBe('x-eu-west-1-prod');
    expect(r.resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${A}/${A.Arn}/${!Literal}' })).toBe('arn:aws:s3:::ref-A/arn-A/${Literal}');
    expect(r.resolve({ 'Fn::Sub': ['${X}-${AWS::AccountId}-${AWS::StackName}-${AWS::URLSuffix}', { X: { Ref: 'A' } }] })).toBe('ref-A-123456789012-S-amazonaws.com');
    expect(r.resolve({ 'Fn::Select': ['1', { 'Fn::Split': [',', 'a,b,c'] }] })).toBe('b');
    expect(r.resolve({ 'Fn::If': ['IsProd', 'yes', 'no'] })).toBe('yes');
    expect(r.resolve({ 'Fn::If': ['NotProd', 'yes', 'no'] })).toBe('no');
    expect(r.resolve({ 'Fn::GetAZs': '' })).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
    expect(r.resolve({ a: { 'Fn::If': ['NotProd', 1, { Ref: 'AWS::NoValue' }] }, b: [1, { Ref: 'AWS::NoValue' }] })).toEqual({ b: [1] });
    expect(isFullyResolved(r.resolve({ p: [{ 'Fn::Join': ['', [{ Ref: 'A' }]] }] }))).toBe(true);
  });

  test('ImportValue, unknown refs and attributes, and cycles fail loudly', () => {
    expect(() => r.resolve({ 'Fn::ImportValue': 'Shared' })).toThrow(/ImportValue/);
    expect(() => r.resolve({ Ref: 'Nope' })).toThrow(/unknown resource or parameter Nope/);
    expect(() => r.resolve({ 'Fn::GetAtt': ['A', 'Bogus'] })).toThrow(/no Bogus/);
    expect(() => r.resolve({ 'Fn::Select': [5, ['a']] })).toThrow(/out of range/);
    const order = topologicalOrder(template);
    expect(order.indexOf('C')).toBeLessThan(order.indexOf('B'));
    expect(order.indexOf('A')).toBeLessThan(order.indexOf('C'));
    expect(() => topologicalOrder({ Resources: { X: { Type: 'T', DependsOn: 'Y' }, Y: { Type: 'T', Properties: { v: { Ref: 'X' } } } } })).toThrow(/Circular/);
  });
});

describe('custom resources end to end (runCustomResource + a Lambda-style provider)', () => {
  const invoke = async (_arn: string, event: CloudFormationCustomResourceEvent): Promise<void> => {
    setImmediate(() => void provider.handler(event).catch(() => undefined));
  };
  const call = (over: Partial<CustomResourceCall>): CustomResourceCall => ({
    requestType: 'Create',
    logicalId: 'Thing',
    type: 'Custom::Thing',
    serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
    properties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider', Name: 'one' },
    stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/T/1',
    stackName: 'T',
    ...over,
  });

  test('the request event is the documented one, and a good response is SUCCESS with Data', async () => {
    const out = await runCustomResource(call({}), invoke);
    expect(out).toMatchObject({ status: 'SUCCESS', physicalResourceId: 'thing-one', data: { Label: 'label-one' } });
    const event = provider.received.at(-1) as CloudFormationCustomResourceEvent;
    expect(Object.keys(event).sort()).toEqual(['LogicalResourceId', 'RequestId', 'RequestType', 'ResourceProperties', 'ResourceType', 'ResponseURL', 'ServiceToken', 'StackId']);
    expect(event.ResponseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cloudformation-custom-resource-response-useast1\/.+X-Amz-Signature=/);
    const upd = await runCustomResource(call({ requestType: 'Update', physicalResourceId: 'thing-one', oldProperties: { Name: 'zero' } }), invoke);
    expect(upd.status).toBe('SUCCESS');
    expect(provider.received.at(-1)).toMatchObject({ RequestType: 'Update', PhysicalResourceId: 'thing-one', OldResourceProperties: { Name: 'zero' } });
  });

  test('bad responses fail the resource as CloudFormation would; a silent provider times out', async () => {
    const props = (mode: string) => ({ properties: { ServiceToken: 'x', Name: 'one', Mode: mode } });
    expect(await runCustomResource(call(props('fail')), invoke)).toMatchObject({ status: 'FAILED', reason: 'provider refused' });
    expect((await runCustomResource(call(props('no-id')), invoke)).reason).toMatch(/PhysicalResourceId/);
    expect((await runCustomResource(call(props('fail-no-reason')), invoke)).reason).toMatch(/Reason is required/);
    expect((await runCustomResource(call(props('wrong-request')), invoke)).reason).toMatch(/RequestId/);
    expect((await runCustomResource(call(props('silent')), invoke, { timeoutMs: 300 })).reason).toMatch(/did not receive a response/);
    const forged = await runCustomResource(call({}), async (_a, event) => {
      const res = await fetch(event.ResponseURL.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=00'), { method: 'PUT', body: '{}' });
      expect(res.status).toBe(403);
    }, { timeoutMs: 300 });
    expect(forged.status).toBe('FAILED');
  });

  test('a stack with a custom resource: Create with string properties, GetAtt of Data, Update, replacement, Delete', async () => {
    const own = await startPrivateMoto();
    try {
      const fnArn = 'arn:aws:lambda:us-east-1:123456789012:function:provider';
      const template = (name: string, count: number, mode = 'ok'): CfnTemplate => ({
        Resources: { Thing: { Type: 'Custom::Thing', Properties: { ServiceToken: fnArn, Name: name, Count: count, Mode: mode } }, Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::GetAtt': ['Thing', 'Label'] } } } },
        Outputs: { Thing: { Value: { Ref: 'Thing' } }, Label: { Value: { 'Fn::GetAtt': ['Thing', 'Label'] } } },
      });
      const w = new TwinWorld();
      const onCustomResource = (c: CustomResourceCall) => runCustomResource(c, invoke);
      const created = await standUp({ template: template('one', 3), outdir: own.url, motoUrl: own.url, world: w, stackName: 'T', onCustomResource });
      expect(created.customResourceCalls).toEqual([{ logicalId: 'Thing', requestType: 'Create', physicalResourceId: 'thing-one' }]);
      expect(w.customResources.get('Thing')).toMatchObject({ physicalId: 'thing-one', properties: { Count: '3' }, data: { Label: 'label-one', Count: '3' } });
      expect(w.outputs).toEqual({ Thing: 'thing-one', Label: 'label-one' });
      expect([...w.queues.values()].map((q) => q.name)).toEqual(['label-one']);
      const same = await updateStack({ template: template('one', 3), outdir: own.url, motoUrl: own.url, world: w, onCustomResource });
      expect(same.customResourceCalls).toEqual([]);
      const changed = await updateStack({ template: template('one', 4), outdir: own.url, motoUrl: own.url, world: w, onCustomResource });
      expect(changed.customResourceCalls).toEqual([{ logicalId: 'Thing', requestType: 'Update', physicalResourceId: 'thing-one' }]);
      expect(provider.received.at(-1)).toMatchObject({ OldResourceProperties: { Count: '3' }, ResourceProperties: { Count: '4' } });
      const replaced = await updateStack({ template: template('two', 4, 'replace'), outdir: own.url, motoUrl: own.url, world: w, onCustomResource });
      expect(replaced.customResourceCalls.map((c) => [c.requestType, c.physicalResourceId])).toEqual([['Update', 'thing-two'], ['Delete', 'thing-one']]);
      const gone = await updateStack({ template: { Resources: {} }, outdir: own.url, motoUrl: own.url, world: w, onCustomResource });
      expect(gone.customResourceCalls).toEqual([{ logicalId: 'Thing', requestType: 'Delete', physicalResourceId: 'thing-two' }]);
      expect(gone.deleted.sort()).toEqual(['Q', 'Thing']);
      expect(w.customResources.size).toBe(0);
      await expect(updateStack({ template: template('x', 1, 'fail'), outdir: own.url, motoUrl: own.url, world: w, onCustomResource })).rejects.toThrow(/CREATE_FAILED Thing.*provider refused/);
      await expect(standUp({ template: { Resources: { I: { Type: 'AWS::EC2::Instance' } } }, outdir: own.url, motoUrl: own.url, world: new TwinWorld(), onCustomResource })).rejects.toThrow(/AWS::EC2::Instance/);
    } finally {
      await own.stop();
    }
  });
});
