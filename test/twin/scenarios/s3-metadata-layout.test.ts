/**
 * A record target in the metadata layout (cdk.json `recordTargets[].layout: 'metadata'`), as
 * deployed: the application writes 64 KiB records with the header in `x-amz-meta-rekey-header`,
 * plus a few written earlier in the body layout; an operator rotates; the scheduled sweep (the
 * state machine's Distributed Map over AWS's ListObjectsV2 item shape, driving the real reencrypt
 * bundle with the template's environment and role) re-wraps every record.
 *
 * What it proves that moto alone cannot: the template hands the layout to the functions
 * (REKEY_RECORD_TARGETS), the reencrypt role may HEAD and CopyObject its own objects (a copy is
 * s3:GetObject on the source and s3:PutObject on the destination, "Required permissions for
 * Amazon S3 API operations", CopyObject), and the re-wrap moves no body byte: the function's
 * S3 requests for metadata-layout objects are HeadObject and CopyObject alone, and every body is
 * byte-identical afterwards. The body-layout records are moved to the metadata layout by their
 * first re-wrap (one GetObject and PutObject each).
 */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { S3RecordStore } from '../../../shared/adapters/aws/s3-record-store';
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import { parseHeader } from '../../../shared/envelope/format';
import { openApplication, type Application } from '../application';
import { Twin } from '../twin';
import type { TwinSchedule } from '../world';
import { APP_ROLE, OPERATOR_ROLE, RECORD_BUCKET, RECORD_PREFIX, operatorPolicyFromDoc, revocationContext } from './revocation-setup';
import { createRecordBucket, recordBucketPolicy } from './support/app-team';

jest.setTimeout(300_000);

const HOUR = 3_600_000;
const MINUTE = 60_000;
const METADATA_RECORDS = 30;
const BODY_RECORDS = 4;
const RECORD_BYTES = 64 * 1024;
const idOf = (i: number): string => `order-${String(i).padStart(3, '0')}`;
/** Records the application writes in the metadata layout; the others were written in the body layout. */
const METADATA_IDS = new Set(Array.from({ length: METADATA_RECORDS }, (_, i) => idOf(i)));

describe('an S3 record target in the metadata layout, as deployed', () => {
  let twin: Twin;
  let app: Application;
  let admin: S3Client;
  const plaintexts = new Map<string, Buffer>();
  /** Object bodies before the sweep, by id. */
  const bodies = new Map<string, Buffer>();
  let swept: { operation: string; bytesIn: number; bytesOut: number; resources: readonly string[] }[] = [];

  const bodyOf = async (id: string): Promise<Buffer> =>
    Buffer.from(await (await admin.send(new GetObjectCommand({ Bucket: RECORD_BUCKET, Key: `${RECORD_PREFIX}${id}` }))).Body!.transformToByteArray());

  beforeAll(async () => {
    twin = await Twin.standUp({
      context: { ...revocationContext(), recordTargets: [{ keyring: 'pii', bucket: RECORD_BUCKET, prefix: RECORD_PREFIX, layout: 'metadata' }] },
      roles: [{ name: APP_ROLE, policies: [recordBucketPolicy(RECORD_BUCKET, RECORD_PREFIX)] }, { name: OPERATOR_ROLE, policies: [] }],
    });
    twin.role(OPERATOR_ROLE).policies.push(operatorPolicyFromDoc(twin));
    await createRecordBucket(twin, RECORD_BUCKET);
    admin = new S3Client({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
    const options = { role: twin.role(APP_ROLE), proxyUrl: twin.proxyUrl, region: twin.world.region, clock: twin.clock, catalogBucket: twin.world.outputs.CatalogBucket ?? '', catalogPrefix: twin.world.outputs.CatalogPrefix ?? '', recordBucket: RECORD_BUCKET, recordPrefix: RECORD_PREFIX };
    app = openApplication({ ...options, recordLayout: 'metadata' });
    const older = openApplication(options);
    for (let i = 0; i < METADATA_RECORDS + BODY_RECORDS; i++) {
      const id = idOf(i);
      const plaintext = randomBytes(RECORD_BYTES);
      await (i < METADATA_RECORDS ? app : older).records.put(id, 'pii', plaintext);
      plaintexts.set(id, plaintext);
    }
    for (const id of plaintexts.keys()) bodies.set(id, await bodyOf(id));

    const rotated = await twin.cli(['rotate', 'pii', '--reason', 'metadata layout scenario'], twin.role(OPERATOR_ROLE));
    expect(rotated).toMatchObject({ code: 0 });
    await twin.advance(HOUR);
    const sm = twin.world.outputs.SweepStateMachineArn ?? '';
    const schedule = [...twin.world.schedules.values()].find((s) => s.targetArn === sm && s.state === 'ENABLED' && (JSON.parse(s.input ?? '{}') as { bucket?: string }).bucket === RECORD_BUCKET) as TwinSchedule;
    const tick = twin.scheduler.occurrences(schedule, twin.clock.now(), twin.clock.now() + 3 * 24 * HOUR)[0] ?? 0;
    const from = twin.world.requestLog.length;
    await twin.advanceTo(tick + MINUTE, { coalesce: true });
    await twin.settle();
    const role = twin.fn('reencrypt').roleArn;
    swept = twin.world.requestLog.slice(from).filter((r) => r.caller === role && r.service === 's3' && r.resources.some((a) => a.includes(`${RECORD_BUCKET}/${RECORD_PREFIX}`)));
  });

  afterAll(async () => {
    admin?.destroy();
    await twin?.close();
  });

  it('lets every request through and the sweep execution succeeds', () => {
    expect(twin.deniedRequests().map((d) => `${d.caller} ${d.action} ${d.reason ?? ''}`)).toEqual([]);
    expect(twin.backgroundErrors).toEqual([]);
    const executions = twin.stepFunctions.listExecutionArns(twin.world.outputs.SweepStateMachineArn ?? '').map((a) => twin.stepFunctions.describeExecution(a));
    expect(executions.length).toBeGreaterThanOrEqual(1);
    expect(executions.map((e) => e.status)).toEqual(executions.map(() => 'SUCCEEDED'));
  });

  it('hands the layout to the functions through the template environment', () => {
    const targets = JSON.parse(twin.fn('reencrypt').environment.REKEY_RECORD_TARGETS ?? '[]') as { layout?: string }[];
    expect(targets.map((t) => t.layout)).toEqual(['metadata']);
  });

  it('re-wraps every record to the new version, each readable by the application, its body byte-identical', async () => {
    const reader = new S3RecordStore({ client: admin, bucket: RECORD_BUCKET, prefix: RECORD_PREFIX });
    for (const [id, plaintext] of plaintexts) {
      expect((await app.records.get(id)).plaintext.equals(plaintext)).toBe(true);
      const stored = (await reader.get(id))!;
      expect(inspectEnvelope(stored.envelope).version).toBe(2);
      const head = await admin.send(new HeadObjectCommand({ Bucket: RECORD_BUCKET, Key: `${RECORD_PREFIX}${id}` }));
      expect(head.Metadata?.['rekey-header']).toBeDefined();
      const before = bodies.get(id)!;
      // A metadata-layout record keeps its body; a body-layout one loses only its header (now in the metadata).
      const kept = METADATA_IDS.has(id) ? before : before.subarray(parseHeader(before).headerLength);
      expect((await bodyOf(id)).equals(kept)).toBe(true);
    }
  });

  it('moves no body byte for a metadata-layout record: HeadObject and CopyObject alone, and reads only the body-layout ones', () => {
    const metadataKeys = [...METADATA_IDS].map((id) => `${RECORD_PREFIX}${id}`);
    const ofMetadata = swept.filter((r) => r.resources.some((a) => metadataKeys.some((k) => a.endsWith(`/${k}`))));
    expect([...new Set(ofMetadata.map((r) => r.operation))].sort()).toEqual(['CopyObject', 'HeadObject']);
    expect(ofMetadata.filter((r) => r.operation === 'CopyObject')).toHaveLength(METADATA_RECORDS);
    // Request and response bodies of the copies are a few hundred bytes of XML, far below one record.
    const moved = ofMetadata.reduce((n, r) => n + r.bytesIn + r.bytesOut, 0);
    expect(moved / METADATA_RECORDS).toBeLessThan(RECORD_BYTES / 16);
    const ofBody = swept.filter((r) => !ofMetadata.includes(r));
    expect(ofBody.filter((r) => r.operation === 'PutObject')).toHaveLength(BODY_RECORDS);
    expect(ofBody.filter((r) => r.operation === 'CopyObject')).toHaveLength(0);
  });
});
