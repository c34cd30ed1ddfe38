/**
 * The migration over S3 objects on moto_server: objects an application wrote before rekey
 * (plaintext, and ESDK messages under a KMS key on moto's KMS) become rekey records in place,
 * with conditional writes on the ETag.
 */
import { buildClient, CommitmentPolicy, getClient, KMS, KmsKeyringNode } from '@aws-crypto/client-node';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { MemoryCheckpointStore } from '../../shared/adapters/local/memory-checkpoint-store';
import { S3RecordStore } from '../../shared/adapters/aws/s3-record-store';
import { createEsdkDecryptor, migrateRecords, S3MigrationStore } from '../../shared/migrate';
import { RecordService } from '../../shared/reencrypt';
import { createBucket, createKmsKey, motoKms, motoS3 } from '../integration/aws/moto';
import type { LocalStack } from '../unit/reencrypt/support/local-stack';
import { FaultyStore, stackWith } from './support';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe('migrateRecords over S3 (moto)', () => {
  const s3 = motoS3();
  let bucket: string;
  let stack: LocalStack;
  let store: S3MigrationStore;
  let records: S3RecordStore;

  beforeEach(async () => {
    bucket = await createBucket(s3);
    stack = await stackWith('orders');
    store = new S3MigrationStore({ bucket, prefix: 'orders/', client: s3 });
    records = new S3RecordStore({ bucket, prefix: 'orders/', client: s3 });
  });
  afterEach(() => stack.close());

  async function putRaw(id: string, body: Buffer | string): Promise<string> {
    const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `orders/${id}`, Body: body }));
    return out.ETag ?? '';
  }

  async function body(id: string): Promise<Buffer> {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `orders/${id}` }));
    return Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
  }

  function service(): RecordService {
    return new RecordService({ records, envelopes: stack.envelopes, versions: stack.provider });
  }

  it('turns plaintext objects into rekey records the S3RecordStore reads and sweeps', async () => {
    // Prepare
    await putRaw('o-1', '{"order":1,"card":"4111"}');
    await putRaw('o-2', '{"order":2}');
    // Act
    const report = await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes: stack.envelopes, batchSize: 1 });
    // Assess
    expect(report).toMatchObject({ listed: 2, migrated: 2, completed: true, store: `s3://${bucket}/orders/` });
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'orders/o-1' }));
    expect(head.Metadata).toMatchObject({ 'rekey-keyring': 'orders', 'rekey-version': '1', 'rekey-origin': '1' });
    expect((await service().get('o-1')).plaintext.toString()).toBe('{"order":1,"card":"4111"}');
    expect((await records.scanByVersion('orders', 1, { limit: 10 })).items.map((r) => r.id)).toEqual(['o-1', 'o-2']);
  });

  it('a second pass leaves records in the metadata layout alone: their bodies alone would look like plaintext', async () => {
    // Prepare: migrated once, then moved to the metadata layout by a re-wrap (as a 'metadata' sweep does).
    await putRaw('o-1', '{"order":1,"card":"4111"}');
    await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes: stack.envelopes });
    const metadata = new S3RecordStore({ bucket, prefix: 'orders/', client: s3, layout: 'metadata' });
    const { version: active } = await stack.provider.forEncrypt('orders');
    const head = (await metadata.getHeader('o-1'))!;
    const [moved] = await metadata.putHeaders([{ write: { id: 'o-1', keyring: 'orders', version: active, header: head.header }, expectedRevision: head.revision }]);
    const before = await body('o-1');
    // Act
    const report = await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes: stack.envelopes });
    // Assess
    expect(moved).toMatchObject({ ok: true });
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'orders/o-1' }))).Metadata?.['rekey-header']).toBeDefined();
    expect(report).toMatchObject({ listed: 1, migrated: 0, failed: [] });
    expect((await body('o-1')).equals(before)).toBe(true);
    expect((await service().get('o-1')).plaintext.toString()).toBe('{"order":1,"card":"4111"}');
  });

  it("keeps the object's own user metadata and its content type beside the rekey index", async () => {
    // Prepare
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'orders/o-1', Body: '{"order":1}', ContentType: 'application/json', Metadata: { owner: 'orders-team' } }));
    // Act
    await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes: stack.envelopes });
    // Assess
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'orders/o-1' }));
    expect(head.ContentType).toBe('application/octet-stream');
    expect(head.Metadata).toEqual({ owner: 'orders-team', 'rekey-source-content-type': 'application/json', 'rekey-keyring': 'orders', 'rekey-version': '1', 'rekey-origin': '1' });
    expect((await service().get('o-1')).plaintext.toString()).toBe('{"order":1}');
  });

  it('loses to a writer that deleted the object after it was read', async () => {
    // Prepare
    await putRaw('o-1', 'before');
    const faulty = new FaultyStore(store, {
      afterRead: async () => {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'orders/o-1' }));
      },
    });
    // Act
    const report = await migrateRecords({ keyring: 'orders', from: 'plaintext', store: faulty, envelopes: stack.envelopes });
    // Assess
    expect(report).toMatchObject({ migrated: 0, conflicts: 1 });
    expect(await records.get('o-1')).toBeUndefined();
  });

  it('loses to a writer that changed the object after it was read (If-Match on the ETag)', async () => {
    // Prepare
    await putRaw('o-1', 'before');
    const faulty = new FaultyStore(store, {
      afterRead: async () => {
        await putRaw('o-1', 'written by the application meanwhile');
      },
    });
    // Act
    const report = await migrateRecords({ keyring: 'orders', from: 'plaintext', store: faulty, envelopes: stack.envelopes });
    // Assess
    expect(report).toMatchObject({ migrated: 0, conflicts: 1 });
    expect((await body('o-1')).toString()).toBe('written by the application meanwhile');
  });

  it('resumes from its checkpoint after a crash, with every object readable once', async () => {
    // Prepare
    for (let i = 0; i < 7; i += 1) await putRaw(`o-${i}`, `payload ${i}`);
    const checkpoint = new MemoryCheckpointStore();
    const faulty = new FaultyStore(store, { crashAfterWrites: 4 });
    // Act
    await expect(migrateRecords({ keyring: 'orders', from: 'plaintext', store: faulty, envelopes: stack.envelopes, checkpoint, batchSize: 2 })).rejects.toThrow('injected crash');
    faulty.faults = {};
    const resumed = await migrateRecords({ keyring: 'orders', from: 'plaintext', store: faulty, envelopes: stack.envelopes, checkpoint, batchSize: 2 });
    // Assess
    expect(resumed).toMatchObject({ resumed: true, completed: true });
    expect(faulty.writes).toBe(7);
    for (let i = 0; i < 7; i += 1) expect((await service().get(`o-${i}`)).plaintext.toString()).toBe(`payload ${i}`);
  });

  it('migrates ESDK messages encrypted under a KMS key on moto KMS, checking their encryption context', async () => {
    // Prepare
    const keyArn = await createKmsKey(motoKms());
    const clientProvider = getClient(KMS, { endpoint: process.env.REKEY_TEST_MOTO_URL, credentials });
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: keyArn });
    const { encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const seal = async (text: string, context: Record<string, string>): Promise<Buffer> => Buffer.from((await encrypt(keyring, Buffer.from(text), { encryptionContext: context })).result);
    await putRaw('k-1', await seal('kms one', { app: 'orders' }));
    await putRaw('k-2', await seal('kms two', { app: 'orders' }));
    await putRaw('k-3', await seal('other app', { app: 'billing' }));
    await putRaw('p-1', 'plain, left for a plaintext migration');
    const decryptor = await createEsdkDecryptor({
      keyring: { kind: 'kms', keyIds: [keyArn], clientConfig: { endpoint: process.env.REKEY_TEST_MOTO_URL, credentials } },
      requiredContext: { app: 'orders' },
    });
    // Act
    const report = await migrateRecords({ keyring: 'orders', from: 'esdk', decryptor, store, envelopes: stack.envelopes });
    // Assess
    expect(report).toMatchObject({ migrated: 2, seen: { esdk: 3, plaintext: 1 }, failed: [{ id: 'k-3', reason: 'source-context-mismatch' }] });
    expect((await service().get('k-1')).plaintext.toString()).toBe('kms one');
    expect((await service().get('k-2')).plaintext.toString()).toBe('kms two');
    expect((await body('p-1')).toString()).toBe('plain, left for a plaintext migration');
  });

  it('fails an object larger than the limit alone, without reading it', async () => {
    // Prepare
    const small = new S3MigrationStore({ bucket, prefix: 'orders/', client: s3, maxRecordBytes: 8 });
    await putRaw('big', 'more than eight bytes');
    await putRaw('ok', 'tiny');
    // Act
    const report = await migrateRecords({ keyring: 'orders', from: 'plaintext', store: small, envelopes: stack.envelopes });
    // Assess
    expect(report).toMatchObject({ migrated: 1, failed: [{ id: 'big', reason: 'invalid-record' }] });
    expect((await body('big')).toString()).toBe('more than eight bytes');
  });
});
