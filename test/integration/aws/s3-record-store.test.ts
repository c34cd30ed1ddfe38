import { randomBytes } from 'node:crypto';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3RecordStore } from '../../../shared/adapters/aws/s3-record-store';
import { BackendError, ConflictError, NotARecordError, ValidationError } from '../../../shared/errors';
import { countCommands, createBucket, createKmsKey, motoKms, motoS3 } from './moto';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';
import { describeRecordStoreContract } from '../../support/record-store-contract';
import { openS3ContractStore } from '../../support/stores/s3';
import { startSerialMoto, type SerialMoto } from '../../support/services';
import { parseHeader } from '../../../shared/envelope/format';
import { withHeaderRewrap } from '../../../shared/reencrypt/header-rewrap';
import { envelopeFromS3Object, s3ObjectFromEnvelope } from '../../../shared/envelope/s3-object-layout';

const MiB = 1024 * 1024;

describe('S3RecordStore (moto)', () => {
  const s3 = motoS3();
  let bucket: string;
  let store: S3RecordStore;

  beforeEach(async () => {
    bucket = await createBucket(s3);
    store = new S3RecordStore({ bucket, client: s3, prefix: 'data/' });
  });

  async function seed(specs: readonly [string, string, number][]): Promise<void> {
    for (const [id, keyring, version] of specs) await store.put({ id, keyring, version, envelope: Buffer.from(`env-${id}`) });
  }

  describe('put', () => {
    it('stores the envelope with keyring and version readable by HeadObject alone', async () => {
      // Prepare
      const envelope = randomBytes(300);
      // Act
      const revision = await store.put({ id: 'a/1', keyring: 'orders', version: 3, envelope }, null);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/a/1' }));
      const read = await store.get('a/1');
      // Assess
      expect(head.Metadata).toMatchObject({ 'rekey-keyring': 'orders', 'rekey-version': '3' });
      expect(head.ETag).toBe(revision);
      // Random bytes are no envelope: origin 1, the oldest (never left out of a revocation).
      expect(read).toEqual({ id: 'a/1', keyring: 'orders', version: 3, originVersion: 1, envelope, revision });
    });

    it('throws ConflictError for a create-if-absent of an existing record and keeps the first', async () => {
      // Prepare
      await store.put({ id: 'r', keyring: 'orders', version: 1, envelope: Buffer.from('first') }, null);
      // Act
      const attempt = store.put({ id: 'r', keyring: 'orders', version: 2, envelope: Buffer.from('second') }, null);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect((await store.get('r'))?.envelope.toString()).toBe('first');
    });

    it('writes on a current revision and refuses a stale or vanished one', async () => {
      // Prepare
      const r1 = await store.put({ id: 'r', keyring: 'orders', version: 1, envelope: Buffer.from('one') }, null);
      // Act
      const r2 = await store.put({ id: 'r', keyring: 'orders', version: 2, envelope: Buffer.from('two') }, r1);
      const stale = store.put({ id: 'r', keyring: 'orders', version: 3, envelope: Buffer.from('three') }, r1);
      const vanished = store.put({ id: 'nope', keyring: 'orders', version: 3, envelope: Buffer.from('x') }, r1);
      // Assess
      await expect(stale).rejects.toBeInstanceOf(ConflictError);
      await expect(vanished).rejects.toBeInstanceOf(ConflictError);
      const read = await store.get('r');
      expect(read?.revision).toBe(r2);
      expect(read?.version).toBe(2);
    });

    it('throws ValidationError for a bad keyring, version or id and writes nothing', async () => {
      // Act
      const attempts = [
        store.put({ id: 'x', keyring: 'bad/ring', version: 1, envelope: Buffer.from('e') }),
        store.put({ id: 'x', keyring: 'orders', version: 0, envelope: Buffer.from('e') }),
        store.put({ id: '', keyring: 'orders', version: 1, envelope: Buffer.from('e') }),
        store.put({ id: 'x', keyring: 'orders', version: 1, envelope: Buffer.alloc(0) }),
      ];
      // Assess
      for (const a of attempts) await expect(a).rejects.toBeInstanceOf(ValidationError);
      expect(await store.get('x')).toBeUndefined();
    });
  });

  describe('get', () => {
    it('returns undefined for a missing record and BackendError for an object without rekey metadata', async () => {
      // Prepare
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/foreign', Body: 'not ours' }));
      // Act
      const missing = await store.get('missing');
      const foreign = store.get('foreign');
      // Assess
      expect(missing).toBeUndefined();
      await expect(foreign).rejects.toBeInstanceOf(BackendError);
    });
  });

  describe('delete', () => {
    it('deletes on the current revision and refuses a stale one', async () => {
      // Prepare
      const r1 = await store.put({ id: 'd', keyring: 'orders', version: 1, envelope: Buffer.from('one') });
      const r2 = await store.put({ id: 'd', keyring: 'orders', version: 1, envelope: Buffer.from('two') }, r1);
      // Act
      const stale = store.delete('d', r1);
      await expect(stale).rejects.toBeInstanceOf(ConflictError);
      const stillThere = await store.get('d');
      await store.delete('d', r2);
      // Assess
      expect(stillThere?.revision).toBe(r2);
      expect(await store.get('d')).toBeUndefined();
    });
  });

  describe('scanByVersion', () => {
    it('pages through exactly the records of one keyring version in key order', async () => {
      // Prepare
      const specs: [string, string, number][] = [];
      for (let i = 0; i < 23; i++) specs.push([`r${String(i).padStart(3, '0')}`, i % 4 === 3 ? 'billing' : 'orders', (i % 3) + 1]);
      await seed(specs);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/foreign', Body: 'not ours' }));
      const expected = specs.filter(([, k, v]) => k === 'orders' && v === 2).map(([id]) => id);
      // Act
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.scanByVersion('orders', 2, { limit: 2, cursor });
        seen.push(...page.items.map((r) => r.id));
        expect(page.items.every((r) => r.keyring === 'orders' && r.version === 2)).toBe(true);
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
      // Assess
      expect(seen).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / 2));
    });

    it('stops after maxExaminedPerScan objects with a cursor that resumes where it stopped', async () => {
      // Prepare
      await seed([['a', 'orders', 1], ['b', 'orders', 2], ['c', 'orders', 2], ['d', 'orders', 1], ['e', 'orders', 2]]);
      const bounded = new S3RecordStore({ bucket, client: s3, prefix: 'data/', maxExaminedPerScan: 2 });
      // Act
      const first = await bounded.scanByVersion('orders', 2, { limit: 10 });
      const second = await bounded.scanByVersion('orders', 2, { limit: 10, cursor: first.cursor });
      const third = await bounded.scanByVersion('orders', 2, { limit: 10, cursor: second.cursor });
      // Assess
      expect(first.items.map((r) => r.id)).toEqual(['b']);
      expect(first.cursor).toBeDefined();
      expect(second.items.map((r) => r.id)).toEqual(['c']);
      expect(third.items.map((r) => r.id)).toEqual(['e']);
      expect(third.cursor).toBeUndefined();
    });

    it('throws ValidationError for a cursor it did not issue', async () => {
      // Act
      const attempt = store.scanByVersion('orders', 1, { limit: 5, cursor: 'not-a-cursor' });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('countByVersion', () => {
    it('counts the records of each version of one keyring only', async () => {
      // Prepare
      await seed([['a', 'orders', 1], ['b', 'orders', 2], ['c', 'orders', 2], ['d', 'billing', 2], ['e', 'orders', 5]]);
      // Act
      const counts = await store.countByVersion('orders');
      // Assess
      expect([...counts.entries()].sort((x, y) => x[0] - y[0])).toEqual([[1, 1], [2, 2], [5, 1]]);
    });

    it('HEADs only objects changed since its last listing, and counts what changed, appeared or vanished', async () => {
      // Prepare: a store whose client counts its HeadObject calls
      const client = motoS3();
      const heads: string[] = [];
      client.middlewareStack.add(
        (next, ctx) => async (args) => {
          if (ctx.commandName === 'HeadObjectCommand') heads.push(String((args.input as { Key?: string }).Key));
          return next(args);
        },
        { step: 'initialize' },
      );
      const memoized = new S3RecordStore({ bucket, client, prefix: 'data/' });
      await seed([['a', 'orders', 1], ['b', 'orders', 1], ['c', 'orders', 2]]);
      const first = await memoized.countByVersion('orders');
      const headsFirst = heads.splice(0);
      // Act: unchanged, then one overwritten (new version), one deleted, one added
      const again = await memoized.countByVersion('orders');
      const headsAgain = heads.splice(0);
      const b = await store.get('b');
      await store.put({ id: 'b', keyring: 'orders', version: 2, envelope: Buffer.from('env-b2') }, b?.revision ?? null);
      await store.delete('a', (await store.get('a'))?.revision ?? '');
      await store.put({ id: 'd', keyring: 'orders', version: 2, envelope: Buffer.from('env-d') }, null);
      const changed = await memoized.countByVersion('orders');
      const headsChanged = heads.splice(0);
      const page = await memoized.scanByVersion('orders', 2, { limit: 10 });
      // Assess
      expect(headsFirst.sort()).toEqual(['data/a', 'data/b', 'data/c']);
      expect([...again]).toEqual([...first]);
      expect(headsAgain).toEqual([]);
      expect(headsChanged.sort()).toEqual(['data/b', 'data/d']);
      expect([...changed.entries()].sort((x, y) => x[0] - y[0])).toEqual([[2, 3]]);
      expect(heads).toEqual([]);
      expect(page.items.map((r) => [r.id, r.revision])).toEqual(await Promise.all(['b', 'c', 'd'].map(async (id) => [id, (await store.get(id))?.revision])));
    });

    it('HEADs every object on every count with the memo turned off', async () => {
      // Prepare
      const client = motoS3();
      let heads = 0;
      client.middlewareStack.add(
        (next, ctx) => async (args) => {
          if (ctx.commandName === 'HeadObjectCommand') heads++;
          return next(args);
        },
        { step: 'initialize' },
      );
      const plain = new S3RecordStore({ bucket, client, prefix: 'data/', listingMemoEntries: 0 });
      await seed([['a', 'orders', 1], ['b', 'orders', 2]]);
      // Act
      await plain.countByVersion('orders');
      await plain.countByVersion('orders');
      // Assess
      expect(heads).toBe(4);
    });
  });

  describe('readHeader', () => {
    it('returns only the requested first bytes with the size, index and revision', async () => {
      // Prepare
      const envelope = randomBytes(10_000);
      const revision = await store.put({ id: 'h', keyring: 'orders', version: 4, envelope });
      // Act
      const head = await store.readHeader('h', 64);
      // Assess
      expect(head).toEqual({ id: 'h', keyring: 'orders', version: 4, bytes: envelope.subarray(0, 64), size: 10_000, revision });
    });
  });

  describe('rewrapObject', () => {
    it('replaces the header of a small object, keeps the payload and updates the version metadata', async () => {
      // Prepare
      const oldHeader = randomBytes(90);
      const body = randomBytes(4096);
      const revision = await store.put({ id: 's', keyring: 'orders', version: 1, envelope: Buffer.concat([oldHeader, body]) });
      const newHeader = randomBytes(96);
      // Act
      const next = await store.rewrapObject({ id: 's', newHeader, oldHeaderLength: 90, version: 2, expectedRevision: revision });
      // Assess
      const read = await store.get('s');
      expect(read?.envelope.equals(Buffer.concat([newHeader, body]))).toBe(true);
      expect(read?.version).toBe(2);
      expect(read?.revision).toBe(next);
    });

    it('builds a large object inside S3 with ranged part copies and keeps every payload byte', async () => {
      // Prepare
      const big = new S3RecordStore({ bucket, client: s3, prefix: 'data/', multipartThresholdBytes: 5 * MiB + 1, copyPartBytes: 5 * MiB });
      const oldHeader = randomBytes(120);
      const body = randomBytes(11 * MiB + 12345);
      const revision = await big.put({ id: 'big', keyring: 'orders', version: 1, envelope: Buffer.concat([oldHeader, body]) });
      const newHeader = randomBytes(133);
      // Act
      const next = await big.rewrapObject({ id: 'big', newHeader, oldHeaderLength: 120, version: 2, expectedRevision: revision });
      // Assess
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/big' }));
      const bytes = Buffer.from(await out.Body!.transformToByteArray());
      expect(bytes.length).toBe(133 + body.length);
      expect(bytes.equals(Buffer.concat([newHeader, body]))).toBe(true);
      expect(out.Metadata).toMatchObject({ 'rekey-keyring': 'orders', 'rekey-version': '2' });
      expect(out.ETag).toBe(next);
      expect(next).toMatch(/-3"$/);
    });

    it('throws ConflictError and changes nothing when the record changed since it was read', async () => {
      // Prepare
      const r1 = await store.put({ id: 'c', keyring: 'orders', version: 1, envelope: Buffer.from('HEADERbody') });
      const r2 = await store.put({ id: 'c', keyring: 'orders', version: 1, envelope: Buffer.from('HEADERnewer-body') }, r1);
      // Act
      const attempt = store.rewrapObject({ id: 'c', newHeader: Buffer.from('H2'), oldHeaderLength: 6, version: 2, expectedRevision: r1 });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      const read = await store.get('c');
      expect(read?.revision).toBe(r2);
      expect(read?.envelope.toString()).toBe('HEADERnewer-body');
    });

    it('throws ValidationError when the old header is longer than the object', async () => {
      // Prepare
      const r = await store.put({ id: 'v', keyring: 'orders', version: 1, envelope: Buffer.from('short') });
      // Act
      const attempt = store.rewrapObject({ id: 'v', newHeader: Buffer.from('H'), oldHeaderLength: 6, version: 2, expectedRevision: r });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect((await store.get('v'))?.envelope.toString()).toBe('short');
    });
  });
});

// Issue 11: the origin version of each data key is indexed next to the version, kept by
// header-only re-wraps, and a revocation deletes (or reports) the noncurrent object versions
// that still hold a data key the revoked version wrapped. Keys and envelopes come from the real
// local stack; the records live in a versioned bucket on moto.
describe('S3RecordStore origin index and exposed copies (moto, versioned bucket)', () => {
  const s3 = motoS3();
  let bucket: string;
  let stack: LocalStack;

  beforeEach(async () => {
    bucket = await createBucket(s3);
    stack = new LocalStack();
    await stack.createKeyring('pii');
  });

  afterEach(() => stack.close());

  async function versionsOf(key: string): Promise<string[]> {
    const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    return (out.Versions ?? []).filter((v) => v.Key === key).map((v) => v.VersionId as string);
  }

  /** Three records under v1, re-wrapped (header only, data keys kept) to v2. */
  async function rewrapped(store: S3RecordStore): Promise<void> {
    const service = stack.recordService(store);
    for (const id of ['a', 'b', 'c']) await service.put(id, 'pii', Buffer.from(`value ${id}`));
    await stack.rotateAndPromote('pii');
    const swept = await stack.sweeper(store).sweep('pii', 1, { mode: 'rewrap', checkpoint: stack.checkpoints });
    expect(swept).toMatchObject({ done: 3, remaining: 0 });
  }

  it('indexes the origin next to the version and keeps it through a re-wrap', async () => {
    // Prepare
    const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/' });
    // Act
    await rewrapped(store);
    // Assess
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/a' }));
    expect(head.Metadata).toMatchObject({ 'rekey-version': '2', 'rekey-origin': '1' });
    expect(await store.countByVersion('pii')).toEqual(new Map([[2, 3]]));
    expect(await store.countByOrigin('pii')).toEqual(new Map([[1, 3]]));
    expect((await store.scanByOrigin('pii', 1, { limit: 10 })).items.map((r) => [r.id, r.version, r.originVersion])).toEqual([['a', 2, 1], ['b', 2, 1], ['c', 2, 1]]);
    expect((await store.scanByOrigin('pii', 1, { limit: 2 })).cursor).toBeDefined();
    expect(await store.get('a')).toMatchObject({ version: 2, originVersion: 1 });
  });

  it('deletes the noncurrent versions under the revoked key once each object is re-encrypted', async () => {
    // Prepare
    const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/' });
    await rewrapped(store);
    await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
    stack.provider.invalidate('pii');
    const sweep = await stack.sweeper(store).sweep('pii', 1, { mode: 'reencrypt', checkpoint: stack.checkpoints });
    expect(sweep).toMatchObject({ done: 3, failedCount: 0, remaining: 0 });
    expect(await versionsOf('data/a')).toHaveLength(3);
    // Act
    const report = await store.purgeExposedCopies('pii', 1);
    const again = await store.purgeExposedCopies('pii', 1);
    // Assess: before the fix the put and the re-wrap stayed as noncurrent versions under v1's key.
    expect(report).toEqual({ deleted: 6, remaining: [], remainingCount: 0 });
    expect(again).toEqual({ deleted: 0, remaining: [], remainingCount: 0 });
    for (const key of ['data/a', 'data/b', 'data/c']) expect(await versionsOf(key)).toHaveLength(1);
    expect((await stack.recordService(store).get('b')).plaintext.toString()).toBe('value b');
  });

  it('reports exactly which copies remain when deleting is not configured or the object is not re-encrypted', async () => {
    // Prepare
    const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', deleteExposedCopies: false });
    await rewrapped(store);
    await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
    stack.provider.invalidate('pii');
    // Only 'a' is re-encrypted: the sweep is stopped after one record.
    const sweeper = stack.sweeper(store);
    const stop = new AbortController();
    await sweeper.sweep('pii', 1, { mode: 'reencrypt', checkpoint: stack.checkpoints, batchSize: 1, onProgress: () => stop.abort(), signal: stop.signal });
    const aVersions = await versionsOf('data/a');
    // Act
    const report = await store.purgeExposedCopies('pii', 1);
    // Assess
    const byId = (id: string): string[] => report.remaining.filter((c) => c.id === id).map((c) => `${c.copyId}:${c.reason}`).sort();
    expect(report.deleted).toBe(0);
    // a: the put and the re-wrap; b and c: the put (their current object is the re-wrap).
    expect(report.remainingCount).toBe(4);
    expect(byId('a')).toEqual(aVersions.slice(1).map((v) => `${v}:not-configured`).sort());
    expect(report.remaining.filter((c) => c.id !== 'a').every((c) => c.reason === 'current-not-reencrypted')).toBe(true);
    expect(await versionsOf('data/a')).toHaveLength(3);
  });
});

// On a moto_server of its own that serves one request at a time: the threaded server checks a
// condition and writes without a lock, so two conditional writes at one ETag could both win
// there, which S3 never lets happen (test/support/stores/dynamodb.ts).
describe('on a serial moto_server', () => {
  let moto: SerialMoto;
  beforeAll(async () => {
    moto = await startSerialMoto();
  });
  afterAll(async () => {
    await moto.stop();
  });
  describeRecordStoreContract('S3RecordStore', () => openS3ContractStore({}, moto.endpoint));
  // The same contract with the header in the object metadata (the layout whose re-wrap moves no body byte).
  describeRecordStoreContract('S3RecordStore, metadata layout', () => openS3ContractStore({ layout: 'metadata' }, moto.endpoint));
});

// The BatchRecordStore capabilities on S3: a header read with ranged GETs, header writes as
// conditional payload-preserving rewrites, and what differs from a transactional store.
describe('S3RecordStore header reads and writes (moto)', () => {
  const s3 = motoS3();
  let stack: LocalStack;
  let bucket: string;

  beforeAll(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
  });
  afterAll(() => stack.close());
  beforeEach(async () => {
    bucket = await createBucket(s3, { versioned: false });
  });

  const envelopes = (): ReturnType<typeof withHeaderRewrap> => withHeaderRewrap(stack.envelopes, stack.provider);
  const activeOf = async (): Promise<number> => (await stack.keyrings.get('pii')).versions.find((v) => v.state === 'active')!.version;

  /** Sends every request of `client` past a counter of GetObject ranges. */
  function rangesOf(client: typeof s3): string[] {
    const ranges: string[] = [];
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        if (ctx.commandName === 'GetObjectCommand') ranges.push(String((args.input as { Range?: string }).Range));
        return next(args);
      },
      { step: 'initialize', name: 'rangeCounter' },
    );
    return ranges;
  }

  it('reads a header longer than its first ranged GET with a second one, and only the header', async () => {
    // Prepare: a stored context makes the header long (the context is kept in clear in it).
    const client = motoS3();
    const ranges = rangesOf(client);
    const store = new S3RecordStore({ bucket, client, prefix: 'data/', headerReadBytes: 16 });
    const context = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`field-${i}`, 'x'.repeat(40)]));
    const envelope = await stack.envelopes.encrypt('pii', Buffer.alloc(4096, 7), { context, storeContext: true });
    const length = parseHeader(envelope).headerLength;
    const version = await activeOf();
    const revision = await store.put({ id: 'long', keyring: 'pii', version, envelope }, null);
    // Act
    const head = await store.getHeader('long');
    // Assess
    expect(length).toBeGreaterThan(16);
    expect(head).toEqual({ id: 'long', keyring: 'pii', version, originVersion: version, header: envelope.subarray(0, length), revision });
    expect(ranges).toEqual(['bytes=0-15', `bytes=16-${length - 1}`]);
  });

  it('refuses a header that the metadata indexes under another version, as a corrupt index', async () => {
    // Prepare: the object written behind the store's back, metadata naming a version its header does not.
    const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/' });
    const envelope = await stack.envelopes.encrypt('pii', Buffer.from('v'));
    const version = await activeOf();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/lie', Body: envelope, Metadata: { 'rekey-keyring': 'pii', 'rekey-version': String(version + 1) } }));
    // Act / Assess
    await expect(store.getHeader('lie')).rejects.toMatchObject({ code: 'BACKEND', retryable: false });
    await expect(store.getHeader('missing')).resolves.toBeUndefined();
  });

  it.each(['body', 'metadata'] as const)('makes a header write conflict when another writer replaced the record after its header was read (%s layout)', async (layout) => {
    // Prepare
    const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout });
    const peer = new S3RecordStore({ bucket, client: motoS3(), prefix: 'data/', layout });
    const from = await activeOf();
    await store.put({ id: 'raced', keyring: 'pii', version: from, envelope: await stack.envelopes.encrypt('pii', Buffer.from('old')) }, null);
    await stack.rotateAndPromote('pii');
    const head = (await store.getHeader('raced'))!;
    const next = await envelopes().rewrapHeader(head.header);
    const theirs = await stack.envelopes.encrypt('pii', Buffer.from('theirs'));
    const theirRevision = await peer.put({ id: 'raced', keyring: 'pii', version: next.version, envelope: theirs }, head.revision);
    // Act
    const outcomes = await store.putHeaders([{ write: { id: 'raced', keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision }]);
    // Assess
    expect(outcomes).toEqual([{ ok: false, reason: 'conflict' }]);
    const after = (await store.get('raced'))!;
    expect(after.revision).toBe(theirRevision);
    expect(after.envelope.equals(theirs)).toBe(true);
  });

  it('refuses a header that does not re-wrap the stored one, and writes nothing', async () => {
    // Prepare: a re-wrapped header of another record (another data key, same length).
    const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/' });
    const from = await activeOf();
    const a = await stack.envelopes.encrypt('pii', Buffer.from('a'));
    const b = await stack.envelopes.encrypt('pii', Buffer.from('b'));
    const revA = await store.put({ id: 'a', keyring: 'pii', version: from, envelope: a }, null);
    await store.put({ id: 'b', keyring: 'pii', version: from, envelope: b }, null);
    await stack.rotateAndPromote('pii');
    const foreign = await envelopes().rewrapHeader((await store.getHeader('b'))!.header);
    // Act
    const attempt = store.putHeaders([{ write: { id: 'a', keyring: 'pii', version: foreign.version, header: foreign.header }, expectedRevision: revA }]);
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    const after = (await store.get('a'))!;
    expect(after.revision).toBe(revA);
    expect(after.envelope.equals(a)).toBe(true);
  });

  it('re-wraps a header above the multipart threshold inside S3 and keeps the body byte-identical', async () => {
    // Prepare: an envelope of more than 5 MiB, threshold lowered to the 5 MiB + 1 minimum.
    const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', multipartThresholdBytes: 5 * MiB + 1, copyPartBytes: 5 * MiB });
    const plaintext = randomBytes(6 * MiB + 777);
    const envelope = await stack.envelopes.encrypt('pii', plaintext);
    const from = await activeOf();
    await store.put({ id: 'huge', keyring: 'pii', version: from, envelope }, null);
    const to = await stack.rotateAndPromote('pii');
    const head = (await store.getHeader('huge'))!;
    const next = await envelopes().rewrapHeader(head.header);
    // Act
    const [outcome] = await store.putHeaders([{ write: { id: 'huge', keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision }]);
    // Assess
    const after = (await store.get('huge'))!;
    expect(outcome).toEqual({ ok: true, revision: after.revision });
    // A multipart ETag ends in the part count: the object was assembled by S3, not PUT.
    expect(after.revision).toMatch(/-\d+"$/);
    expect(after.version).toBe(to);
    expect(after.originVersion).toBe(from);
    expect(after.envelope.length).toBe(envelope.length);
    expect(after.envelope.subarray(head.header.length).equals(envelope.subarray(head.header.length))).toBe(true);
    expect((await stack.envelopes.decrypt(after.envelope)).plaintext.equals(plaintext)).toBe(true);
  });

  // The metadata layout: the header in x-amz-meta-rekey-header, the body the rest of the envelope,
  // and a header re-wrap that is a HEAD and a metadata-only CopyObject (no body byte read or written).
  describe('metadata layout', () => {

    /** The command names (without `Command`) that `client` sends from now on; `splice(0)` starts again. */
    function commandsOf(client: typeof s3): { names: () => string[]; splice: () => void } {
      const sent = countCommands(client);
      return { names: () => sent.map((c) => c.command.replace(/Command$/, '')), splice: () => void sent.splice(0) };
    }

    async function rewrapAll(store: S3RecordStore, ids: readonly string[]): Promise<{ ok: boolean }[]> {
      const writes = await Promise.all(
        ids.map(async (id) => {
          const head = (await store.getHeader(id))!;
          const next = await envelopes().rewrapHeader(head.header);
          return { write: { id, keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision };
        }),
      );
      return store.putHeaders(writes);
    }

    it('keeps the header in the metadata and the rest as the body; both layouts read the record whole', async () => {
      // Prepare
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      const bodyStore = new S3RecordStore({ bucket, client: motoS3(), prefix: 'data/' });
      const envelope = await stack.envelopes.encrypt('pii', randomBytes(2048));
      const length = parseHeader(envelope).headerLength;
      const version = await activeOf();
      // Act
      const revision = await store.put({ id: 'm', keyring: 'pii', version, envelope }, null);
      // Assess
      const raw = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/m' }));
      const body = Buffer.from(await raw.Body!.transformToByteArray());
      expect(body.equals(envelope.subarray(length))).toBe(true);
      expect(Buffer.from(raw.Metadata!['rekey-header']!, 'base64').equals(envelope.subarray(0, length))).toBe(true);
      for (const reader of [store, bodyStore]) {
        expect((await reader.get('m'))?.envelope.equals(envelope)).toBe(true);
        expect(await reader.getHeader('m')).toEqual({ id: 'm', keyring: 'pii', version, originVersion: version, header: envelope.subarray(0, length), revision });
      }
    });

    it('re-wraps with a HEAD and a metadata-only CopyObject: no body byte read or written, the body byte-identical', async () => {
      // Prepare
      const client = motoS3();
      const store = new S3RecordStore({ bucket, client, prefix: 'data/', layout: 'metadata' });
      const plaintext = randomBytes(64 * 1024);
      const envelope = await stack.envelopes.encrypt('pii', plaintext);
      const from = await activeOf();
      await store.put({ id: 'big', keyring: 'pii', version: from, envelope }, null);
      const to = await stack.rotateAndPromote('pii');
      const commands = commandsOf(client);
      // Act
      const [outcome] = await rewrapAll(store, ['big']);
      // Assess
      expect(outcome).toMatchObject({ ok: true });
      expect(commands.names()).toEqual(['HeadObject', 'CopyObject']);
      const after = (await store.get('big'))!;
      expect(after.version).toBe(to);
      expect(after.originVersion).toBe(from);
      const length = parseHeader(envelope).headerLength;
      expect(after.envelope.subarray(length).equals(envelope.subarray(length))).toBe(true);
      expect(after.envelope.subarray(0, length).equals(envelope.subarray(0, length))).toBe(false);
      expect((await stack.envelopes.decrypt(after.envelope)).plaintext.equals(plaintext)).toBe(true);
      expect(await store.countByVersion('pii')).toEqual(new Map([[to, 1]]));
    });

    it('moves a body-layout object to the metadata layout at its first re-wrap, and copies only from then on', async () => {
      // Prepare: written by a body-layout store (e.g. before the option was set).
      const client = motoS3();
      const store = new S3RecordStore({ bucket, client, prefix: 'data/', layout: 'metadata' });
      const plaintext = randomBytes(4000);
      const envelope = await stack.envelopes.encrypt('pii', plaintext);
      await new S3RecordStore({ bucket, client: s3, prefix: 'data/' }).put({ id: 'old', keyring: 'pii', version: await activeOf(), envelope }, null);
      await stack.rotateAndPromote('pii');
      const commands = commandsOf(client);
      // Act
      await rewrapAll(store, ['old']);
      const first = commands.names();
      commands.splice();
      await stack.rotateAndPromote('pii');
      await rewrapAll(store, ['old']);
      // Assess
      // The header read's HEAD finds a body-layout object, its ranged GET returns it whole (under
      // 8 KiB), and the conversion is one conditional PutObject of the body alone.
      expect(first).toEqual(['HeadObject', 'GetObject', 'PutObject']);
      expect(commands.names()).toEqual(['HeadObject', 'CopyObject']);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/old' }));
      expect(head.ContentLength).toBe(envelope.length - parseHeader(envelope).headerLength);
      expect((await stack.envelopes.decrypt((await store.get('old'))!.envelope)).plaintext.equals(plaintext)).toBe(true);
    });

    it('is refused by S3 as the emulator now checks: CopyObject with a stale source or destination ETag answers 412', async () => {
      // The conditions of CopyObject (x-amz-copy-source-if-match, If-Match; Amazon S3 API Reference,
      // CopyObject) that test/support/moto_server.py adds to moto 5.2.1.
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'one' }));
      const stale = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).ETag!;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'two' }));
      const copy = (extra: Record<string, string>) =>
        s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'k', CopySource: `${bucket}/k`, MetadataDirective: 'REPLACE', Metadata: { a: '1' }, ...extra }));
      await expect(copy({ CopySourceIfMatch: stale })).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
      await expect(copy({ IfMatch: stale })).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
      const current = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).ETag!;
      await copy({ CopySourceIfMatch: current, IfMatch: current });
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).Metadata).toEqual({ a: '1' });
    });

    it('keeps the body layout for a header longer than the metadata holds', async () => {
      // Prepare: a large stored context makes the header longer than 1,200 bytes.
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      const context = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`field-${i}`, 'x'.repeat(60)]));
      const envelope = await stack.envelopes.encrypt('pii', Buffer.from('long'), { context, storeContext: true });
      // Act
      await store.put({ id: 'long', keyring: 'pii', version: await activeOf(), envelope }, null);
      await stack.rotateAndPromote('pii');
      const [outcome] = await rewrapAll(store, ['long']);
      // Assess
      expect(parseHeader(envelope).headerLength).toBeGreaterThan(1200);
      expect(outcome).toMatchObject({ ok: true });
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/long' }));
      expect(head.Metadata?.['rekey-header']).toBeUndefined();
      expect(head.ContentLength).toBe(envelope.length);
      expect((await stack.envelopes.decrypt((await store.get('long'))!.envelope, { context })).plaintext.toString()).toBe('long');
    });

    it('carries the storage class and content type through the copy', async () => {
      // Prepare: an object in STANDARD_IA (a CopyObject without x-amz-storage-class would make it STANDARD).
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      await store.put({ id: 'ia', keyring: 'pii', version: await activeOf(), envelope: await stack.envelopes.encrypt('pii', Buffer.from('ia')) }, null);
      const { Metadata } = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/ia' }));
      const body = (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/ia' }))).Body!;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/ia', Body: Buffer.from(await body.transformToByteArray()), Metadata, StorageClass: 'STANDARD_IA', ContentType: 'application/x-rekey' }));
      await stack.rotateAndPromote('pii');
      // Act
      const [outcome] = await rewrapAll(store, ['ia']);
      // Assess
      expect(outcome).toMatchObject({ ok: true });
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/ia' }));
      expect(head.StorageClass).toBe('STANDARD_IA');
      expect(head.ContentType).toBe('application/x-rekey');
      expect(head.Metadata?.['rekey-version']).toBe(String(await activeOf()));
    });

    it('moves a body-layout object above the multipart threshold with UploadPartCopy ranges alone', async () => {
      // Prepare
      const client = motoS3();
      const store = new S3RecordStore({ bucket, client, prefix: 'data/', layout: 'metadata', multipartThresholdBytes: 5 * MiB + 1, copyPartBytes: 5 * MiB });
      const plaintext = randomBytes(6 * MiB + 333);
      const envelope = await stack.envelopes.encrypt('pii', plaintext);
      await new S3RecordStore({ bucket, client: s3, prefix: 'data/' }).put({ id: 'huge', keyring: 'pii', version: await activeOf(), envelope }, null);
      await stack.rotateAndPromote('pii');
      const commands = commandsOf(client);
      // Act
      const [outcome] = await rewrapAll(store, ['huge']);
      // Assess
      expect(outcome).toMatchObject({ ok: true });
      // getHeader: HEAD, ranged GET; the move: a ranged GET of the old header, then S3 copies the body.
      expect(commands.names().filter((c) => c !== 'UploadPartCopy')).toEqual(['HeadObject', 'GetObject', 'GetObject', 'CreateMultipartUpload', 'CompleteMultipartUpload']);
      expect(commands.names().filter((c) => c === 'UploadPartCopy')).toHaveLength(2);
      expect((await stack.envelopes.decrypt((await store.get('huge'))!.envelope)).plaintext.equals(plaintext)).toBe(true);
    });

    it.each([
      ['CompleteMultipartUploadCommand', 'body'],
      ['UploadPartCopyCommand', 'body'],
      ['CompleteMultipartUploadCommand', 'metadata'],
      ['UploadPartCopyCommand', 'metadata'],
    ] as const)('conflicts when a writer replaces a multipart-sized record before its %s (%s layout), and the writer wins', async (before, layout) => {
      // Prepare: an application write lands just before the store's request goes out.
      const client = motoS3();
      const store = new S3RecordStore({ bucket, client, prefix: 'data/', layout, multipartThresholdBytes: 5 * MiB + 1, copyPartBytes: 5 * MiB });
      const envelope = await stack.envelopes.encrypt('pii', randomBytes(6 * MiB));
      await new S3RecordStore({ bucket, client: s3, prefix: 'data/' }).put({ id: 'big', keyring: 'pii', version: await activeOf(), envelope }, null);
      await stack.rotateAndPromote('pii');
      const theirs = await stack.envelopes.encrypt('pii', Buffer.from('theirs'));
      let raced: string | undefined;
      client.middlewareStack.add(
        (next, ctx) => async (args) => {
          if (ctx.commandName === before && raced === undefined) raced = await new S3RecordStore({ bucket, client: s3, prefix: 'data/' }).put({ id: 'big', keyring: 'pii', version: await activeOf(), envelope: theirs });
          return next(args);
        },
        { step: 'initialize', name: 'racer' },
      );
      const sent = countCommands(client);
      // Act
      const [outcome] = await rewrapAll(store, ['big']);
      // Assess: S3's conditions (UploadPartCopy x-amz-copy-source-if-match, CompleteMultipartUpload If-Match) refused it,
      // the source condition before any completion was tried.
      expect(raced).toBeDefined();
      expect(sent.some((c) => c.command === 'CompleteMultipartUploadCommand')).toBe(before === 'CompleteMultipartUploadCommand');
      expect(outcome).toEqual({ ok: false, reason: 'conflict' });
      const after = (await store.get('big'))!;
      expect(after.revision).toBe(raced);
      expect(after.envelope.equals(theirs)).toBe(true);
    });

    it('moves an object back to the body layout when a raw rewrite brings bytes its metadata cannot hold', async () => {
      // Prepare
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      const envelope = await stack.envelopes.encrypt('pii', Buffer.from('raw'));
      const length = parseHeader(envelope).headerLength;
      const revision = await store.put({ id: 'raw', keyring: 'pii', version: await activeOf(), envelope }, null);
      const bytes = randomBytes(length);
      // Act
      await store.rewrapObject({ id: 'raw', newHeader: bytes, oldHeaderLength: length, version: await activeOf(), expectedRevision: revision });
      // Assess
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/raw' }));
      expect(out.Metadata?.['rekey-header']).toBeUndefined();
      expect(Buffer.from(await out.Body!.transformToByteArray()).equals(Buffer.concat([bytes, envelope.subarray(length)]))).toBe(true);
    });

    it('carries SSE-KMS, its key and the system metadata through the copy', async () => {
      // Prepare: an object under a customer key with Cache-Control, written as an application would.
      const keyArn = await createKmsKey(motoKms());
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      const written = s3ObjectFromEnvelope(await stack.envelopes.encrypt('pii', Buffer.from('kms')), 'metadata');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/kms', Body: written.body, Metadata: written.metadata, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn, CacheControl: 'no-store' }));
      await stack.rotateAndPromote('pii');
      // Act
      const [outcome] = await rewrapAll(store, ['kms']);
      // Assess
      expect(outcome).toMatchObject({ ok: true });
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/kms' }));
      expect(head).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn, CacheControl: 'no-store' });
      expect(head.Metadata?.['rekey-version']).toBe(String(await activeOf()));
    });

    it('keeps the body layout when the header would take the metadata past S3\'s 2 KB, on write and on a move', async () => {
      // Prepare: 700 bytes of the application's own metadata and a header of about 1,100 bytes.
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      const context = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}`, 'y'.repeat(60)]));
      const envelope = await stack.envelopes.encrypt('pii', Buffer.from('wide'), { context, storeContext: true });
      const own = { note: 'n'.repeat(700) };
      const written = s3ObjectFromEnvelope(envelope, 'metadata', own);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/wide', Body: written.body, Metadata: written.metadata }));
      await store.put({ id: 'fresh', keyring: 'pii', version: await activeOf(), envelope }, null);
      await stack.rotateAndPromote('pii');
      // Act
      const [outcome] = await rewrapAll(store, ['wide']);
      // Assess
      expect(parseHeader(envelope).headerLength).toBeGreaterThan(1000);
      expect(parseHeader(envelope).headerLength).toBeLessThanOrEqual(1200);
      expect(written.metadata['rekey-header']).toBeUndefined();
      expect(outcome).toMatchObject({ ok: true });
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/wide' }));
      expect(head.Metadata?.['rekey-header']).toBeUndefined();
      expect(head.Metadata?.note).toBe(own.note);
      expect((await stack.envelopes.decrypt((await store.get('wide'))!.envelope, { context })).plaintext.toString()).toBe('wide');
      // Without the application's metadata the same header fits.
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/fresh' }))).Metadata?.['rekey-header']).toBeDefined();
    });

    it('counts a re-wrap that kept the ETag: a metadata-layout HEAD is memoized only once its second has passed', async () => {
      // Prepare
      const counter = new S3RecordStore({ bucket, client: motoS3(), prefix: 'data/', layout: 'metadata' });
      const writer = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      const from = await activeOf();
      await writer.put({ id: 'c', keyring: 'pii', version: from, envelope: await stack.envelopes.encrypt('pii', Buffer.from('count me')) }, null);
      const before = await counter.countByVersion('pii');
      const to = await stack.rotateAndPromote('pii');
      // Act: a re-wrap right after the first count (same ETag, very likely the same second).
      const revision = (await writer.getHeader('c'))!.revision;
      await rewrapAll(writer, ['c']);
      const after = await counter.countByVersion('pii');
      // Assess
      expect((await writer.getHeader('c'))!.revision).toBe(revision);
      expect(before).toEqual(new Map([[from, 1]]));
      expect(after).toEqual(new Map([[to, 1]]));
    });

    it('interoperates with an application that writes and reads its objects itself through the package helpers', async () => {
      // Prepare: the application's own PutObject of s3ObjectFromEnvelope, as docs/record-stores.md shows.
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      const plaintext = randomBytes(10_000);
      const written = s3ObjectFromEnvelope(await stack.envelopes.encrypt('pii', plaintext), 'metadata');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/own', Body: written.body, Metadata: written.metadata }));
      const to = await stack.rotateAndPromote('pii');
      // Act: the sweep's re-wrap, then the application's own GetObject.
      const [outcome] = await rewrapAll(store, ['own']);
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/own' }));
      const envelope = envelopeFromS3Object({ body: await out.Body!.transformToByteArray(), metadata: out.Metadata });
      // Assess
      expect(outcome).toMatchObject({ ok: true });
      const opened = await stack.envelopes.decrypt(envelope);
      expect(opened.plaintext.equals(plaintext)).toBe(true);
      expect(opened.version).toBe(to);
    });

    it('refuses header metadata that is no header as not a record, and option values it does not know', async () => {
      const store = new S3RecordStore({ bucket, client: s3, prefix: 'data/', layout: 'metadata' });
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/bad', Body: 'x', Metadata: { 'rekey-keyring': 'pii', 'rekey-version': '1', 'rekey-header': 'bm90IGEgaGVhZGVy' } }));
      await expect(store.get('bad')).rejects.toBeInstanceOf(NotARecordError);
      await expect(store.getHeader('bad')).rejects.toBeInstanceOf(NotARecordError);
      expect(() => new S3RecordStore({ bucket, client: s3, layout: 'sideways' as never })).toThrow(ValidationError);
    });
  });
});
