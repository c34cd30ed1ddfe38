/**
 * The reencrypt job's S3 re-wrap moves headers, not whole objects: a Distributed Map batch over
 * real objects on moto, with every S3 request of the record bucket counted (command, range,
 * request body bytes sent, response body bytes received). Objects already on the active
 * version cost one ranged GET of at most the header bound; re-wrapped objects keep their body
 * byte for byte and still decrypt; a writer racing the re-wrap wins and nothing is lost.
 *
 * Event shape: the ItemBatcher payload is `{ BatchInput, Items }` ("ItemBatcher (Map)",
 * https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html), and an
 * S3 listing item is `{ Etag, Key, LastModified (epoch seconds), Size, StorageClass }` ("ItemReader
 * (Map)", section "A list of Amazon S3 objects",
 * https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html#itemsource-example-s3-object-data).
 */
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { S3RecordStore } from '../../../shared/adapters/aws/s3-record-store';
import { ENVELOPE_LIMITS } from '../../../shared/envelope/limits';
import { parseHeader } from '../../../shared/envelope/format';
import type { JobLogger } from '../../../shared/ports/job-logger';
import { runReencrypt, type MapBatchResponse, type ReencryptServices } from '../../../shared/usecases/reencrypt';
import { createHarness, motoClients, type Harness } from '../functions/support/harness';

const KiB = 1024;
const MiB = 1024 * KiB;
const HEADER_BOUND = ENVELOPE_LIMITS.headerMaxLength;

/** One S3 request on the record bucket. */
interface Call {
  readonly command: string;
  readonly key: string | undefined;
  readonly range: string | undefined;
  /** Request body bytes sent (PUT and part uploads). */
  readonly sent: number;
  /** Response body bytes received (GetObject's Content-Length). */
  readonly received: number;
}

/** Counts every request of `client` on `bucket`; `before` runs just before a request is sent. */
function countRequests(client: S3Client, bucket: string): { calls: Call[]; before: { hook?: (command: string, key: string | undefined) => Promise<void> } } {
  const calls: Call[] = [];
  const before: { hook?: (command: string, key: string | undefined) => Promise<void> } = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Bucket?: string; Key?: string; Range?: string };
      if (input.Bucket !== bucket) return next(args);
      const command = context.commandName as string;
      await before.hook?.(command, input.Key);
      const request = (args as { request?: { body?: unknown } }).request;
      const body = request?.body;
      const sent = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : 0;
      const out = await next(args);
      const received = command === 'GetObjectCommand' ? Number((out.output as { ContentLength?: number }).ContentLength ?? 0) : 0;
      calls.push({ command, key: input.Key, range: input.Range, sent, received });
      return out;
    },
    { step: 'finalizeRequest', name: 'requestCounter' },
  );
  return { calls, before };
}

const quiet: JobLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const metrics = { put: () => undefined, increment: () => undefined, flush: async () => undefined };

describe('reencrypt job on S3: header-only re-wrap (moto)', () => {
  let h: Harness;
  let client: S3Client;
  let counted: ReturnType<typeof countRequests>;
  afterEach(async () => h?.close());

  async function setUp(storeOptions: { multipartThresholdBytes?: number; copyPartBytes?: number } = {}): Promise<{ services: ReencryptServices; store: S3RecordStore }> {
    h = await createHarness({ policy: { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 86_400, retentionSeconds: 300 } });
    client = motoClients().s3;
    counted = countRequests(client, h.buckets.data);
    const target = h.services.recordTargets[0]!.target;
    const store = new S3RecordStore({ client, bucket: target.bucket, prefix: target.prefix, ...storeOptions });
    const services: ReencryptServices = { keyrings: h.services.keyrings, recordTargets: [{ target, store }], provider: h.services.provider, envelopes: h.services.envelopes };
    return { services, store };
  }

  async function put(store: S3RecordStore, id: string, plaintext: Buffer): Promise<Buffer> {
    const envelope = await h.services.envelopes.encrypt(h.keyring, plaintext);
    await store.put({ id, keyring: h.keyring, version: parseHeader(envelope).version, envelope }, null);
    return envelope;
  }

  async function rotate(): Promise<number> {
    await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'rotation' });
    h.advance(61);
    await h.services.keyrings.tick({ keyring: h.keyring });
    // Records written from now on must be under the new version: drop the provider's cached catalog.
    await h.services.provider.invalidate(h.keyring);
    return (await h.services.keyrings.get(h.keyring)).versions.find((v) => v.state === 'active')!.version;
  }

  /** The batch Step Functions would send: the listing of the record prefix as ItemReader items. */
  async function batchEvent(): Promise<Parameters<typeof runReencrypt>[0]> {
    const listed = await motoClients().s3.send(new ListObjectsV2Command({ Bucket: h.buckets.data, Prefix: h.dataPrefix }));
    const Items = (listed.Contents ?? []).map((o) => ({
      Etag: o.ETag as string,
      Key: o.Key as string,
      LastModified: Math.floor((o.LastModified as Date).getTime() / 1000),
      Size: o.Size as number,
      StorageClass: o.StorageClass ?? 'STANDARD',
    }));
    return { BatchInput: { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'rewrap' }, Items };
  }

  const run = async (services: ReencryptServices): Promise<MapBatchResponse> =>
    (await runReencrypt(await batchEvent(), { services, logger: quiet, metrics, functionName: 'reencrypt' })) as MapBatchResponse;

  const callsOf = (key: string): Call[] => counted.calls.filter((c) => c.key === key);

  it('skips objects on the active version with one ranged GET of the header, and re-wraps the rest keeping every body byte', async () => {
    // Prepare: 1 KiB and 64 KiB records under v1, then a rotation, then the same sizes under v2.
    const { services, store } = await setUp();
    const plain = new Map<string, Buffer>();
    const before = new Map<string, Buffer>();
    for (const [id, size] of [['old-1k', KiB], ['old-64k', 64 * KiB]] as const) {
      plain.set(id, randomBytes(size));
      before.set(id, await put(store, id, plain.get(id)!));
    }
    const active = await rotate();
    for (const [id, size] of [['new-1k', KiB], ['new-64k', 64 * KiB]] as const) {
      plain.set(id, randomBytes(size));
      before.set(id, await put(store, id, plain.get(id)!));
    }
    counted.calls.length = 0;
    // Act
    const out = await run(services);
    // Assess
    const byKey = new Map(out.results.map((r) => [r.key.slice(h.dataPrefix.length), r]));
    expect(out.counts).toEqual({ done: 2, skipped: 2, failed: 0 });
    for (const id of ['new-1k', 'new-64k']) {
      expect(byKey.get(id)).toMatchObject({ status: 'skipped', reason: 'already at the active version' });
      const calls = callsOf(`${h.dataPrefix}${id}`);
      expect(calls.map((c) => c.command)).toEqual(['GetObjectCommand']);
      expect(calls[0]!.range).toBe(`bytes=0-${HEADER_BOUND - 1}`);
      expect(calls[0]!.received).toBeLessThanOrEqual(HEADER_BOUND);
      expect(calls[0]!.sent).toBe(0);
    }
    // The 64 KiB object on the active version was not downloaded: only the header bound came back.
    expect(callsOf(`${h.dataPrefix}new-64k`)[0]!.received).toBeLessThan(before.get('new-64k')!.length);
    for (const id of ['old-1k', 'old-64k']) {
      expect(byKey.get(id)).toMatchObject({ status: 'done' });
      const calls = callsOf(`${h.dataPrefix}${id}`);
      expect(calls.filter((c) => c.command === 'PutObjectCommand')).toHaveLength(1);
      const after = (await store.get(id))!;
      const old = before.get(id)!;
      const length = parseHeader(old).headerLength;
      expect(after.version).toBe(active);
      expect(after.envelope.length).toBe(old.length);
      expect(after.envelope.subarray(length).equals(old.subarray(length))).toBe(true);
      expect(parseHeader(after.envelope).headerLength).toBe(length);
    }
    for (const [id, value] of plain) expect((await h.services.envelopes.decrypt((await store.get(id))!.envelope)).plaintext.equals(value)).toBe(true);
    // The batch's census tally: where its records are now (the re-wrapped ones keep their origin, v1).
    const origins = new Map<number, number>();
    for (const id of plain.keys()) {
      const o = parseHeader((await store.get(id))!.envelope).originVersion;
      origins.set(o, (origins.get(o) ?? 0) + 1);
    }
    expect(out.census).toEqual({ byVersion: { [active]: plain.size }, byOrigin: Object.fromEntries(origins), unknown: 0 });
    expect(origins.get(1)).toBe(2);
    // Placements are the census's, never sent per item.
    for (const r of out.results) expect(r).not.toHaveProperty('placed');
  });

  it('re-wraps an object above a lowered multipart threshold with S3 copying the body past the first part', async () => {
    // Prepare
    const { services, store } = await setUp({ multipartThresholdBytes: 5 * MiB + 1, copyPartBytes: 5 * MiB });
    const plaintext = randomBytes(7 * MiB);
    const old = await put(store, 'big', plaintext);
    const active = await rotate();
    counted.calls.length = 0;
    // Act
    const out = await run(services);
    // Assess
    expect(out.results).toEqual([{ key: `${h.dataPrefix}big`, status: 'done' }]);
    const calls = callsOf(`${h.dataPrefix}big`);
    const commands = calls.map((c) => c.command);
    expect(commands).not.toContain('PutObjectCommand');
    expect(commands).toContain('UploadPartCopyCommand');
    expect(commands).toContain('CompleteMultipartUploadCommand');
    // What passed through this process: the header read and the 5 MiB first part, not the whole object.
    const received = calls.reduce((n, c) => n + c.received, 0);
    const uploaded = calls.filter((c) => c.command === 'UploadPartCommand').reduce((n, c) => n + c.sent, 0);
    const otherSent = calls.filter((c) => c.command !== 'UploadPartCommand').reduce((n, c) => n + c.sent, 0);
    expect(received).toBeLessThanOrEqual(HEADER_BOUND + 5 * MiB);
    expect(uploaded).toBe(5 * MiB);
    // The rest is request XML (CompleteMultipartUpload's part list).
    expect(otherSent).toBeLessThan(4 * KiB);
    expect(received + uploaded).toBeLessThan(2 * old.length);
    const after = (await store.get('big'))!;
    const length = parseHeader(old).headerLength;
    expect(after.version).toBe(active);
    expect(after.envelope.subarray(length).equals(old.subarray(length))).toBe(true);
    expect((await h.services.envelopes.decrypt(after.envelope)).plaintext.equals(plaintext)).toBe(true);
  });

  it("reports 'changed concurrently' when a writer replaces the object between header read and rewrite, and loses nothing", async () => {
    // Prepare
    const { services, store } = await setUp();
    await put(store, 'raced', Buffer.from('original value'));
    await put(store, 'calm', Buffer.from('calm value'));
    const active = await rotate();
    const writer = new S3RecordStore({ client: motoClients().s3, bucket: h.buckets.data, prefix: h.dataPrefix });
    const theirs = Buffer.from('the application wrote this meanwhile');
    let raced = false;
    // A small object's rewrite is one conditional PutObject from the bytes the header read
    // returned whole (no HeadObject, no second read any more): the application writes just before it.
    counted.before.hook = async (command, key) => {
      if (raced || command !== 'PutObjectCommand' || key !== `${h.dataPrefix}raced`) return;
      raced = true;
      const current = (await writer.get('raced'))!;
      const envelope = await h.services.envelopes.encrypt(h.keyring, theirs);
      await writer.put({ id: 'raced', keyring: h.keyring, version: parseHeader(envelope).version, envelope }, current.revision);
    };
    counted.calls.length = 0;
    // Act
    const out = await run(services);
    const jobCalls = callsOf(`${h.dataPrefix}raced`);
    // Assess
    expect(raced).toBe(true);
    const byKey = new Map(out.results.map((r) => [r.key.slice(h.dataPrefix.length), r]));
    expect(byKey.get('raced')).toEqual({ key: `${h.dataPrefix}raced`, status: 'skipped', reason: 'changed concurrently' });
    expect(byKey.get('calm')).toMatchObject({ status: 'done' });
    // The raced record is the concurrent writer's to report (an S3 write event, a census mark): only 'calm' is tallied.
    expect(out.census).toEqual({ byVersion: { [active]: 1 }, byOrigin: { '1': 1 }, unknown: 0 });
    const now = (await store.get('raced'))!;
    expect(now.version).toBe(active);
    expect((await h.services.envelopes.decrypt(now.envelope)).plaintext.equals(theirs)).toBe(true);
    expect((await h.services.envelopes.decrypt((await store.get('calm'))!.envelope)).plaintext.toString()).toBe('calm value');
    // The raced object's body was never fully downloaded by the job: its reads were ranged.
    expect(jobCalls.filter((c) => c.command === 'GetObjectCommand').map((c) => c.range)).toEqual([`bytes=0-${HEADER_BOUND - 1}`]);
    // Its conditional PutObject lost with 412 (the counter records answered requests only): no write of the job's.
    expect(jobCalls.filter((c) => c.command === 'PutObjectCommand')).toEqual([]);
  });

  it('re-encrypts (whole read) a record of a revoked version met in a re-wrap batch', async () => {
    // Prepare
    const { services, store } = await setUp();
    const plaintext = randomBytes(2 * KiB);
    const old = await put(store, 'exposed', plaintext);
    const from = parseHeader(old).version;
    await rotate();
    await h.services.keyrings.revoke(h.keyring, from, { reason: 'key exposed', actor: 'test' });
    await h.services.provider.invalidate(h.keyring);
    // A revocation may bring in a version of its own: the target is whatever is active now.
    const active = (await h.services.keyrings.get(h.keyring)).versions.find((v) => v.state === 'active')!.version;
    counted.calls.length = 0;
    // Act
    const out = await run(services);
    const jobCalls = callsOf(`${h.dataPrefix}exposed`);
    // Assess
    expect(out.results).toEqual([{ key: `${h.dataPrefix}exposed`, status: 'done' }]);
    // The header first, then the whole object: a re-encryption needs the body.
    expect(jobCalls.filter((c) => c.command === 'GetObjectCommand').map((c) => c.range)).toEqual([`bytes=0-${HEADER_BOUND - 1}`, undefined]);
    const after = (await store.get('exposed'))!;
    expect(after.version).toBe(active);
    expect(after.originVersion).toBe(active);
    expect((await h.services.envelopes.decrypt(after.envelope)).plaintext.equals(plaintext)).toBe(true);
  });
});
