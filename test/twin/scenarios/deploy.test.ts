/**
 * Scenario 1, "Deploy": a platform team does exactly what docs/deploy.md §1 tells it, on a fresh
 * stand-up of the real stack, and checks what the deploy promises: every configured keyring
 * exists with its cdk.json policy (custom resources answered SUCCESS, PhysicalResourceId = the
 * keyring), the stack outputs the CLI and applications read, the deploy-time grants (key-access
 * ran on the catalog-written rule, before any schedule fired), an application that encrypts and
 * decrypts at once, a policy change and an identical redeploy, and a keyring removed from the
 * configuration and added back without losing anything.
 */
import { STACK_OUTPUTS } from '../../../shared/config/stack-outputs';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { KEY_GRANTEES_ENV } from '../../../shared/config/env-names';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import type { Catalog } from '../../../shared/catalog/model';
import { openApplication, type Application } from '../application';
import { Twin } from '../twin';
import type { TwinRole } from '../world';
import { createRecordBucket, recordBucketPolicy, roleArn } from './support/app-team';
import { catalogPuts, grantsOf, keyringKeys, operatorPolicy, type KeyringConfig } from './deploy-support';

jest.setTimeout(300_000);

const DAY = 86_400;
const ORDERS = { role: 'orders-app', bucket: 'example-orders-records', prefix: 'pii/' };
const OPS = { role: 'ops-app', bucket: 'example-ops-records', prefix: '' };
const OPERATOR = 'rekey-operator';
/** cdk.json's two keyrings, with the application roles of §2 added. */
const PII: KeyringConfig = { name: 'pii', rotateEvery: '30d', grace: '7d', propagation: '15m', retention: '30d', sensitivity: 'high', applicationRoleArns: [roleArn(ORDERS.role)] };
const OPS_RING: KeyringConfig = { name: 'ops', rotateEvery: '90d', grace: '14d', propagation: '10m', retention: '90d', sensitivity: 'moderate', applicationRoleArns: [roleArn(OPS.role)] };

/** The `rekey` context of cdk.json for these keyrings (record targets follow the keyrings). */
function context(keyrings: readonly KeyringConfig[]): Record<string, unknown> {
  const targets = [
    { keyring: 'pii', bucket: ORDERS.bucket, prefix: ORDERS.prefix },
    { keyring: 'ops', bucket: OPS.bucket, prefix: OPS.prefix },
  ];
  return { keyrings, recordTargets: targets.filter((t) => keyrings.some((k) => k.name === t.keyring)), operatorRoleArns: [roleArn(OPERATOR)] };
}

describe('scenario 1: deploy', () => {
  let twin: Twin;
  let admin: { s3: S3Client; kms: KMSClient };
  let operator: TwinRole;
  const started = Date.now();

  beforeAll(async () => {
    twin = await Twin.standUp({
      context: context([PII, OPS_RING]),
      roles: [
        { name: ORDERS.role, policies: [recordBucketPolicy(ORDERS.bucket, ORDERS.prefix)] },
        { name: OPS.role, policies: [recordBucketPolicy(OPS.bucket, OPS.prefix)] },
        { name: OPERATOR, policies: [] },
      ],
    });
    const config = { endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    admin = { s3: new S3Client({ ...config, forcePathStyle: true }), kms: new KMSClient(config) };
    operator = twin.role(OPERATOR);
  });

  afterAll(async () => {
    admin?.s3.destroy();
    admin?.kms.destroy();
    await twin?.close();
    console.log(`scenario 1 wall time ${Date.now() - started} ms`);
  });

  afterEach(() => {
    // Every step: nothing denied that was not asserted, nothing failed or lost in the background.
    expect(twin.deniedRequests()).toEqual([]);
    expect(twin.backgroundErrors).toEqual([]);
    expect(twin.runtime.lostEvents).toEqual([]);
  });

  /** A keyring's catalog as stored (admin read on moto, not through the proxy). */
  async function storedCatalog(keyring: string): Promise<Catalog> {
    const res = await admin.s3.send(new GetObjectCommand({ Bucket: twin.world.outputs.CatalogBucket, Key: `${twin.world.outputs.CatalogPrefix}${keyring}.json` }));
    return JSON.parse(await (res.Body as { transformToString(): Promise<string> }).transformToString()) as Catalog;
  }

  function app(team: typeof ORDERS): Application {
    return openApplication({
      role: twin.role(team.role),
      proxyUrl: twin.proxyUrl,
      region: twin.world.region,
      clock: twin.clock,
      catalogBucket: twin.world.outputs.CatalogBucket ?? '',
      catalogPrefix: twin.world.outputs.CatalogPrefix ?? '',
      recordBucket: team.bucket,
      recordPrefix: team.prefix,
    });
  }

  it('step 1: deploys the outputs the CLI and applications read', () => {
    const o = twin.world.outputs;
    // Every output of the shared table (the CLI and the client read them by these keys); CacheName only with a cache.
    expect(Object.keys(o).sort()).toEqual(Object.keys(STACK_OUTPUTS).filter((k) => k !== 'CacheName').sort());
    expect(JSON.parse(o.ConsumerAccounts ?? '[]')).toEqual([twin.world.account]);
    expect(Number(o.CatalogTtlMs)).toBeGreaterThan(0);
    const catalog = twin.world.buckets.get(o.CatalogBucket ?? '');
    expect(catalog).toMatchObject({ versioning: true, eventBridge: true });
    expect(o.CatalogPrefix).toBe('catalog/');
    const keys = keyringKeys(twin);
    expect(Object.keys(keys).sort()).toEqual(['ops', 'pii']);
    for (const arn of Object.values(keys)) expect(twin.world.key(arn)?.arn).toBe(arn);
    expect(new Set(Object.values(keys)).size).toBe(2);
    expect(catalog?.kmsKeyArn).toBeDefined();
    expect(Object.values(keys)).not.toContain(catalog?.kmsKeyArn);
    expect(twin.world.buckets.get(o.EscrowBucket ?? '')?.objectLock).toEqual({ mode: 'COMPLIANCE', days: 400 });
    expect(twin.world.key(o.EscrowKeyArn ?? '')).toBeDefined();
    expect(JSON.parse(o.RecordTargets ?? '')).toEqual([
      { keyring: 'pii', bucket: ORDERS.bucket, prefix: ORDERS.prefix },
      { keyring: 'ops', bucket: OPS.bucket, prefix: OPS.prefix },
    ]);
    expect(twin.world.buses.has(o.EventBusName ?? '')).toBe(true);
    expect([...twin.world.stateMachines.values()].map((s) => s.arn)).toContain(o.SweepStateMachineArn);
    expect(o.BreakerThreshold).toBe('0.05');
    expect([...twin.world.topics.values()].map((t) => t.arn)).toContain(o.AlarmTopicArn);
    const names = JSON.parse(o.FunctionNames ?? '') as Record<string, string>;
    expect(Object.keys(names).sort()).toEqual(['cache-invalidate', 'escrow', 'grace-period', 'key-access', 'key-use', 'provision', 'reencrypt', 'revoke', 'rotate']);
    for (const name of Object.values(names)) expect(twin.world.fn(name)?.name).toBe(name);
  });

  it('step 1: provisions every keyring with its cdk.json policy (custom resources SUCCESS, PhysicalResourceId = keyring)', async () => {
    const resources = [...twin.world.customResources.values()].filter((r) => r.type === 'Custom::RekeyKeyring');
    // A FAILED answer fails the stand-up; a SUCCESS one is recorded with the provider's physical id.
    expect(resources.map((r) => [r.physicalId, r.serviceToken, r.data?.['Outcome']]).sort()).toEqual(
      [
        ['ops', twin.fn('provision').arn, 'created'],
        ['pii', twin.fn('provision').arn, 'created'],
      ].sort(),
    );
    // cdk.json: pii 30d / 7d / 15m / 30d, ops 90d / 14d / 10m / 90d; neither sets the quiet period
    // nor opts in to destruction, so both keep the defaults (7 d without use; never destroyed).
    const expected = { pii: [30 * DAY, 7 * DAY, 900, 30 * DAY], ops: [90 * DAY, 14 * DAY, 600, 90 * DAY] } as const;
    for (const ring of ['pii', 'ops'] as const) {
      const c = await storedCatalog(ring);
      const [rotateEverySeconds, graceSeconds, propagationSeconds, retentionSeconds] = expected[ring];
      expect(c.policy).toEqual({ rotateEverySeconds, graceSeconds, propagationSeconds, retentionSeconds, quietSeconds: 7 * DAY, destroyAfterRetention: false });
      expect(c.versions.map((v) => [v.version, v.state, v.wrappingKeyId])).toEqual([[1, 'active', keyringKeys(twin)[ring]]]);
      expect(c.generation).toBe(1);
    }
  });

  it('step 2: the operator role reads the catalogs through the proxy and `rekey --aws status` shows each keyring', async () => {
    operator.policies.push(await operatorPolicy(twin, admin.s3));
    const s3 = new S3Client({ ...twin.clientConfig(operator), forcePathStyle: true });
    try {
      const store = new S3CatalogStore({ client: s3, bucket: twin.world.outputs.CatalogBucket ?? '', prefix: twin.world.outputs.CatalogPrefix ?? '' });
      expect(await store.list()).toEqual(['ops', 'pii']);
      expect((await store.get('pii'))?.catalog).toEqual(await storedCatalog('pii'));
    } finally {
      s3.destroy();
    }
    const status = await twin.cli(['status'], operator);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(status.stdout).toContain('keyring pii (generation 1)\n  policy: rotate every 30d, grace 7d, propagation 15m, retention 30d, quiet 7d,\n    destroy after retention: no\n');
    expect(status.stdout).toContain('keyring ops (generation 1)\n  policy: rotate every 90d, grace 14d, propagation 10m, retention 90d, quiet 7d,\n    destroy after retention: no\n');
    // One version row per keyring: version 1, active since the deploy.
    expect(status.stdout.match(/^ +1 {2}active +2027-01-01 00:00Z/gm)).toHaveLength(2);
  });

  it('step 3: key-access created the grants on the catalog-written rule, before any schedule fired', async () => {
    expect(twin.scheduler.fired).toEqual([]);
    const keyAccess = twin.fn('key-access');
    const delivered = twin.bus.deliveries.filter((d) => d.targetArn === keyAccess.arn && d.outcome === 'delivered');
    expect(delivered.map((d) => (d.payload as { detail: { object: { key: string } } }).detail.object.key).sort()).toEqual(['catalog/ops.json', 'catalog/pii.json']);
    const grantees = JSON.parse(keyAccess.environment[KEY_GRANTEES_ENV] ?? '{}') as Record<string, string[]>;
    expect(grantees.pii).toContain(roleArn(ORDERS.role));
    expect(grantees.ops).toContain(roleArn(OPS.role));
    for (const ring of ['pii', 'ops']) {
      const grants = await grantsOf(admin.kms, keyringKeys(twin)[ring] ?? '');
      // One Decrypt grant per (grantee, readable version), bound to exactly {keyring, version}.
      expect(grants.map((g) => g.grantee).sort()).toEqual([...(grantees[ring] ?? [])].sort());
      for (const g of grants) expect(g).toMatchObject({ operations: ['Decrypt'], context: { keyring: ring, version: '1' } });
    }
  });

  it('step 4: each application encrypts and decrypts right after the deploy', async () => {
    await createRecordBucket(twin, ORDERS.bucket);
    await createRecordBucket(twin, OPS.bucket);
    await app(ORDERS).records.put('order-1', 'pii', Buffer.from('4111 1111 1111 1111'));
    await app(OPS).records.put('ops-1', 'ops', Buffer.from('runbook secret'));
    expect((await app(ORDERS).records.get('order-1')).plaintext.toString()).toBe('4111 1111 1111 1111');
    expect((await app(OPS).records.get('ops-1')).plaintext.toString()).toBe('runbook secret');
    expect(twin.scheduler.fired).toEqual([]);
  });

  it('step 5: a changed policy is one custom resource Update: one catalog write, versions untouched', async () => {
    const before = await storedCatalog('pii');
    const mark = twin.world.requestLog.length;
    const summary = await twin.redeploy(context([{ ...PII, rotateEvery: '45d', grace: '10d' }, OPS_RING]));
    expect(summary.customResourceCalls).toEqual([{ logicalId: expect.stringMatching(/^KeyringsKeyringpii/), requestType: 'Update', physicalResourceId: 'pii' }]);
    const after = await storedCatalog('pii');
    expect(after.policy).toEqual({ ...before.policy, rotateEverySeconds: 45 * DAY, graceSeconds: 10 * DAY });
    expect(after.versions).toEqual(before.versions);
    expect(after.generation).toBe(before.generation + 1);
    expect(catalogPuts(twin, mark)).toEqual(['catalog/pii.json']);
    expect((await storedCatalog('ops')).generation).toBe(1);
    const status = await twin.cli(['status', 'pii'], operator);
    expect(status.stdout).toContain('keyring pii (generation 2)\n  policy: rotate every 45d, grace 10d, propagation 15m, retention 30d, quiet 7d,\n    destroy after retention: no\n');
  });

  it('step 6: redeploying the same configuration changes nothing', async () => {
    const mark = twin.world.requestLog.length;
    const pii = await storedCatalog('pii');
    const summary = await twin.redeploy(context([{ ...PII, rotateEvery: '45d', grace: '10d' }, OPS_RING]));
    expect({ created: summary.created, updated: summary.updated, deleted: summary.deleted, calls: summary.customResourceCalls }).toEqual({ created: [], updated: [], deleted: [], calls: [] });
    expect(catalogPuts(twin, mark)).toEqual([]);
    expect(await storedCatalog('pii')).toEqual(pii);
  });

  it('step 7: removing a keyring from the configuration deletes none of its data or keys', async () => {
    const ops = await storedCatalog('ops');
    const opsKey = keyringKeys(twin)['ops'] ?? '';
    const grantsBefore = await grantsOf(admin.kms, opsKey);
    const mark = twin.world.requestLog.length;
    const summary = await twin.redeploy(context([{ ...PII, rotateEvery: '45d', grace: '10d' }]));
    expect(summary.customResourceCalls).toEqual([{ logicalId: expect.stringMatching(/^KeyringsKeyringops/), requestType: 'Delete', physicalResourceId: 'ops' }]);
    expect(catalogPuts(twin, mark)).toEqual([]);
    expect(Object.keys(keyringKeys(twin))).toEqual(['pii']);
    // The stack stops managing it: no schedule or alarm names it any more; the key itself is retained.
    expect([...twin.world.schedules.values()].filter((x) => (x.input ?? '').includes('"ops"'))).toEqual([]);
    expect([...twin.world.alarms.values()].map((a) => a.name).filter((n) => n.endsWith('-ops'))).toEqual([]);
    expect(summary.retained).toEqual([expect.stringMatching(/^KeyringopsKey/)]);
    expect(await storedCatalog('ops')).toEqual(ops);
    const key = await admin.kms.send(new DescribeKeyCommand({ KeyId: opsKey }));
    expect({ enabled: key.KeyMetadata?.Enabled, state: key.KeyMetadata?.KeyState }).toEqual({ enabled: true, state: 'Enabled' });
    expect(await grantsOf(admin.kms, opsKey)).toEqual(grantsBefore);
    const record = await admin.s3.send(new HeadObjectCommand({ Bucket: OPS.bucket, Key: `${OPS.prefix}ops-1` }));
    expect(record.VersionId).toBeDefined();
    expect((await app(ORDERS).records.get('order-1')).plaintext.toString()).toBe('4111 1111 1111 1111');
  });

  it('step 8: adding the keyring back alone is refused: its retained key is no longer the stack\'s, so nothing is adopted or written', async () => {
    const ops = await storedCatalog('ops');
    const oldKey = ops.versions[0]?.wrappingKeyId ?? '';
    const mark = twin.world.requestLog.length;
    // The same configuration as step 5: ops is back with its cdk.json policy.
    const failure = await twin.redeploy(context([{ ...PII, rotateEvery: '45d', grace: '10d' }, OPS_RING])).then(
      () => undefined,
      (err: unknown) => (err as Error).message,
    );
    const pattern = /KeyringsKeyringops\w*: the provider answered FAILED: VALIDATION: keyring 'ops' exists with versions 1 wrapped by KMS key (\S+), not by this stack's key (\S+):/;
    expect(failure).toMatch(pattern);
    const refused = pattern.exec(failure ?? '');
    expect(refused?.[1]).toBe(oldKey);
    // CloudFormation made a new key for the re-added keyring; the versions stay on the retained one.
    const newKey = refused?.[2] ?? '';
    expect(newKey).not.toBe(oldKey);
    expect((await admin.kms.send(new DescribeKeyCommand({ KeyId: newKey }))).KeyMetadata?.KeyState).toBe('Enabled');
    expect(catalogPuts(twin, mark)).toEqual([]);
    expect(await storedCatalog('ops')).toEqual(ops);
    expect((await admin.kms.send(new DescribeKeyCommand({ KeyId: oldKey }))).KeyMetadata?.KeyState).toBe('Enabled');
    expect((await admin.s3.send(new HeadObjectCommand({ Bucket: OPS.bucket, Key: `${OPS.prefix}ops-1` }))).VersionId).toBeDefined();
    expect((await app(ORDERS).records.get('order-1')).plaintext.toString()).toBe('4111 1111 1111 1111');
  });
});
