/**
 * Issue 14, "S3 at scale", as deployed: record counts of an S3 target come from the sweep's own
 * census and S3's write events, not from listing and HEADing every object on every tick.
 *
 * The application team turns on EventBridge notifications for its record bucket, as
 * docs/deploy.md asks ("Enabling Amazon EventBridge", Amazon S3 User Guide:
 * PutBucketNotificationConfiguration with an empty `EventBridgeConfiguration`); the ops bucket
 * stays without them. Then, through the real bundles, the template's permissions and AWS's own
 * event shapes (S3 `Object Created` on the default bus, the Distributed Map's ResultWriter
 * manifest):
 *  - every application write becomes a census mark (the record-written rule → key-use);
 *  - each sweep's census step closes the target's census from its map run's results;
 *  - the first census after notifications were found on is not trusted (S3 needs minutes to
 *    start delivering), the second is: from then on grace-period counts the orders bucket with
 *    one GET and one listing of marks, and never lists or HEADs the bucket; the ops bucket,
 *    without notifications, is still counted by listing;
 *  - an old object version restored by the team (a v1 envelope written after the census) is
 *    counted under v1 at once, through its mark, and the next sweep's census moves it to v2;
 *  - nothing is denied, lost or failed.
 */
import { GetObjectCommand, ListObjectVersionsCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import { censusKey, censusWritesPrefix, CENSUS_EVENTS_SETTLE_MS } from '../../../shared/vocabulary/record-census';
import { openApplication, roleClientConfig } from '../application';
import { Twin } from '../twin';
import { createRecordBucket, recordBucketPolicy, roleArn } from './support/app-team';

jest.setTimeout(600_000);

const HOUR = 3_600_000;
const APP = 'orders-service';
const OPERATOR = 'rekey-operator';
const ORDERS = 'example-orders-records';
const OPS = 'example-ops-records';
const PII_TARGET = { keyring: 'pii', bucket: ORDERS, prefix: 'pii/' };
const OPS_TARGET = { keyring: 'ops', bucket: OPS, prefix: '' };
const RECORD_COUNT = 40;
const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };

interface CensusDoc {
  startedAt: string;
  closedAt: string;
  writeEvents: boolean;
  writeEventsSince?: string;
  byVersion: Record<string, number>;
  byOrigin: Record<string, number>;
  unknown: number;
}

interface VersionStatus {
  version: number;
  records: number;
}

describe('record census of an S3 target, as deployed', () => {
  let twin: Twin;
  let admin: S3Client;
  const ids: string[] = [];
  let secondCensusClosed = 0;
  let countedSince = 0;
  let afterRestore: { status: VersionStatus[]; doc: CensusDoc; marks: string[] };
  let afterThirdSweep: { status: VersionStatus[]; doc: CensusDoc; marks: string[] };
  let restoredId = '';

  const stateBucket = (): string => twin.world.outputs.CatalogBucket ?? '';
  const census = async (target: typeof PII_TARGET): Promise<CensusDoc | undefined> => {
    try {
      const out = await admin.send(new GetObjectCommand({ Bucket: stateBucket(), Key: censusKey(target) }));
      return JSON.parse((await out.Body?.transformToString()) ?? '') as CensusDoc;
    } catch {
      return undefined;
    }
  };
  const marks = async (target: typeof PII_TARGET): Promise<string[]> => {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const out = await admin.send(new ListObjectsV2Command({ Bucket: stateBucket(), Prefix: censusWritesPrefix(target) }));
    return (out.Contents ?? []).map((o) => (o.Key ?? '').slice(censusWritesPrefix(target).length));
  };
  const piiStatus = async (): Promise<VersionStatus[]> => {
    const out = await twin.cli(['status', 'pii', '--count-records', '--json'], twin.role(OPERATOR));
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' });
    return (JSON.parse(out.stdout) as { keyrings: { versions: VersionStatus[] }[] }).keyrings[0]?.versions ?? [];
  };
  /** Marks counted with a census: those at or after its start less the 5-minute margin (shared/reencrypt/census.ts). */
  const marksCounted = (doc: CensusDoc, all: readonly string[], version: number): number =>
    all.filter((m) => Date.parse(m.split('/')[0] ?? '') >= Date.parse(doc.startedAt) - 5 * 60_000 - 999 && Number(m.split('/')[1]?.split('.')[0]) === version).length;

  beforeAll(async () => {
    twin = await Twin.standUp({
      roles: [
        {
          name: APP,
          policies: [
            recordBucketPolicy(ORDERS, 'pii/'),
            // Restoring an earlier object version (S3 versioning), as a team does after a bad write.
            { Version: '2012-10-17', Statement: [
              { Effect: 'Allow', Action: 's3:GetObjectVersion', Resource: `arn:aws:s3:::${ORDERS}/pii/*` },
              { Effect: 'Allow', Action: 's3:ListBucketVersions', Resource: `arn:aws:s3:::${ORDERS}` },
            ] },
          ],
        },
        // docs/deploy.md "10. Operator roles": --count-records also asks the buckets' notifications and the census loss queues.
        { name: OPERATOR, policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['lambda:InvokeFunction', 'cloudformation:DescribeStacks', 's3:GetObject', 's3:ListBucket', 's3:GetBucketNotification', 'sqs:GetQueueAttributes'], Resource: '*' }] }] },
      ],
      context: {
        keyrings: [
          { name: 'pii', rotateEvery: '30d', grace: '7d', propagation: '15m', retention: '30d', sensitivity: 'high', applicationRoleArns: [roleArn(APP)] },
          { name: 'ops', rotateEvery: '90d', grace: '14d', propagation: '10m', retention: '90d', sensitivity: 'moderate' },
        ],
        operatorRoleArns: [roleArn(OPERATOR)],
        sweep: { maxConcurrency: 10, itemsPerBatch: 15, every: '6h', timeout: '2h' },
      },
    });
    admin = new S3Client({ endpoint: twin.moto.url, region: twin.world.region, credentials: ADMIN, forcePathStyle: true });
    await createRecordBucket(twin, ORDERS);
    await createRecordBucket(twin, OPS);
    // docs/deploy.md: turn on EventBridge notifications for each record bucket (the orders team did; ops did not).
    await admin.send(new PutBucketNotificationConfigurationCommand({ Bucket: ORDERS, NotificationConfiguration: { EventBridgeConfiguration: {} } }));
    const orders = twin.world.buckets.get(ORDERS);
    if (orders !== undefined) orders.eventBridge = true;

    const app = openApplication({ role: twin.role(APP), proxyUrl: twin.proxyUrl, region: twin.world.region, clock: twin.clock, catalogBucket: stateBucket(), catalogPrefix: twin.world.outputs.CatalogPrefix ?? '', recordBucket: ORDERS, recordPrefix: 'pii/' });
    for (let i = 0; i < RECORD_COUNT; i++) {
      const id = `order-${String(i).padStart(4, '0')}`;
      await app.records.put(id, 'pii', Buffer.from(`card ${i}`));
      ids.push(id);
    }
    await twin.settle();
    expect(await twin.cli(['rotate', 'pii', '--reason', 'record-census scenario'], twin.role(OPERATOR))).toMatchObject({ code: 0 });
    const start = twin.clock.now();
    await twin.advanceTo(start + HOUR);
    // Each coalesced stretch fires every schedule once: one sweep of each target, one grace-period tick.
    await twin.advanceTo(start + 7 * HOUR, { coalesce: true });
    await twin.advanceTo(start + 13 * HOUR, { coalesce: true });
    secondCensusClosed = Date.parse((await census(PII_TARGET))?.closedAt ?? '');
    countedSince = twin.clock.now();
    await twin.advanceTo(countedSince + 40 * 60_000);

    // The team restores the first version of one object: a v1 envelope is current again.
    restoredId = ids[7] ?? '';
    const teamS3 = new S3Client({ ...roleClientConfig(twin.role(APP), twin.proxyUrl, twin.world.region, twin.clock), forcePathStyle: true });
    try {
      const key = `pii/${restoredId}`;
      const versions = await teamS3.send(new ListObjectVersionsCommand({ Bucket: ORDERS, Prefix: key }));
      const oldest = [...(versions.Versions ?? [])].filter((v) => v.Key === key).sort((a, b) => (a.LastModified?.getTime() ?? 0) - (b.LastModified?.getTime() ?? 0))[0];
      const old = await teamS3.send(new GetObjectCommand({ Bucket: ORDERS, Key: key, VersionId: oldest?.VersionId }));
      const body = Buffer.from((await old.Body?.transformToByteArray()) ?? new Uint8Array());
      expect(inspectEnvelope(body).version).toBe(1);
      await teamS3.send(new PutObjectCommand({ Bucket: ORDERS, Key: key, Body: body, Metadata: old.Metadata, ContentType: old.ContentType }));
    } finally {
      teamS3.destroy();
    }
    await twin.settle();
    afterRestore = { status: await piiStatus(), doc: (await census(PII_TARGET)) as CensusDoc, marks: await marks(PII_TARGET) };
    await twin.advanceTo(twin.clock.now() + 6 * HOUR, { coalesce: true });
    afterThirdSweep = { status: await piiStatus(), doc: (await census(PII_TARGET)) as CensusDoc, marks: await marks(PII_TARGET) };
  });

  afterAll(async () => {
    admin?.destroy();
    await twin?.close();
  });

  it('lets every request through: no denial, no lost event, no background failure, every sweep succeeded with its census step', () => {
    expect(twin.deniedRequests().map((d) => `${d.caller} ${d.action} ${d.resources.join(',')} ${d.reason ?? ''}`)).toEqual([]);
    expect(twin.runtime.lostEvents).toEqual([]);
    expect(twin.backgroundErrors).toEqual([]);
    const executions = twin.stepFunctions.listExecutionArns().map((arn) => twin.stepFunctions.describeExecution(arn));
    expect(executions.length).toBeGreaterThanOrEqual(6);
    expect(executions.map((e) => e.status)).toEqual(executions.map(() => 'SUCCEEDED'));
    for (const e of executions) expect((JSON.parse(e.output ?? '{}') as { census?: { closed?: boolean } }).census?.closed).toBe(true);
  });

  it('marks every application write through S3 Object Created events, under the version the object carries', async () => {
    const writes = twin.world.requestLog.filter((r) => r.caller === twin.role(APP).arn && r.action === 's3:PutObject' && r.allowed);
    expect(writes.length).toBe(RECORD_COUNT + 1);
    // The 40 first writes were v1; the sweeps' re-wraps (v2) and the restore (v1) are writes too.
    const all = afterThirdSweep.marks;
    expect(all.filter((m) => m.split('/')[1]?.startsWith('1.')).length).toBe(RECORD_COUNT + 1);
    expect(all.filter((m) => m.split('/')[1]?.startsWith('2.')).length).toBeGreaterThanOrEqual(RECORD_COUNT + 1);
  });

  it('closes each census from the map run, trusting notifications only once a census has seen them on before its run began', async () => {
    const doc = afterRestore.doc;
    expect(doc).toMatchObject({ writeEvents: true, unknown: 0, byVersion: { '2': RECORD_COUNT } });
    expect(Date.parse(doc.startedAt)).toBeGreaterThanOrEqual(Date.parse(doc.writeEventsSince ?? '') + CENSUS_EVENTS_SETTLE_MS);
    // The bucket without notifications gets a census too, which says so (and is never used for counts).
    expect(await census(OPS_TARGET)).toMatchObject({ writeEvents: false, unknown: 0 });
  });

  it('counts the orders bucket from its census once it is usable (no ListObjects, no HEAD), and the ops bucket still by listing', () => {
    const grace = twin.fn('grace-period').roleArn;
    const after = twin.world.requestLog.filter((r) => r.caller === grace && r.at >= countedSince);
    const on = (bucket: string): string[] => after.filter((r) => r.resources.some((res) => res === `arn:aws:s3:::${bucket}` || res.startsWith(`arn:aws:s3:::${bucket}/`))).map((r) => r.action);
    expect(Number.isNaN(secondCensusClosed)).toBe(false);
    expect(after.some((r) => r.action === 's3:GetObject' && r.resources.includes(`arn:aws:s3:::${stateBucket()}/${censusKey(PII_TARGET)}`))).toBe(true);
    // One GetBucketNotificationConfiguration per count (the bucket still sends its events), never a listing or an object read.
    expect(on(ORDERS).filter((a) => a !== 's3:GetBucketNotification')).toEqual([]);
    expect(on(ORDERS).length).toBeGreaterThan(0);
    // And the loss queues were asked, and were empty.
    expect([...new Set(after.map((r) => `${r.action} ${String(r.allowed)}`))]).toContain('sqs:GetQueueAttributes true');
    expect(on(OPS)).toContain('s3:ListBucket');
    // Before the second census, the first (taken as notifications were first seen on) was not trusted.
    const before = twin.world.requestLog.filter((r) => r.caller === grace && r.at < secondCensusClosed);
    expect(before.some((r) => r.action === 's3:ListBucket' && r.resources.includes(`arn:aws:s3:::${ORDERS}`))).toBe(true);
  });

  it('counts a restored v1 object under v1 at once through its mark, and the next census moves it to v2', () => {
    const v = (status: VersionStatus[], n: number): number => status.find((s) => s.version === n)?.records ?? 0;
    // Census v2 = 40, plus the marks since its start: the restore (v1).
    expect(v(afterRestore.status, 1)).toBe((afterRestore.doc.byVersion['1'] ?? 0) + marksCounted(afterRestore.doc, afterRestore.marks, 1));
    expect(v(afterRestore.status, 1)).toBe(1);
    expect(v(afterRestore.status, 2)).toBe(RECORD_COUNT + marksCounted(afterRestore.doc, afterRestore.marks, 2));
    // The third sweep re-wrapped it: its census has nothing on v1, and its own re-wrap mark counts (an upper bound).
    expect(afterThirdSweep.doc.byVersion['1']).toBeUndefined();
    expect(afterThirdSweep.doc.byVersion['2']).toBe(RECORD_COUNT);
    expect(v(afterThirdSweep.status, 1)).toBe(0);
    expect(v(afterThirdSweep.status, 2)).toBe(RECORD_COUNT + marksCounted(afterThirdSweep.doc, afterThirdSweep.marks, 2));
    expect(restoredId).not.toBe('');
  });
});
