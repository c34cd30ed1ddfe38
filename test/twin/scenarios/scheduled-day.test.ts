/**
 * One day of the deployed stack, at full fidelity wherever something is due, right after an operator's "rotate now", with application records in a versioned
 * bucket. It pins the review's defects that only show as deployed:
 *  - #3  the Distributed Map delivers AWS's ListObjectsV2 item shape (`Etag`) and every batch is accepted;
 *  - #6  versioned record buckets: the sweep's reads and writes are allowed on a versioned bucket;
 *  - #7  grace-period may read its circuit-breaker metrics, the escrow bucket, and create versions;
 *  - #9  BreakerTripped does not flap between ticks; RotationOverdue can fire at its metric's cadence;
 *  - #10 escrow objects are locked for cdk.json's 400 days;
 *  - #11 the sweep schedules do not start together, and no map run fails on concurrency.
 */
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import { canAlarmFire } from '../drivers/alarms';
import { openApplication } from '../application';
import { Twin } from '../twin';
import { createRecordBucket, recordBucketPolicy, roleArn } from './support/app-team';

jest.setTimeout(300_000);

const HOUR = 3_600_000;
const APP = 'orders-service';
const OPERATOR = 'rekey-operator';
const RECORDS = 'example-orders-records';
const RECORD_COUNT = 120;

describe('a scheduled day of the deployed stack', () => {
  let twin: Twin;
  const ids: string[] = [];
  let dayStart = 0;

  beforeAll(async () => {
    twin = await Twin.standUp({
      roles: [
        { name: APP, policies: [recordBucketPolicy(RECORDS, 'pii/')] },
        { name: OPERATOR, policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['lambda:InvokeFunction', 'cloudformation:DescribeStacks', 's3:GetObject', 's3:ListBucket'], Resource: '*' }] }] },
      ],
      context: {
        keyrings: [
          { name: 'pii', rotateEvery: '30d', grace: '7d', propagation: '15m', retention: '30d', sensitivity: 'high', applicationRoleArns: [roleArn(APP)] },
          { name: 'ops', rotateEvery: '90d', grace: '14d', propagation: '10m', retention: '90d', sensitivity: 'moderate' },
        ],
        operatorRoleArns: [roleArn(OPERATOR)],
        // A small batch so that the sweep fans out into several concurrent batches.
        sweep: { maxConcurrency: 10, itemsPerBatch: 25, every: '1d', timeout: '12h' },
      },
    });
    await createRecordBucket(twin, RECORDS);
    await createRecordBucket(twin, 'example-ops-records');
    const app = openApplication({ role: twin.role(APP), proxyUrl: twin.proxyUrl, region: twin.world.region, clock: twin.clock, catalogBucket: twin.world.outputs.CatalogBucket ?? '', catalogPrefix: twin.world.outputs.CatalogPrefix ?? '', recordBucket: RECORDS, recordPrefix: 'pii/' });
    for (let i = 0; i < RECORD_COUNT; i++) {
      const id = `order-${String(i).padStart(4, '0')}`;
      await app.records.put(id, 'pii', Buffer.from(`card ${i}`));
      ids.push(id);
    }
    const rotated = await twin.cli(['rotate', 'pii', '--reason', 'scheduled-day scenario'], twin.role(OPERATOR));
    expect(rotated).toMatchObject({ code: 0 });
    dayStart = twin.clock.now();
    // Full fidelity around every moment that matters (the rotation's propagation window, each
    // sweep's start at 12:00 and 24:00 UTC, the drill at 00:17); the quiet stretches in between are
    // coalesced (each schedule fires once per stretch: a documented speed-up, not AWS behaviour).
    const at = (h: number, m = 0): number => dayStart + h * HOUR + m * 60_000;
    await twin.advanceTo(at(1));
    await twin.advanceTo(at(11, 55), { coalesce: true });
    await twin.advanceTo(at(12, 5));
    await twin.advanceTo(at(23, 55), { coalesce: true });
    await twin.advanceTo(at(24, 20));
  });

  afterAll(async () => {
    await twin?.close();
  });

  it('lets every request of a day through: no denial, no lost event, no background failure', () => {
    expect(twin.deniedRequests().map((d) => `${d.caller} ${d.action} ${d.reason ?? ''}`)).toEqual([]);
    expect(twin.runtime.lostEvents).toEqual([]);
    expect(twin.backgroundErrors).toEqual([]);
  });

  it('#3/#6: the scheduled sweeps ran as Distributed Maps over AWS item shapes and re-wrapped every record on the versioned bucket (#3, #6)', async () => {
    const executions = twin.stepFunctions.listExecutionArns().map((arn) => twin.stepFunctions.describeExecution(arn));
    expect(executions.length).toBeGreaterThanOrEqual(2);
    expect(executions.map((e) => e.status)).toEqual(executions.map(() => 'SUCCEEDED'));
    const app = openApplication({ role: twin.role(APP), proxyUrl: twin.proxyUrl, region: twin.world.region, clock: twin.clock, catalogBucket: twin.world.outputs.CatalogBucket ?? '', catalogPrefix: twin.world.outputs.CatalogPrefix ?? '', recordBucket: RECORDS, recordPrefix: 'pii/' });
    const versions = new Set<number>();
    for (const id of ids) {
      const record = await app.records.get(id);
      expect(record.plaintext.toString()).toBe(`card ${ids.indexOf(id)}`);
      const stored = await app.store.get(id);
      expect(stored).toBeDefined();
      versions.add(inspectEnvelope(stored?.envelope ?? Buffer.alloc(0)).version);
    }
    // The rotation's version 2 became active after its propagation window and the sweep moved everything to it.
    expect([...versions]).toEqual([2]);
  });

  it('#11: no two sweep schedules start in the same minute, and the map never saw a throttle it could not absorb', () => {
    const sweepFires = twin.scheduler.fired.filter((f) => f.target === twin.world.outputs.SweepStateMachineArn);
    expect(sweepFires.length).toBeGreaterThanOrEqual(2);
    const minutes = sweepFires.map((f) => Math.floor(f.at / 60_000));
    expect(new Set(minutes).size).toBe(minutes.length);
    const failures = twin.stepFunctions.listExecutionArns().flatMap((arn) => twin.stepFunctions.executionRecord(arn).failures);
    expect(failures).toEqual([]);
  });

  it('#7: grace-period read its breaker metrics (GetMetricData allowed) on every tick', () => {
    const grace = twin.fn('grace-period');
    const reads = twin.world.requestLog.filter((r) => r.caller === grace.roleArn && r.action === 'cloudwatch:GetMetricData');
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.allowed && r.status === 200)).toBe(true);
  });

  it('#10: escrow records are locked for the configured 400 days', async () => {
    const s3 = new S3Client({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
    try {
      const bucket = twin.world.outputs.EscrowBucket ?? '';
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (listed.Contents ?? []).map((o) => o.Key ?? '');
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const put = twin.world.requestLog.find((r) => r.action === 's3:PutObject' && r.resources.includes(`arn:aws:s3:::${bucket}/${key}`) && r.allowed);
        expect(put).toBeDefined();
        // moto answers GetObjectRetention with the object body; HeadObject carries the lock headers.
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        expect(head.ObjectLockMode).toBe('COMPLIANCE');
        const until = head.ObjectLockRetainUntilDate?.getTime() ?? 0;
        expect(Math.round((until - (put?.at ?? 0)) / 86_400_000)).toBe(400);
      }
    } finally {
      s3.destroy();
    }
  });

  it('#9: BreakerTripped never flapped, and RotationOverdue can fire at the cadence its metric arrives', () => {
    const breaker = twin.alarms.transitions.filter((t) => t.alarm.includes('BreakerTripped'));
    expect(breaker.filter((t) => t.to === 'ALARM')).toEqual([]);
    expect(breaker.length).toBeLessThanOrEqual(2);
    const graceEvery = 15 * 60;
    for (const alarm of twin.world.alarms.values()) {
      if (!alarm.name.includes('RotationOverdue')) continue;
      expect(canAlarmFire(alarm, graceEvery)).toBe(true);
    }
    // The age metric really flows at that cadence for the keyring that holds records (ops holds none:
    // nothing is referenced, no age is emitted, and the alarm keeps its state).
    const ages = twin.metrics.all().filter((d) => d.name === 'OldestReferencedVersionAge' && d.dimensions.keyring === 'pii' && d.timestamp >= dayStart);
    expect(ages.length).toBeGreaterThanOrEqual(4);
  });
});
