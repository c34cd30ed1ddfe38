/**
 * The record census on S3 (moto_server): S3RecordCensus (conditional census replace, idempotent
 * marks, listing marks by time), the census step over a map run's ResultWriter files, write marks
 * from S3's Object Created events over real envelopes, and counting from a census without
 * listing the target, falling back to the listing whenever the census cannot be used.
 * Shapes: the ResultWriter manifest ("ResultWriter (Map)", Step Functions Developer Guide,
 * https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html: manifest.json
 * with `ResultFiles` by status, result entries with `Output` as a JSON string under the NONE
 * transformation) and S3's EventBridge event ("EventBridge event message structure",
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
 */
import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command, PutBucketNotificationConfigurationCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3RecordCensus } from '../../../shared/adapters/aws/s3-record-census';
import { S3RecordStore } from '../../../shared/adapters/aws/s3-record-store';
import { S3SweepResults } from '../../../shared/adapters/aws/s3-sweep-results';
import { SqsLossQueues } from '../../../shared/adapters/aws/sqs-loss-queues';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { censusCounted } from '../../../shared/compose/aws/census-counts';
import { parseHeader } from '../../../shared/envelope/format';
import { AccessDeniedError, BackendError, ValidationError } from '../../../shared/errors';
import type { JobLogger } from '../../../shared/ports/job-logger';
import type { TargetCensus } from '../../../shared/ports/record-census';
import { tallyOf } from '../../../shared/reencrypt/census';
import { runCensusClose, runRecordWritten, type CensusCloseServices } from '../../../shared/usecases/record-census';
import { CENSUS_EVENTS_SETTLE_MS, censusKey, censusWritesPrefix } from '../../../shared/vocabulary/record-census';
import { createHarness, motoClients, type Harness } from '../functions/support/harness';
import { createBucket, motoS3, uniqueName } from './moto';
import { censusOf } from '../../support/census';

const quiet: JobLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const metrics = { put: () => undefined, increment: () => undefined, flush: async () => undefined };
const T0 = Date.parse('2027-02-01T00:00:00Z');

describe('S3RecordCensus (moto)', () => {
  let s3: S3Client;
  let state: string;
  let census: S3RecordCensus;
  let target: TargetCensus['target'];

  beforeEach(async () => {
    s3 = motoS3();
    state = await createBucket(s3);
    census = new S3RecordCensus({ client: s3, bucket: state });
    target = { keyring: 'pii', bucket: uniqueName('records'), prefix: 'pii/' };
  });
  afterEach(() => s3.destroy());

  it('closes, reads back, and never lets an older run replace a newer census', async () => {
    expect(await census.read(target)).toBeUndefined();
    expect(await census.close(censusOf(target, T0, { '2': 5 }))).toBe('written');
    expect(await census.close(censusOf(target, T0 - 1, { '1': 5 }))).toBe('superseded');
    expect(await census.close(censusOf(target, T0 + 1, { '2': 6 }))).toBe('written');
    const read = await census.read(target);
    expect(read?.counts.byVersion).toEqual(new Map([[2, 6]]));
    expect(read?.startedAt.getTime()).toBe(T0 + 1);
    expect(read?.writeEventsSince?.getTime()).toBe(T0 + 1 - 86_400_000);
  });

  it('lets exactly the newest of racing closers stand', async () => {
    const runs = Array.from({ length: 6 }, (_, i) => censusOf(target, T0 + i * 1000, { '3': i }));
    const outcomes = await Promise.all(runs.map((r) => census.close(r)));
    expect(outcomes).toContain('written');
    expect((await census.read(target))?.counts.byVersion.get(3)).toBe(5);
  });

  it('marks a write once per event id and lists the marks from an instant, refusing to say beyond its limit', async () => {
    const at = (s: number): Date => new Date(T0 + s * 1000);
    await census.recordWrite(target, { at: at(0), version: 1, origin: 1, eventId: 'e-0' });
    await census.recordWrite(target, { at: at(10), version: 2, origin: 1, eventId: 'e-1' });
    await census.recordWrite(target, { at: at(10), version: 2, origin: 1, eventId: 'e-1' });
    await census.recordWrite(target, { at: at(20), version: 3, origin: 3, eventId: 'e-2' });
    expect((await census.writesSince(target, at(0), 10)) as unknown[]).toHaveLength(3);
    expect(await census.writesSince(target, at(5), 10)).toEqual([
      { at: at(10), version: 2, origin: 1 },
      { at: at(20), version: 3, origin: 3 },
    ]);
    expect(await census.writesSince(target, at(5), 1)).toBe('cannot-say');
  });

  it('cannot say when a mark under its prefix is not one it made', async () => {
    await census.recordWrite(target, { at: new Date(T0), version: 1, origin: 1, eventId: 'e-0' });
    await s3.send(new PutObjectCommand({ Bucket: state, Key: `${censusWritesPrefix(target)}2027-02-01T00:00:05Z/garbage`, Body: '' }));
    expect(await census.writesSince(target, new Date(T0 - 60_000), 100)).toBe('cannot-say');
  });

  it('refuses a corrupt census document instead of reading it as no records', async () => {
    await s3.send(new PutObjectCommand({ Bucket: state, Key: censusKey(target), Body: JSON.stringify({ schema: 1, keyring: 'pii', bucket: target.bucket, prefix: target.prefix, startedAt: 'yesterday' }) }));
    await expect(census.read(target)).rejects.toThrow(BackendError);
  });

  it('refuses bad marks before writing anything', async () => {
    await expect(census.recordWrite(target, { at: new Date(T0), version: 0, origin: 1, eventId: 'e' })).rejects.toThrow(ValidationError);
    await expect(census.recordWrite(target, { at: new Date(T0), version: 1, origin: 1, eventId: 'a/b' })).rejects.toThrow(ValidationError);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: state }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });
});

describe('the census step over a map run (moto)', () => {
  let s3: S3Client;
  let state: string;
  let records: string;
  let services: CensusCloseServices;
  const target = (): TargetCensus['target'] => ({ keyring: 'pii', bucket: records, prefix: 'pii/' });
  const event = (key: string, startedAt = new Date(T0).toISOString()) => ({ census: { ...target(), startedAt, execution: 'arn:aws:states:us-east-1:123456789012:execution:sweep:run-1', results: { Bucket: state, Key: key } } });
  const context = () => ({ services, logger: quiet, metrics, functionName: 'reencrypt' });
  let now = T0 + 3_600_000;

  /**
   * The files Step Functions' ResultWriter writes for one map run, with batch answers as the worker
   * returns them: JSON Lines as the stack configures it (split over two files), or one JSON array.
   */
  async function writeRun(answers: unknown[], status: { FAILED?: number; array?: boolean } = {}): Promise<string> {
    const run = `sweeps/${randomUUID()}/`;
    const entries = answers.map((a, i) => ({ ExecutionArn: `arn:x:${i}`, Input: '{}', InputDetails: { Included: true }, Name: String(i), Output: JSON.stringify(a), OutputDetails: { Included: true }, Status: 'SUCCEEDED' }));
    const files = status.array === true
      ? [{ Key: `${run}SUCCEEDED_0.json`, Body: JSON.stringify(entries) }]
      : [entries.slice(0, 1), entries.slice(1)].map((part, i) => ({ Key: `${run}SUCCEEDED_${i}.jsonl`, Body: part.map((e) => `${JSON.stringify(e)}\n`).join('') }));
    for (const f of files) await s3.send(new PutObjectCommand({ Bucket: state, ...f }));
    const failed = status.FAILED === undefined ? [] : [{ Key: `${run}FAILED_0.jsonl`, Size: 10 }];
    const manifest = { DestinationBucket: state, MapRunArn: 'arn:x', ResultFiles: { FAILED: failed, PENDING: [], SUCCEEDED: files.map((f) => ({ Key: f.Key, Size: f.Body.length })) } };
    await s3.send(new PutObjectCommand({ Bucket: state, Key: `${run}manifest.json`, Body: JSON.stringify(manifest) }));
    return `${run}manifest.json`;
  }

  beforeEach(async () => {
    s3 = motoS3();
    state = await createBucket(s3);
    records = await createBucket(s3);
    services = {
      census: new S3RecordCensus({ client: s3, bucket: state }),
      results: new S3SweepResults(s3),
      recordTargets: [{ target: target(), store: new S3RecordStore({ client: s3, bucket: records, prefix: 'pii/' }) }],
      stateBucket: state,
      clock: () => new Date(now),
    };
  });
  afterEach(() => s3.destroy());

  it('sums every batch tally into the census, and says whether the bucket reports its writes', async () => {
    const batches = [tallyOf([{ version: 2, origin: 1 }, { version: 2, origin: 2 }]), tallyOf([{ version: 2, origin: 1 }, 'absent'])];
    const manifest = await writeRun(batches.map((census) => ({ ok: true, keyring: 'pii', mode: 'rewrap', counts: { done: 2, skipped: 1, failed: 0 }, results: [], census })));
    // Without EventBridge notifications on the bucket.
    expect(await runCensusClose(event(manifest), context())).toEqual({ closed: true, keyring: 'pii', records: 3, writeEvents: false, outcome: 'written' });
    expect(await services.census.read(target())).toMatchObject({ writeEvents: false, counts: { byVersion: new Map([[2, 3]]), byOrigin: new Map([[1, 2], [2, 1]]), unknown: 0 } });
    // Turned on: the next census says so and starts the clock of its trust.
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: records, NotificationConfiguration: { EventBridgeConfiguration: {} } }));
    const eventBridge = jest.spyOn(services.results, 'eventBridgeEnabled').mockResolvedValue(true); // moto drops EventBridgeConfiguration (see test/twin/twin.ts)
    now += 6 * 3_600_000;
    expect(await runCensusClose(event(manifest, new Date(now - 600_000).toISOString()), context())).toMatchObject({ closed: true, writeEvents: true });
    const first = await services.census.read(target());
    expect(first?.writeEventsSince?.getTime()).toBe(now);
    now += 6 * 3_600_000;
    await runCensusClose(event(manifest, new Date(now - 600_000).toISOString()), context());
    const second = await services.census.read(target());
    expect(second?.writeEventsSince?.getTime()).toBe(first?.writeEventsSince?.getTime());
    expect((second?.startedAt.getTime() ?? 0) - (second?.writeEventsSince?.getTime() ?? 0)).toBeGreaterThanOrEqual(CENSUS_EVENTS_SETTLE_MS);
    eventBridge.mockRestore();
  });

  it('reads a run written as one JSON array too, and a JSON Lines run of thousands of batches line by line', async () => {
    const one = { census: tallyOf([{ version: 4, origin: 2 }]) };
    expect(await runCensusClose(event(await writeRun([one, one], { array: true })), context())).toMatchObject({ closed: true, records: 2 });
    now += 1;
    const many = Array.from({ length: 3000 }, () => one);
    const lines = jest.spyOn(services.results, 'readLines');
    expect(await runCensusClose(event(await writeRun(many), new Date(T0 + 1).toISOString()), context())).toMatchObject({ closed: true, records: 3000 });
    expect(lines).toHaveBeenCalledTimes(2);
  });

  it('takes no census from a run with failed batches or a batch answer without a tally, and says why', async () => {
    const ok = { ok: true, census: tallyOf([{ version: 2, origin: 1 }]) };
    expect(await runCensusClose(event(await writeRun([ok], { FAILED: 1 })), context())).toMatchObject({ closed: false, reason: expect.stringContaining('failed') as string });
    expect(await runCensusClose(event(await writeRun([ok, { ok: true }])), context())).toMatchObject({ closed: false, reason: expect.stringContaining('tally') as string });
    expect(await runCensusClose(event(await writeRun([{ census: { byVersion: { '2': -1 }, byOrigin: {}, unknown: 0 } }])), context())).toMatchObject({ closed: false });
    expect(await runCensusClose(event(await writeRun([ok, { ok: true }], { array: true })), context())).toMatchObject({ closed: false, reason: expect.stringContaining('tally') as string });
    expect(await services.census.read(target())).toBeUndefined();
  });

  it('refuses results outside the state bucket sweep prefix and targets that are not configured, reading nothing', async () => {
    const read = jest.spyOn(services.results, 'readText');
    await expect(runCensusClose({ census: { ...event('sweeps/x/manifest.json').census, results: { Bucket: records, Key: 'sweeps/x/manifest.json' } } }, context())).rejects.toThrow(ValidationError);
    await expect(runCensusClose(event('catalog/pii.json'), context())).rejects.toThrow(ValidationError);
    await expect(runCensusClose({ census: { ...event('sweeps/x/manifest.json').census, prefix: 'other/' } }, context())).rejects.toThrow(ValidationError);
    expect(read).not.toHaveBeenCalled();
  });
});

describe('write marks and counts over real records (moto)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('marks a written record under the version and origin of its header, and nothing for what is not a record', async () => {
    h = await createHarness();
    const s3 = motoClients().s3;
    const state = h.buckets.catalog;
    const target = { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix };
    const census = new S3RecordCensus({ client: s3, bucket: state });
    const store = new S3RecordStore({ client: s3, bucket: target.bucket, prefix: target.prefix });
    const envelope = await h.services.envelopes.encrypt(h.keyring, Buffer.from('a value'));
    await store.put({ id: 'r-1', keyring: h.keyring, version: parseHeader(envelope).version, envelope }, null);
    await s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: `${target.prefix}not-a-record`, Body: 'plain text' }));
    const ctx = { services: { census, recordTargets: [{ target, store }] }, logger: quiet, metrics, functionName: 'key-use' };
    const created = (key: string, id: string = randomUUID()) => ({ id, time: '2027-02-01T10:00:00Z', detail: { bucket: { name: target.bucket }, object: { key } } });
    // Act
    const marked = await runRecordWritten(created(`${target.prefix}r-1`), ctx);
    const again = await runRecordWritten(created(`${target.prefix}r-1`, 'same-event'), ctx);
    await runRecordWritten(created(`${target.prefix}r-1`, 'same-event'), ctx);
    const plain = await runRecordWritten(created(`${target.prefix}not-a-record`), ctx);
    const gone = await runRecordWritten(created(`${target.prefix}deleted`), ctx);
    const elsewhere = await runRecordWritten(created('other/r-1'), ctx);
    // Assess
    const header = parseHeader(envelope);
    expect(marked).toEqual({ marked: true, keyring: h.keyring, version: header.version, origin: header.originVersion });
    expect(again).toMatchObject({ marked: true });
    expect([plain, gone, elsewhere]).toEqual([{ marked: false, reason: 'not a record' }, { marked: false, reason: 'gone' }, { marked: false, reason: 'not a record target' }]);
    // Two distinct events, one of them delivered twice: two marks.
    expect(await census.writesSince(target, new Date('2027-02-01T09:00:00Z'), 100)).toEqual([
      { at: new Date('2027-02-01T10:00:00Z'), version: header.version, origin: header.originVersion },
      { at: new Date('2027-02-01T10:00:00Z'), version: header.version, origin: header.originVersion },
    ]);
  });

  it('marks every overlapping target of the record\'s keyring, refuses to call a denied read "not a record", and marks what a delete left current', async () => {
    h = await createHarness();
    const s3 = motoClients().s3;
    const census = new S3RecordCensus({ client: s3, bucket: h.buckets.catalog });
    const whole = { keyring: h.keyring, bucket: h.buckets.data, prefix: '' };
    const under = { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix };
    const other = { keyring: 'another', bucket: h.buckets.data, prefix: h.dataPrefix };
    const storeOf = (t: typeof whole) => new S3RecordStore({ client: s3, bucket: t.bucket, prefix: t.prefix });
    const envelope = await h.services.envelopes.encrypt(h.keyring, Buffer.from('overlap'));
    await storeOf(under).put({ id: 'r-2', keyring: h.keyring, version: parseHeader(envelope).version, envelope }, null);
    const ctx = (targets: { target: typeof whole; store: Pick<S3RecordStore, 'getHeader'> }[]) => ({ services: { census, recordTargets: targets }, logger: quiet, metrics, functionName: 'key-use' });
    const event = (detailType: string) => ({ id: randomUUID(), 'detail-type': detailType, time: '2027-02-01T11:00:00Z', detail: { bucket: { name: h.buckets.data }, object: { key: `${h.dataPrefix}r-2` } } });
    // Act / Assess: both targets of the keyring get the mark, the other keyring's does not.
    expect(await runRecordWritten(event('Object Created'), ctx([whole, under, other].map((t) => ({ target: t, store: storeOf(t) }))))).toMatchObject({ marked: true });
    for (const t of [whole, under]) expect(await census.writesSince(t, new Date('2027-02-01T10:00:00Z'), 10)).toHaveLength(1);
    expect(await census.writesSince(other, new Date('2027-02-01T10:00:00Z'), 10)).toEqual([]);
    // A read the role may not make is thrown (retried, then the failure queue, which stops the census).
    const denied = { getHeader: async () => Promise.reject(new AccessDeniedError('s3:GetObject denied')) };
    await expect(runRecordWritten(event('Object Created'), ctx([{ target: under, store: denied }]))).rejects.toThrow(AccessDeniedError);
    // A delete marks whatever is current at the key now: the record is still there (its newest version was removed).
    expect(await runRecordWritten(event('Object Deleted'), ctx([{ target: under, store: storeOf(under) }]))).toMatchObject({ marked: true, version: parseHeader(envelope).version });
  });

  it('counts from a usable census without listing the target, and by listing whenever the census cannot be used', async () => {
    h = await createHarness();
    const s3 = motoClients().s3;
    const target = { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix };
    const store = new S3RecordStore({ client: s3, bucket: target.bucket, prefix: target.prefix });
    for (const id of ['a', 'b', 'c']) {
      const envelope = await h.services.envelopes.encrypt(h.keyring, Buffer.from(id));
      await store.put({ id, keyring: h.keyring, version: parseHeader(envelope).version, envelope }, null);
    }
    const listed = (await store.countByVersion(h.keyring)).get(1);
    expect(listed).toBe(3);
    const census = new S3RecordCensus({ client: s3, bucket: h.buckets.catalog });
    const now = new Date(T0 + 3_600_000);
    const sources: string[] = [];
    const listing = jest.spyOn(store, 'countByVersion');
    // Evidence as on AWS: the bucket's real notification configuration (moto keeps none, so it is
    // asked through a spy that answers on), and a real SQS loss queue on moto.
    const sqs = motoClients().sqs;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('census-loss') }))).QueueUrl ?? '';
    const lossQueues = new SqsLossQueues(sqs, [queueUrl]);
    let notificationsOn = true;
    const evidence = { writeEventsOn: async () => notificationsOn, anyMarkLost: () => lossQueues.anyLost() };
    const [counted] = censusCounted([{ target, store }], { census, evidence, clock: () => now, onCount: (_, source) => sources.push(source.kind === 'census' ? 'census' : `listing:${source.why}`) });
    // No census yet: listing.
    expect((await counted!.store.countByVersion(h.keyring)).get(1)).toBe(3);
    // A usable census that says 100 on v1 (a million-object bucket in miniature), and one write since.
    await census.close(censusOf(target, T0, { '1': 100 }));
    await census.recordWrite(target, { at: new Date(T0 + 60_000), version: 1, origin: 1, eventId: 'w-1' });
    await census.recordWrite(target, { at: new Date(T0 - 86_400_000), version: 1, origin: 1, eventId: 'w-old' });
    listing.mockClear();
    expect((await counted!.store.countByVersion(h.keyring)).get(1)).toBe(101);
    expect(listing).not.toHaveBeenCalled();
    // Notifications turned off since the census (a rewritten notification configuration): listing.
    notificationsOn = false;
    expect((await counted!.store.countByVersion(h.keyring)).get(1)).toBe(3);
    notificationsOn = true;
    // A mark lost (its event in the dead-letter queue): listing until the queue is empty again.
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"detail-type":"Object Created"}' }));
    expect((await counted!.store.countByVersion(h.keyring)).get(1)).toBe(3);
    // Unknown loss queues say nothing either: listing.
    expect(await new SqsLossQueues(sqs, undefined).anyLost()).toBe(true);
    // Notifications found off at the last census: listing again.
    await census.close(censusOf(target, T0 + 1, { '1': 100 }, { writeEvents: false, writeEventsSince: undefined }));
    expect((await counted!.store.countByVersion(h.keyring)).get(1)).toBe(3);
    expect(sources).toEqual(['listing:none', 'census', 'listing:notifications-off', 'listing:marks-lost', 'listing:no-write-events']);
    sqs.destroy();
  });
});
