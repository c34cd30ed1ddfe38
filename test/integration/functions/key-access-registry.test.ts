/**
 * key-access over the consumer registry, on moto_server: the grantees of a keyring are its
 * deploy-time grantees and the roles of its registry document; registry consumers also get the
 * catalog-read grant on the ops key and the ledger-read grant on the escrow key; a removed
 * consumer loses them all; an entry outside the deploy-time account bound is never granted and
 * is reported on the alarm path (HandlerFailures). The handler is driven with the S3 event shape
 * AWS documents.
 */
import { CreateKeyCommand, ListGrantsCommand } from '@aws-sdk/client-kms';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createKeyAccessHandler, handler as deployedHandler } from '../../../functions/key-access/handler';
import { S3ConsumerRegistry } from '../../../shared/adapters/aws/s3-consumer-registry';
import { buildKeyAccessServices } from '../../../shared/compose/aws/key-access-services';
import { CONSUMER_ACCOUNTS_ENV, KEY_GRANTEES_ENV, OPS_KEY_ARN_ENV } from '../../../shared/config/env-names';
import { loadConsumerBound } from '../../../shared/config/load-consumer-bound';
import { ValidationError } from '../../../shared/errors';
import type { JobLogger } from '../../../shared/ports/job-logger';
import { addConsumer, removeConsumer, type ConsumerServices } from '../../../shared/usecases/consumers';
import type { KeyAccessServices } from '../../../shared/usecases/key-access';
import { CATALOG_READ_GRANT_NAME, LEDGER_READ_GRANT_NAME } from '../../../shared/vocabulary/consumer-registry';
import { createHarness, RecordingMetrics, type Harness } from './support/harness';

const APP = 'arn:aws:iam::123456789012:role/app';
const ORDERS = 'arn:aws:iam::111122223333:role/teams/orders';
const BILLING = 'arn:aws:iam::111122223333:role/billing';
const STRANGER = 'arn:aws:iam::999999999999:role/stranger';

/**
 * S3's `Object Created` event through EventBridge, in the shape of the "Object created" example
 * of "EventBridge event message structure", Amazon S3 User Guide
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
 */
function objectCreated(bucket: string, key: string): Record<string, unknown> {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2030-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size: 200, etag: 'b1946ac92492d2347c6235b4d2611184', 'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e', sequencer: '617f08299329d189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject',
    },
  };
}

interface Line {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

function recordingLogger(lines: Line[]): JobLogger {
  const put = (level: Line['level']) => (message: string, ...fields: Record<string, unknown>[]) => void lines.push({ level, message, fields: Object.assign({}, ...fields) as Record<string, unknown> });
  return { info: put('info'), warn: put('warn'), error: put('error') };
}

describe('key-access with the consumer registry (moto)', () => {
  let h: Harness;
  let opsKeyArn: string;
  let services: KeyAccessServices;
  let admin: ConsumerServices;
  let metrics: RecordingMetrics;
  let lines: Line[];
  let run: (event: unknown) => Promise<unknown>;

  /** The grants on `keyId` as `grantee name {context}`, sorted. */
  const grantsOf = async (keyId: string): Promise<string[]> => {
    const out = await h.clients.kms.send(new ListGrantsCommand({ KeyId: keyId }));
    return (out.Grants ?? []).map((g) => `${g.GranteePrincipal ?? ''} ${(g.Operations ?? []).join('+')} ${g.Name ?? ''} ${JSON.stringify(g.Constraints?.EncryptionContextEquals ?? {})}`).sort();
  };
  const version = (grantee: string, keyring: string, v: number) => `${grantee} Decrypt rekey-v${v} ${JSON.stringify({ keyring, version: String(v) })}`;
  const catalogRead = (grantee: string) => `${grantee} Decrypt ${CATALOG_READ_GRANT_NAME} ${JSON.stringify({ 'aws:s3:arn': `arn:aws:s3:::${h.buckets.catalog}` })}`;
  const ledgerRead = (grantee: string) => `${grantee} Decrypt ${LEDGER_READ_GRANT_NAME} ${JSON.stringify({ 'aws:s3:arn': `arn:aws:s3:::${h.buckets.escrow}` })}`;
  const registryEvent = () => objectCreated(h.buckets.catalog, `consumers/${h.keyring}.json`);

  beforeEach(async () => {
    h = await createHarness();
    // A pending v2 beside the active v1: two readable versions, two grants per grantee.
    await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'second version' });
    opsKeyArn = (await h.clients.kms.send(new CreateKeyCommand({ Description: 'ops key' }))).KeyMetadata?.Arn as string;
    const bound = loadConsumerBound({ [CONSUMER_ACCOUNTS_ENV]: JSON.stringify(['123456789012', '111122223333']), [OPS_KEY_ARN_ENV]: opsKeyArn });
    services = buildKeyAccessServices(h.config, { clients: h.clients, grantees: { [h.keyring]: [APP] }, consumerBound: bound ?? null });
    admin = { registry: new S3ConsumerRegistry({ client: h.clients.s3, bucket: h.buckets.catalog }), catalogs: h.services.catalogs, audit: { record: async () => undefined } };
    metrics = new RecordingMetrics();
    lines = [];
    run = createKeyAccessHandler({ services: () => services, logger: recordingLogger(lines), metrics });
  });
  afterEach(async () => {
    await h.close();
  });

  const add = (principalArn: string, access: 'decrypt' | 'encrypt-decrypt' = 'decrypt') => addConsumer({ keyring: h.keyring, principalArn, access, actor: 'cli:alice', now: new Date() }, admin);

  it('grants a registered consumer per-version Decrypt grants and the catalog- and ledger-read grants, on the registry write\'s S3 event', async () => {
    // Prepare
    await add(ORDERS);
    // Act
    const report = await run(registryEvent());
    // Assess
    expect(await grantsOf(h.keyArn)).toEqual([version(APP, h.keyring, 1), version(APP, h.keyring, 2), version(ORDERS, h.keyring, 1), version(ORDERS, h.keyring, 2)].sort());
    expect(await grantsOf(opsKeyArn)).toEqual([catalogRead(ORDERS)]);
    expect(await grantsOf(h.escrowKeyArn)).toEqual([ledgerRead(ORDERS)]);
    expect(report).toEqual({
      keyrings: [{ keyring: h.keyring, created: 4, revoked: 0, registryConsumers: 1, refused: [] }],
      bucketReads: { catalog: { created: 1, revoked: 0 }, ledger: { created: 1, revoked: 0 } },
      refused: [],
    });
  });

  it('is idempotent: a second run (the schedule) creates and revokes nothing', async () => {
    // Prepare
    await add(ORDERS);
    await add(BILLING, 'encrypt-decrypt');
    await run(registryEvent());
    // Act
    const again = await run({});
    // Assess
    expect(again).toEqual({
      keyrings: [{ keyring: h.keyring, created: 0, revoked: 0, registryConsumers: 2, refused: [] }],
      bucketReads: { catalog: { created: 0, revoked: 0 }, ledger: { created: 0, revoked: 0 } },
      refused: [],
    });
    expect(await grantsOf(opsKeyArn)).toEqual([catalogRead(BILLING), catalogRead(ORDERS)].sort());
  });

  it('takes every grant of a removed consumer away (per-version, catalog read, ledger read) and keeps the others\'', async () => {
    // Prepare
    await add(ORDERS);
    await add(BILLING);
    await run(registryEvent());
    // Act
    await removeConsumer({ keyring: h.keyring, principalArn: ORDERS, actor: 'cli:alice', now: new Date() }, admin);
    await run(registryEvent());
    // Assess
    const all = [...(await grantsOf(h.keyArn)), ...(await grantsOf(opsKeyArn)), ...(await grantsOf(h.escrowKeyArn))];
    expect(all.filter((g) => g.startsWith(ORDERS))).toEqual([]);
    expect(await grantsOf(h.keyArn)).toEqual([version(APP, h.keyring, 1), version(APP, h.keyring, 2), version(BILLING, h.keyring, 1), version(BILLING, h.keyring, 2)].sort());
    expect(await grantsOf(opsKeyArn)).toEqual([catalogRead(BILLING)]);
    expect(await grantsOf(h.escrowKeyArn)).toEqual([ledgerRead(BILLING)]);
  });

  it('gives a role that is both deploy-time grantee and registry consumer one grant per version', async () => {
    // Prepare
    const both = 'arn:aws:iam::123456789012:role/app';
    await add(both);
    // Act
    await run({ keyring: h.keyring });
    // Assess
    expect(await grantsOf(h.keyArn)).toEqual([version(APP, h.keyring, 1), version(APP, h.keyring, 2)]);
    // The deploy-time grantee reads the catalog through its own stack policy; as a registry consumer it gets the grant too.
    expect(await grantsOf(opsKeyArn)).toEqual([catalogRead(APP)]);
  });

  it('never grants an entry outside the account bound, and reports it as an error and on HandlerFailures', async () => {
    // Prepare: a document edited around the CLI (which would refuse the role), naming a foreign account.
    const at = new Date().toISOString();
    const planted = { schema: 1, keyring: h.keyring, consumers: [{ principalArn: STRANGER, access: 'decrypt', addedAt: at, addedBy: 'x' }, { principalArn: ORDERS, access: 'decrypt', addedAt: at, addedBy: 'x' }] };
    await h.clients.s3.send(new PutObjectCommand({ Bucket: h.buckets.catalog, Key: `consumers/${h.keyring}.json`, Body: JSON.stringify(planted) }));
    // Act
    const report = await run(registryEvent());
    // Assess
    const all = [...(await grantsOf(h.keyArn)), ...(await grantsOf(opsKeyArn)), ...(await grantsOf(h.escrowKeyArn))];
    expect(all.filter((g) => g.startsWith(STRANGER))).toEqual([]);
    expect(all.filter((g) => g.startsWith(ORDERS))).toHaveLength(4);
    expect(report).toMatchObject({ refused: [{ keyring: h.keyring, principalArn: STRANGER, reason: 'outside-bound' }] });
    expect(metrics.values('HandlerFailures', { function: 'key-access', code: 'CONSUMER_OUTSIDE_BOUND' })).toEqual([1]);
    expect(lines.filter((l) => l.level === 'error')).toEqual([expect.objectContaining({ fields: { keyring: h.keyring, principalArn: STRANGER } })]);
  });

  it('fails the run, revoking nothing, when a registry document cannot be read', async () => {
    // Prepare
    await add(ORDERS);
    await run(registryEvent());
    await h.clients.s3.send(new PutObjectCommand({ Bucket: h.buckets.catalog, Key: `consumers/${h.keyring}.json`, Body: '{not json' }));
    // Act
    const failed = run(registryEvent());
    // Assess
    await expect(failed).rejects.toMatchObject({ code: 'BACKEND' });
    expect((await grantsOf(opsKeyArn))).toEqual([catalogRead(ORDERS)]);
    expect(metrics.values('HandlerFailures', { function: 'key-access', code: 'BACKEND' })).toEqual([1]);
  });

  it('ignores the registry, with a log line, when the stack sets no consumer bound', async () => {
    // Prepare
    await add(ORDERS);
    const off = buildKeyAccessServices(h.config, { clients: h.clients, grantees: { [h.keyring]: [APP] }, consumerBound: null });
    const offRun = createKeyAccessHandler({ services: () => off, logger: recordingLogger(lines), metrics });
    // Act
    const report = await offRun(registryEvent());
    // Assess
    expect(report).toEqual({ keyrings: [{ keyring: h.keyring, created: 2, revoked: 0 }], refused: [] });
    expect(await grantsOf(opsKeyArn)).toEqual([]);
    expect(lines.map((l) => l.message)).toContain('consumer registry ignored: the stack sets no consumer accounts and ops key (REKEY_CONSUMER_ACCOUNTS, REKEY_OPS_KEY_ARN)');
  });

  it('rejects a malformed S3 event with a ValidationError and counts it in HandlerFailures', async () => {
    // Prepare
    const malformed = { ...registryEvent(), detail: { bucket: { name: h.buckets.catalog }, object: { size: 3 } } };
    // Act
    const refused = run(malformed);
    // Assess
    await expect(refused).rejects.toThrow(ValidationError);
    expect(metrics.values('HandlerFailures', { function: 'key-access', code: 'VALIDATION' })).toEqual([1]);
  });

  describe('deployed handler configuration', () => {
    const saved = { ...process.env };
    beforeEach(() => {
      jest.spyOn(console, 'error').mockImplementation(() => undefined);
      jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    });
    afterEach(() => {
      process.env = { ...saved };
      jest.restoreAllMocks();
    });

    it.each<[string, string]>([
      [CONSUMER_ACCOUNTS_ENV, '["not-an-account"]'],
      [OPS_KEY_ARN_ENV, 'alias/ops'],
    ])('rejects a malformed %s with a ValidationError naming it', async (name, value) => {
      // Prepare
      process.env = { ...saved, ...h.env, [KEY_GRANTEES_ENV]: JSON.stringify({ [h.keyring]: [APP] }), [CONSUMER_ACCOUNTS_ENV]: '["111122223333"]', [OPS_KEY_ARN_ENV]: opsKeyArn, [name]: value };
      // Act
      const failed = deployedHandler({});
      // Assess
      await expect(failed).rejects.toThrow(`invalid configuration: ${name}`);
    });
  });
});
