/**
 * The S3 re-wrap in as few requests as S3 allows, on moto: every command the store's client
 * sends is counted by name (a middleware on `client.middlewareStack`). A record the header read
 * returns whole is re-wrapped with one conditional PUT (2 requests in all), a larger one with
 * one more ranged GET (3), a multipart-sized one without the HeadObject it used to cost; a
 * writer racing the re-wrap always wins, and the whole-object memo stays inside its budget.
 *
 * Response shapes relied on: a ranged GetObject answers `Content-Range: bytes 0-N/TOTAL`
 * besides the object's ETag, metadata, Content-Type and SSE headers ("GetObject", response
 * elements, https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html), and a PutObject
 * with `If-Match` on an ETag that is no longer current fails with 412 Precondition Failed
 * ("PutObject", If-Match, https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html).
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3RecordStore } from '../../../shared/adapters/aws/s3-record-store';
import { HEAD_PROBE_LENGTH } from '../../../shared/envelope/envelope-head';
import { parseHeader } from '../../../shared/envelope/format';
import type { BatchWriteOutcome } from '../../../shared/ports/record-store';
import { withHeaderRewrap } from '../../../shared/reencrypt/header-rewrap';
import { countCommands, createBucket, createKmsKey, motoKms, motoS3, type Sent } from './moto';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('S3RecordStore re-wrap requests (moto)', () => {
  const s3 = motoS3();
  let stack: LocalStack;
  let bucket: string;
  let client: S3Client;
  let sent: Sent[];

  beforeAll(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
  });
  afterAll(() => stack.close());
  beforeEach(async () => {
    bucket = await createBucket(s3, { versioned: false });
    client = motoS3();
    sent = countCommands(client);
  });

  const envelopes = (): ReturnType<typeof withHeaderRewrap> => withHeaderRewrap(stack.envelopes, stack.provider);
  const commands = (): string[] => sent.map((s) => s.command);

  /** Writes `plaintext` encrypted under the active version; returns the envelope. */
  async function seed(store: S3RecordStore, id: string, plaintext: Buffer): Promise<Buffer> {
    const envelope = await stack.envelopes.encrypt('pii', plaintext);
    await store.put({ id, keyring: 'pii', version: parseHeader(envelope).version, envelope }, null);
    return envelope;
  }

  /** getHeader then putHeaders with the header re-wrapped to the active version. */
  async function rewrap(store: S3RecordStore, id: string): Promise<{ outcome: BatchWriteOutcome; version: number; read: string }> {
    const head = (await store.getHeader(id))!;
    const next = await envelopes().rewrapHeader(head.header);
    const [outcome] = await store.putHeaders([{ write: { id, keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision }]);
    return { outcome: outcome!, version: next.version, read: head.revision };
  }

  /** Asserts that `id` now holds `old` re-wrapped to `version`: same length, same body bytes, new header, still decrypts to `plaintext`. */
  async function expectRewrapped(store: S3RecordStore, id: string, old: Buffer, plaintext: Buffer, version: number, revision: string): Promise<void> {
    const after = (await store.get(id))!;
    const length = parseHeader(old).headerLength;
    expect(after.revision).toBe(revision);
    expect(after.version).toBe(version);
    expect(parseHeader(after.envelope).version).toBe(version);
    expect(after.envelope.length).toBe(old.length);
    expect(after.envelope.subarray(0, length).equals(old.subarray(0, length))).toBe(false);
    expect(after.envelope.subarray(length).equals(old.subarray(length))).toBe(true);
    expect((await stack.envelopes.decrypt(after.envelope)).plaintext.equals(plaintext)).toBe(true);
  }

  it('re-wraps a 1 KiB record in 2 requests: the ranged header GET and one conditional PUT', async () => {
    // Prepare
    const store = new S3RecordStore({ bucket, client, prefix: 'data/' });
    const plaintext = randomBytes(KiB);
    const old = await seed(store, 'small', plaintext);
    await stack.rotateAndPromote('pii');
    sent.length = 0;
    // Act
    const { outcome, version, read } = await rewrap(store, 'small');
    // Assess
    expect(commands()).toEqual(['GetObjectCommand', 'PutObjectCommand']);
    expect(sent[0]!.range).toBe(`bytes=0-${HEAD_PROBE_LENGTH - 1}`);
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/small' }));
    expect(outcome).toEqual({ ok: true, revision: stored.ETag });
    // The PUT was conditional on the ETag the header read saw.
    expect(sent[1]!.ifMatch).toBe(read);
    await expectRewrapped(store, 'small', old, plaintext, version, stored.ETag!);
    // The memo entry was taken by the write.
    expect(store.memoizedObjectBytes).toBe(0);
  });

  it('re-wraps a 64 KiB record in 3 requests: header GET, one conditional GET of the object, PUT', async () => {
    // Prepare
    const store = new S3RecordStore({ bucket, client, prefix: 'data/' });
    const plaintext = randomBytes(64 * KiB);
    const old = await seed(store, 'medium', plaintext);
    await stack.rotateAndPromote('pii');
    sent.length = 0;
    // Act
    const { outcome, version, read } = await rewrap(store, 'medium');
    // Assess
    expect(commands()).toEqual(['GetObjectCommand', 'GetObjectCommand', 'PutObjectCommand']);
    // From byte 0 (the old header is checked) up to what a multipart first part would need
    // (old header + 5 MiB - new header, the two of equal length): here past the end, so all of it.
    expect(sent[1]!.range).toBe(`bytes=0-${5 * MiB - 1}`);
    expect(sent[1]!.ifMatch).toBe(read);
    expect(sent[2]!.ifMatch).toBe(read);
    // The header read did not return the whole object, so nothing of it was kept.
    expect(store.memoizedObjectBytes).toBe(0);
    expect(outcome.ok).toBe(true);
    await expectRewrapped(store, 'medium', old, plaintext, version, (outcome as { revision: string }).revision);
  });

  it('re-wraps a record above a lowered multipart threshold inside S3 without a HeadObject', async () => {
    // Prepare: the threshold at its 5 MiB + 1 minimum, so a 6 MiB record takes the multipart path.
    const store = new S3RecordStore({ bucket, client, prefix: 'data/', multipartThresholdBytes: 5 * MiB + 1, copyPartBytes: 5 * MiB });
    const plaintext = randomBytes(6 * MiB);
    const old = await seed(store, 'big', plaintext);
    await stack.rotateAndPromote('pii');
    sent.length = 0;
    // Act
    const { outcome, version } = await rewrap(store, 'big');
    // Assess
    expect(commands()).toEqual([
      'GetObjectCommand',
      'GetObjectCommand',
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'UploadPartCopyCommand',
      'CompleteMultipartUploadCommand',
    ]);
    expect(outcome.ok).toBe(true);
    const revision = (outcome as { revision: string }).revision;
    // A multipart ETag ends in the part count: S3 assembled the object.
    expect(revision).toMatch(/-2"$/);
    await expectRewrapped(store, 'big', old, plaintext, version, revision);
  });

  it.each([
    ['1 KiB (no read before the PUT)', KiB],
    ['64 KiB (a conditional GET before the PUT)', 64 * KiB],
  ])('makes a %s re-wrap conflict when another writer replaced the record after its header was read, and keeps their bytes', async (_label, size) => {
    // Prepare
    const store = new S3RecordStore({ bucket, client, prefix: 'data/' });
    const peer = new S3RecordStore({ bucket, client: motoS3(), prefix: 'data/' });
    await seed(store, 'raced', randomBytes(size));
    await stack.rotateAndPromote('pii');
    const head = (await store.getHeader('raced'))!;
    const next = await envelopes().rewrapHeader(head.header);
    const theirPlaintext = randomBytes(size);
    const theirs = await stack.envelopes.encrypt('pii', theirPlaintext);
    const theirRevision = await peer.put({ id: 'raced', keyring: 'pii', version: parseHeader(theirs).version, envelope: theirs }, head.revision);
    // Act
    const outcomes = await store.putHeaders([{ write: { id: 'raced', keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision }]);
    // Assess
    expect(outcomes).toEqual([{ ok: false, reason: 'conflict' }]);
    const after = (await store.get('raced'))!;
    expect(after.revision).toBe(theirRevision);
    expect(after.envelope.equals(theirs)).toBe(true);
    expect((await stack.envelopes.decrypt(after.envelope)).plaintext.equals(theirPlaintext)).toBe(true);
    expect(store.memoizedObjectBytes).toBe(0);
  });

  it('keeps no more object bytes than its budget, evicting the oldest, and falls back to a conditional GET for an evicted record', async () => {
    // Prepare: a budget that holds two of these records but not three.
    const probe = await stack.envelopes.encrypt('pii', randomBytes(KiB));
    const budget = 2 * probe.length + Math.floor(probe.length / 2);
    const store = new S3RecordStore({ bucket, client, prefix: 'data/', wholeObjectMemoBytes: budget });
    const plain = new Map<string, Buffer>();
    const olds = new Map<string, Buffer>();
    for (const id of ['a', 'b', 'c']) {
      plain.set(id, randomBytes(KiB));
      olds.set(id, await seed(store, id, plain.get(id)!));
    }
    await stack.rotateAndPromote('pii');
    const heads = [];
    const held: number[] = [];
    // Act: three header reads, then the three re-wraps.
    for (const id of ['a', 'b', 'c']) {
      heads.push((await store.getHeader(id))!);
      held.push(store.memoizedObjectBytes);
    }
    const perWrite: string[][] = [];
    for (const head of heads) {
      sent.length = 0;
      const next = await envelopes().rewrapHeader(head.header);
      const [outcome] = await store.putHeaders([{ write: { id: head.id, keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision }]);
      expect(outcome!.ok).toBe(true);
      perWrite.push(commands());
      await expectRewrapped(store, head.id, olds.get(head.id)!, plain.get(head.id)!, next.version, (outcome as { revision: string }).revision);
    }
    // Assess
    expect(held.every((n) => n <= budget)).toBe(true);
    expect(held[1]).toBe(olds.get('a')!.length + olds.get('b')!.length);
    expect(held[2]).toBe(olds.get('b')!.length + olds.get('c')!.length);
    // 'a' was evicted: its write read the object again; 'b' and 'c' were written from the memo.
    expect(perWrite).toEqual([['GetObjectCommand', 'PutObjectCommand'], ['PutObjectCommand'], ['PutObjectCommand']]);
    expect(store.memoizedObjectBytes).toBe(0);
  });

  it('keeps nothing larger than its budget and nothing at all when turned off', async () => {
    // Prepare
    const tiny = new S3RecordStore({ bucket, client, prefix: 'data/', wholeObjectMemoBytes: 64 });
    const off = new S3RecordStore({ bucket, client, prefix: 'data/', wholeObjectMemoBytes: 0 });
    await seed(tiny, 'r', randomBytes(KiB));
    // Act
    await tiny.getHeader('r');
    await off.getHeader('r');
    // Assess
    expect(tiny.memoizedObjectBytes).toBe(0);
    expect(off.memoizedObjectBytes).toBe(0);
  });

  it('re-wraps with rewrapObject from the memo too, in one conditional PUT after the header read', async () => {
    // Prepare
    const store = new S3RecordStore({ bucket, client, prefix: 'data/' });
    const plaintext = randomBytes(2 * KiB);
    const old = await seed(store, 'raw', plaintext);
    await stack.rotateAndPromote('pii');
    const head = (await store.getHeader('raw'))!;
    const next = await envelopes().rewrapHeader(head.header);
    sent.length = 0;
    // Act
    const revision = await store.rewrapObject({ id: 'raw', newHeader: next.header, oldHeaderLength: head.header.length, version: next.version, expectedRevision: head.revision });
    // Assess
    expect(sent).toEqual([{ command: 'PutObjectCommand', range: undefined, ifMatch: head.revision }]);
    await expectRewrapped(store, 'raw', old, plaintext, next.version, revision);
  });


  it.each([
    ['1 KiB (from the memo)', KiB, ['GetObjectCommand', 'PutObjectCommand']],
    ['64 KiB (from the conditional GET)', 64 * KiB, ['GetObjectCommand', 'GetObjectCommand', 'PutObjectCommand']],
  ])('keeps an SSE-KMS object under its KMS key, content type and extra metadata through a %s re-wrap', async (_label, size, expected) => {
    // Prepare: written behind the store's back with SSE-KMS on a bucket without default
    // encryption, so a rewrite that dropped the settings would leave the object unencrypted.
    const kmsKeyId = await createKmsKey(motoKms());
    const store = new S3RecordStore({ bucket, client, prefix: 'data/' });
    const plaintext = randomBytes(size);
    const old = await stack.envelopes.encrypt('pii', plaintext);
    const version = parseHeader(old).version;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'data/kms',
        Body: old,
        ContentType: 'application/x-rekey',
        Metadata: { 'rekey-keyring': 'pii', 'rekey-version': String(version), 'rekey-origin': String(version), owner: 'orders' },
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: kmsKeyId,
      }),
    );
    const before = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/kms' }));
    await stack.rotateAndPromote('pii');
    sent.length = 0;
    // Act
    const { outcome, version: to } = await rewrap(store, 'kms');
    // Assess
    expect(commands()).toEqual(expected);
    expect(outcome.ok).toBe(true);
    const after = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/kms' }));
    expect(before.ServerSideEncryption).toBe('aws:kms');
    expect(after.ServerSideEncryption).toBe('aws:kms');
    expect(before.SSEKMSKeyId).toContain(kmsKeyId);
    expect(after.SSEKMSKeyId).toBe(before.SSEKMSKeyId);
    expect(after.ContentType).toBe('application/x-rekey');
    expect(after.Metadata).toMatchObject({ owner: 'orders', 'rekey-version': String(to) });
    await expectRewrapped(store, 'kms', old, plaintext, to, (outcome as { revision: string }).revision);
  });
});
