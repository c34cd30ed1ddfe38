/**
 * The reencrypt job's DynamoDB segment worker on moto: a table target's records under an old
 * version, swept segment by segment (runReencryptSegment, the per-record migration of the S3
 * batch path), each invocation budgeted and resumed from the cursor it returned, as the sweep
 * state machine's loop does (infra/constructs/sweep-state-machine.ts).
 *
 * Semantics relied on: a parallel Scan's segments together cover every item once ("Parallel
 * scan", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan),
 * and a page may come back short with a LastEvaluatedKey ("Paginating table scan results",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.Pagination.html).
 */
import { randomBytes } from 'node:crypto';
import { parseHeader } from '../../../shared/envelope/format';
import type { JobLogger } from '../../../shared/ports/job-logger';
import type { DynamoDbRecordStore } from '../../../shared/adapters/aws/dynamodb-record-store';
import { runReencryptSegment, type SegmentResponse, type SegmentServices } from '../../../shared/usecases/reencrypt-segment';
import { segmentEventSchema, type SegmentEvent } from '../../../shared/vocabulary/event-schemas';
import { createHarness, lambdaContext, type Harness } from '../functions/support/harness';
import { createReencryptHandler } from '../../../functions/reencrypt/handler';
import { openDynamoDbContractStore } from '../../support/stores/dynamodb';

const quiet: JobLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const metrics = { put: () => undefined, increment: () => undefined, flush: async () => undefined };
const SEGMENTS = 4;

describe('reencrypt segment worker on DynamoDB (moto)', () => {
  let h: Harness;
  let table: Awaited<ReturnType<typeof openDynamoDbContractStore>>;
  afterEach(async () => {
    await table?.close();
    await h?.close();
  });

  async function setUp(): Promise<void> {
    h = await createHarness({ policy: { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 86_400, retentionSeconds: 300 } });
    table = await openDynamoDbContractStore();
  }

  const servicesOver = (store: DynamoDbRecordStore): SegmentServices => ({
    keyrings: h.services.keyrings,
    recordTargets: [],
    provider: h.services.provider,
    envelopes: h.services.envelopes,
    tableTargets: [{ target: { keyring: h.keyring, table: table.tableName, segments: SEGMENTS }, store }],
  });

  async function put(id: string, plaintext: Buffer, expectedRevision: string | null = null): Promise<void> {
    const envelope = await h.services.envelopes.encrypt(h.keyring, plaintext);
    await table.store.put({ id, keyring: h.keyring, version: parseHeader(envelope).version, envelope }, expectedRevision);
  }

  async function rotate(): Promise<number> {
    await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'rotation' });
    h.advance(61);
    await h.services.keyrings.tick({ keyring: h.keyring });
    await h.services.provider.invalidate(h.keyring);
    return (await h.services.keyrings.get(h.keyring)).versions.find((v) => v.state === 'active')!.version;
  }

  /** Runs one segment to its end as the state machine does: each response (parsed like an event) is the next event. */
  async function sweepSegment(services: SegmentServices, first: SegmentEvent, budget: { maxRecords: number; pageLimit?: number }): Promise<{ last: SegmentResponse; invocations: number }> {
    let event = first;
    for (let invocations = 1; ; invocations += 1) {
      const last = await runReencryptSegment(event, { services, logger: quiet, metrics, functionName: 'reencrypt' }, budget);
      if (last.cursor === undefined) return { last, invocations };
      event = segmentEventSchema.parse(last);
    }
  }

  const segmentEvents = (mode: 'rewrap' | 'reencrypt', version?: number): SegmentEvent[] =>
    Array.from({ length: SEGMENTS }, (_, segment) => ({ keyring: h.keyring, table: table.tableName, mode, ...(version === undefined ? {} : { version }), segment, totalSegments: SEGMENTS }));

  async function decryptAll(ids: Iterable<string>): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const id of ids) out.set(id, (await h.services.envelopes.decrypt(Buffer.from((await table.store.get(id))!.envelope))).plaintext);
    return out;
  }

  it('migrates every record under the old version exactly once across the segments, and a second sweep finds nothing', async () => {
    // Prepare: records under v1, a rotation, a few more under the new version.
    await setUp();
    const plain = new Map<string, Buffer>();
    for (let i = 0; i < 30; i += 1) plain.set(`old-${i}`, randomBytes(64 + i));
    for (const [id, p] of plain) await put(id, p);
    const active = await rotate();
    for (let i = 0; i < 3; i += 1) {
      plain.set(`new-${i}`, randomBytes(32));
      await put(`new-${i}`, plain.get(`new-${i}`)!);
    }
    const before = await table.store.countByVersion(h.keyring);
    const old = [...before].filter(([v]) => v < active).reduce((n, [, c]) => n + c, 0);
    const services = servicesOver(table.store);

    // Act
    const results = [];
    for (const e of segmentEvents('rewrap')) results.push((await sweepSegment(services, e, { maxRecords: 1000 })).last);
    const again = [];
    for (const e of segmentEvents('rewrap')) again.push((await sweepSegment(services, e, { maxRecords: 1000 })).last);

    // Assess: the segments' done counts add up to the old records, none failed, all now on the active version.
    expect(results.reduce((n, r) => n + r.counts.done, 0)).toBe(old);
    expect(results.every((r) => r.counts.failed === 0)).toBe(true);
    expect([...(await table.store.countByVersion(h.keyring))]).toEqual([[active, plain.size]]);
    expect(again.reduce((n, r) => n + r.counts.done, 0)).toBe(0);
    expect(await decryptAll(plain.keys())).toEqual(plain);
  });

  it('stops at the record budget with a cursor, and the resumed invocations finish the rest', async () => {
    // Prepare
    await setUp();
    const plain = new Map<string, Buffer>();
    for (let i = 0; i < 24; i += 1) plain.set(`r-${i}`, randomBytes(48));
    for (const [id, p] of plain) await put(id, p);
    const active = await rotate();
    const services = servicesOver(table.store);

    // Act: one segment spanning the whole table, 3 records per invocation.
    const [first] = Array.from({ length: 1 }, () => ({ keyring: h.keyring, table: table.tableName, mode: 'rewrap' as const, segment: 0, totalSegments: 1 }));
    const paused = await runReencryptSegment(first!, { services, logger: quiet, metrics, functionName: 'reencrypt' }, { maxRecords: 3, pageLimit: 3 });
    const left = await table.store.countByVersion(h.keyring);
    const { last, invocations } = await sweepSegment(services, segmentEventSchema.parse(paused), { maxRecords: 3, pageLimit: 3 });

    // Assess: the first invocation stopped early (cursor, records left behind); the rest finished them.
    expect(paused.cursor).toBeDefined();
    expect(paused.counts.done).toBeGreaterThan(0);
    expect([...left].some(([v, n]) => v < active && n > 0)).toBe(true);
    expect(invocations).toBeGreaterThan(1);
    expect(last.counts.done).toBe(plain.size);
    expect([...(await table.store.countByVersion(h.keyring))]).toEqual([[active, plain.size]]);
    expect(await decryptAll(plain.keys())).toEqual(plain);
  });

  it('re-encrypts in reencrypt mode every record whose data key the version made (origin <= version)', async () => {
    // Prepare: v1 records re-wrapped to v2 keep origin 1; reencrypt of v1 must move them all.
    await setUp();
    const plain = new Map<string, Buffer>();
    for (let i = 0; i < 10; i += 1) plain.set(`o-${i}`, randomBytes(40));
    for (const [id, p] of plain) await put(id, p);
    const revokedOrigin = 1;
    const active = await rotate();
    const services = servicesOver(table.store);
    for (const e of segmentEvents('rewrap')) await sweepSegment(services, e, { maxRecords: 1000 });
    const exposedBefore = [...(await table.store.countByOrigin(h.keyring))].filter(([o]) => o <= revokedOrigin).reduce((n, [, c]) => n + c, 0);

    // Act
    const results = [];
    for (const e of segmentEvents('reencrypt', revokedOrigin)) results.push((await sweepSegment(services, e, { maxRecords: 1000 })).last);

    // Assess
    expect(results.reduce((n, r) => n + r.counts.done, 0)).toBe(exposedBefore);
    expect([...(await table.store.countByOrigin(h.keyring))].filter(([o]) => o <= revokedOrigin)).toEqual([]);
    expect([...(await table.store.countByVersion(h.keyring))]).toEqual([[active, plain.size]]);
    expect(await decryptAll(plain.keys())).toEqual(plain);
  });

  it('loses no concurrent write: an application write between the read and the re-wrap wins', async () => {
    // Prepare: the peer client writes a new value of one record just before the worker's first write of it.
    await setUp();
    const plain = new Map<string, Buffer>();
    for (let i = 0; i < 6; i += 1) plain.set(`c-${i}`, randomBytes(40));
    for (const [id, p] of plain) await put(id, p);
    const active = await rotate();
    const raced = 'c-3';
    const fresh = randomBytes(40);
    let racedOnce = false;
    const race = async (ids: readonly string[]): Promise<void> => {
      if (racedOnce || !ids.includes(raced)) return;
      racedOnce = true;
      const current = (await table.peer.get(raced))!;
      const envelope = await h.services.envelopes.encrypt(h.keyring, fresh);
      await table.peer.put({ id: raced, keyring: h.keyring, version: parseHeader(envelope).version, envelope }, current.revision);
    };
    const racing = new Proxy(table.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => unknown;
        if (prop === 'put') return async (record: { id: string }, ...rest: unknown[]) => (await race([record.id]), fn.call(target, record, ...rest));
        if (prop === 'putHeaders' || prop === 'putBatch') return async (writes: { write: { id: string } }[]) => (await race(writes.map((w) => w.write.id)), fn.call(target, writes));
        return fn.bind(target);
      },
    });
    const services = servicesOver(racing);

    // Act
    const results = [];
    for (const e of segmentEvents('rewrap')) results.push((await sweepSegment(services, e, { maxRecords: 1000 })).last);

    // Assess: the race happened, the racer's value survived, every other record was migrated.
    expect(racedOnce).toBe(true);
    plain.set(raced, fresh);
    expect(await decryptAll(plain.keys())).toEqual(plain);
    expect(results.reduce((n, r) => n + r.counts.done, 0)).toBe(plain.size - 1);
    expect(results.reduce((n, r) => n + r.counts.failed, 0)).toBe(0);
    expect([...(await table.store.countByVersion(h.keyring))]).toEqual([[active, plain.size]]);
  });

  it('refuses a segment event naming a table that is not a target of its keyring', async () => {
    await setUp();
    const services = servicesOver(table.store);
    await expect(runReencryptSegment({ keyring: h.keyring, table: 'some-other-table', mode: 'rewrap', segment: 0, totalSegments: 1 }, { services, logger: quiet, metrics, functionName: 'reencrypt' }, { maxRecords: 10 }))
      .rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('through the handler: stops once less than 40% of the starting Lambda time is left, and refuses a malformed segment event', async () => {
    // Prepare: a fake Lambda clock (not a timer) with 10 s left until the first page is scanned, 3 s after it.
    await setUp();
    for (let i = 0; i < 12; i += 1) await put(`t-${i}`, randomBytes(32));
    await rotate();
    let scanned = false;
    const watched = new Proxy(table.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => Promise<unknown>;
        if (prop === 'scanSegment') return async (...args: unknown[]) => { const page = await fn.apply(target, args); scanned = true; return page; };
        return fn.bind(target);
      },
    });
    const services = { ...h.services, tableTargets: servicesOver(watched).tableTargets };
    const handler = createReencryptHandler({ ...h.deps, services: () => services }, { segmentRecords: 1000, segmentPageLimit: 4 });
    const context = { ...lambdaContext('reencrypt'), getRemainingTimeInMillis: () => (scanned ? 3_000 : 10_000) };
    const event = { keyring: h.keyring, table: table.tableName, mode: 'rewrap', segment: 0, totalSegments: 1 };

    // Act
    const out = (await handler(event, context)) as SegmentResponse;
    const bad = await handler({ ...event, segment: 1 }, lambdaContext('reencrypt'));

    // Assess: one page (4 entries at most) then a cursor, though the record budget allowed all; the malformed event is a ValidationError failure.
    expect(out.cursor).toBeDefined();
    expect(out.counts.done).toBeLessThanOrEqual(4);
    expect(out).toMatchObject({ keyring: h.keyring, table: table.tableName, mode: 'rewrap', segment: 0, totalSegments: 1 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'VALIDATION', name: 'ValidationError' } });
  });
});
