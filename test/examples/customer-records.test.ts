/**
 * The example application (examples/customer-records) as its own tests would run it: the real
 * handler, fed API Gateway HTTP API payload format 2.0 events, over the local rekey client (a
 * scratch home: file key vault, SQLite catalog) and its records in an S3 bucket of moto_server.
 * Across a scheduled rotation and an emergency revocation every request succeeds: old records
 * still read and are re-wrapped on read, and the revocation re-encrypts them in the bucket the
 * way rekey does for a record target (its EmergencyRevocation over an S3RecordStore of that bucket,
 * what the revoke function composes on AWS).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { createLocalRekeyClient, type RekeyClient } from 'rekey-kms/client';
import { createHandler } from '../../examples/customer-records/src/handler';
import { httpApiEvent } from '../../examples/customer-records/src/local';
import { RECORD_ID_CONTEXT_KEY, RECORD_METADATA, S3RecordBucket } from '../../examples/customer-records/src/record-bucket';
import { KEYRING_METADATA, ORIGIN_METADATA, S3RecordStore, VERSION_METADATA } from '../../shared/adapters/aws/s3-record-store';
import { openLocal, type LocalServices } from '../../shared/compose/local/local-services';
import { inspectEnvelope } from '../../shared/envelope/inspect-envelope';
import { EmergencyRevocation, Sweeper, withHeaderRewrap } from '../../shared/reencrypt';
import { RECORD_ID_CONTEXT_KEY as REKEY_RECORD_ID } from '../../shared/reencrypt/dependencies';
import { DEFAULT_CATALOG_TTL_MS } from '../../shared/vocabulary/catalog-cache';
import { createBucket, motoS3 } from '../integration/aws/moto';
import { scratchDir } from '../support/scratch';

const PREFIX = 'customers/';
const CUSTOMERS = [
  { id: 'c-1', name: 'Ada Lovelace', email: 'ada@example.com', card: '4111111111111111' },
  { id: 'c-2', name: 'Grace Hopper', email: 'grace@example.com', card: '5500005555555559' },
  { id: 'c-3', name: 'Katherine Johnson', email: 'kj@example.com', card: '340000000000009' },
];
const lambdaContext = { functionName: 'customer-records', awsRequestId: 'test' } as Context;

describe('examples/customer-records on the local backends', () => {
  let s3: S3Client;
  let bucket: string;
  let home: string;
  let now = new Date('2030-01-01T00:00:00.000Z');
  const clock = (): Date => now;
  let rekey: RekeyClient;
  let handler: ReturnType<typeof createHandler>;
  /** Status of every request the test made, in order: the "no failed request" ledger. */
  const statuses: Array<[string, number]> = [];

  async function call(method: 'GET' | 'PUT', id: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await handler(httpApiEvent(method, id, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)), lambdaContext);
    statuses.push([`${method} ${id}`, res.statusCode ?? 0]);
    return { status: res.statusCode ?? 0, json: JSON.parse(res.body ?? '{}') as Record<string, unknown> };
  }

  async function stored(id: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: PREFIX + id }));
    return { body: Buffer.from(await out.Body!.transformToByteArray()), metadata: out.Metadata ?? {} };
  }

  /** The operator's side of the home (what `rekey rotate`, `rekey tick` and `rekey revoke` open). */
  async function operator<T>(work: (rk: LocalServices) => Promise<T>): Promise<T> {
    const rk = await openLocal({ home, clock, actor: 'test-operator' });
    try {
      return await work(rk);
    } finally {
      await rk.close();
    }
  }

  beforeAll(async () => {
    s3 = motoS3();
    bucket = await createBucket(s3);
    home = scratchDir('example-app-');
    rekey = await createLocalRekeyClient({ home, keyrings: ['pii'], clock });
    handler = createHandler({ rekey: { client: rekey }, records: new S3RecordBucket({ bucket, prefix: PREFIX, client: s3 }) });
  });
  afterAll(async () => {
    await rekey?.close();
    s3?.destroy();
  });

  it('writes its records in the layout of a rekey record target', () => {
    // The example cannot import rekey's internals (it uses the package only): its copy of the layout must match.
    expect(RECORD_ID_CONTEXT_KEY).toBe(REKEY_RECORD_ID);
    expect(RECORD_METADATA).toEqual({ keyring: KEYRING_METADATA, version: VERSION_METADATA, origin: ORIGIN_METADATA });
  });

  it('stores and reads customers back (PUT then GET)', async () => {
    for (const { id, ...body } of CUSTOMERS) {
      const put = await call('PUT', id, body);
      expect(put).toMatchObject({ status: 200, json: { id, name: body.name, email: body.email } });
      expect(put.json).not.toHaveProperty('card');
    }
    for (const c of CUSTOMERS) expect(await call('GET', c.id)).toMatchObject({ status: 200, json: c });
  });

  it('keeps only envelopes in the bucket: no plaintext byte of any field, indexed by keyring and version', async () => {
    for (const c of CUSTOMERS) {
      const { body, metadata } = await stored(c.id);
      for (const secret of [c.name, c.email, c.card]) expect(body.includes(Buffer.from(secret))).toBe(false);
      const info = inspectEnvelope(body);
      expect([info.keyring, info.version, info.originVersion, info.contextBound, info.storedContext]).toEqual(['pii', 1, 1, true, undefined]);
      expect(metadata).toMatchObject({ [KEYRING_METADATA]: 'pii', [VERSION_METADATA]: '1', [ORIGIN_METADATA]: '1' });
    }
  });

  it('answers 400 for bad input without echoing it, 404 for an unknown id', async () => {
    const bad: Array<[string, unknown]> = [
      ['c-1', '{not json'],
      ['c-1', { name: 'No Card', email: 'x@example.com' }],
      ['c-1', { name: 'Bad Email', email: 'not-an-email', card: '4111111111111111' }],
      ['c-1', { name: 'Extra', email: 'e@example.com', card: '4111111111111111', ssn: '078-05-1120' }],
      ['c-1', { name: 'Letters', email: 'e@example.com', card: '4111-XXXX-1111' }],
      ['../etc', { name: 'Path', email: 'p@example.com', card: '4111111111111111' }],
    ];
    for (const [id, body] of bad) {
      const res = await handler(httpApiEvent('PUT', id, typeof body === 'string' ? body : JSON.stringify(body)), lambdaContext);
      expect([id, res.statusCode]).toEqual([id, 400]);
      expect(res.body).not.toMatch(/078-05-1120|4111-XXXX|not-an-email/);
    }
    const noBody = await handler(httpApiEvent('PUT', 'c-1'), lambdaContext);
    expect(JSON.parse(noBody.body ?? '{}')).toEqual({ message: 'a JSON body is required' });
    expect(noBody.statusCode).toBe(400);
    expect((await handler(httpApiEvent('GET', 'nobody'), lambdaContext)).statusCode).toBe(404);
    // The bad requests changed nothing.
    expect(await call('GET', 'c-1')).toMatchObject({ status: 200, json: CUSTOMERS[0] });
  });

  it('after a rotation, old records still read and are re-wrapped to the new version on read (header only)', async () => {
    const before = await stored('c-1');
    await operator(async (rk) => {
      await rk.keyrings.rotate('pii', { actor: rk.actor, reason: 'scheduled', now });
      // The default propagation window (10 min) passes; the next tick activates version 2.
      now = new Date(now.getTime() + 11 * 60_000);
      await rk.keyrings.tick({ now });
      expect((await rk.keyrings.get('pii')).versions.map((v) => [v.version, v.state])).toEqual([[1, 'rotating'], [2, 'active']]);
    });
    // The client's catalog lifetime passes too (a warm process learns the rotation this late).
    now = new Date(now.getTime() + DEFAULT_CATALOG_TTL_MS + 1000);
    expect(await call('GET', 'c-1')).toMatchObject({ status: 200, json: CUSTOMERS[0] });
    const after = await stored('c-1');
    const [old, fresh] = [inspectEnvelope(before.body), inspectEnvelope(after.body)];
    expect([fresh.version, fresh.originVersion]).toEqual([2, 1]);
    expect(after.body.subarray(fresh.headerLength).equals(before.body.subarray(old.headerLength))).toBe(true);
    expect(after.metadata).toMatchObject({ [VERSION_METADATA]: '2', [ORIGIN_METADATA]: '1' });
    // A second read finds it current and writes nothing.
    expect(await call('GET', 'c-1')).toMatchObject({ status: 200 });
    expect((await stored('c-1')).body.equals(after.body)).toBe(true);
    // New writes use version 2.
    expect(await call('PUT', 'c-4', { name: 'Dorothy Vaughan', email: 'dv@example.com', card: '6011000990139424' })).toMatchObject({ status: 200 });
    expect(inspectEnvelope((await stored('c-4')).body).version).toBe(2);
  });

  it('after an emergency revocation of version 1, every record reads, re-encrypted under a fresh data key', async () => {
    const leaked = await stored('c-2');
    const ids = [...CUSTOMERS.map((c) => c.id), 'c-4'];
    const result = await operator(async (rk) => {
      // What the revoke function composes for a record target: this bucket and prefix as an S3RecordStore.
      const records = new S3RecordStore({ bucket, prefix: PREFIX, client: s3 });
      const sweeper = new Sweeper({ records, envelopes: withHeaderRewrap(rk.envelopes, rk.provider), versions: rk.provider, catalog: rk.keyrings });
      const revocation = new EmergencyRevocation({ keyrings: rk.keyrings, provider: rk.provider, cache: rk.cache, sweeper, checkpoints: rk.checkpoints, records, audit: rk.audit, clock });
      const first = await revocation.revoke('pii', 1, { reason: 'SEC-1 drill', actor: rk.actor });
      // Requests keep coming while the revocation settles (one catalog lifetime). A second
      // later: a reader refreshes its catalog for an unknown version (v3) at most once a second.
      now = new Date(now.getTime() + 2000);
      for (const id of ids) expect(await call('GET', id)).toMatchObject({ status: 200 });
      now = new Date(now.getTime() + DEFAULT_CATALOG_TTL_MS + 1000);
      return { first, final: await revocation.revoke('pii', 1, { reason: 'SEC-1 drill', actor: rk.actor }) };
    });
    expect(result.first).toMatchObject({ revokedNow: true, activeVersion: 3, remaining: 0 });
    expect(result.first.sweep).toMatchObject({ done: 3, failedCount: 0 });
    expect(result.final).toMatchObject({ remaining: 0, complete: true });
    for (const id of ids) {
      const { body, metadata } = await stored(id);
      const info = inspectEnvelope(body);
      expect([id, info.originVersion > 1]).toEqual([id, true]);
      expect(Number(metadata[ORIGIN_METADATA])).toBe(info.originVersion);
    }
    expect(inspectEnvelope((await stored('c-2')).body).version).toBe(3);
    for (const c of CUSTOMERS) expect(await call('GET', c.id)).toMatchObject({ status: 200, json: c });
    // The copy taken before the revocation no longer opens.
    await expect(rekey.decrypt(leaked.body, { context: { [RECORD_ID_CONTEXT_KEY]: 'c-2' } })).rejects.toMatchObject({ name: 'RevokedVersionError' });
  });

  it('made no failed request in the whole run', () => {
    expect(statuses.filter(([, status]) => status !== 200)).toEqual([]);
    expect(statuses.length).toBeGreaterThan(15);
  });
});
