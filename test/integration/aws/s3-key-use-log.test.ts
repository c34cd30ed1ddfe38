import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { S3KeyUseLog } from '../../../shared/adapters/aws/s3-key-use-log';
import { BackendError, ConflictError, ValidationError } from '../../../shared/errors';
import { createBucket, motoS3 } from './moto';

const T = (iso: string): Date => new Date(iso);
const APP = 'arn:aws:sts::123456789012:assumed-role/orders/orders';
const SWEEPER = 'arn:aws:sts::123456789012:assumed-role/Rekey-FnreencryptRole/Rekey-reencrypt';

describe('S3KeyUseLog (moto)', () => {
  const s3 = motoS3();
  let bucket: string;
  let now: Date;
  const log = (options: { startOnRead?: boolean } = {}): S3KeyUseLog => new S3KeyUseLog({ client: s3, bucket, clock: () => now, ...options });

  beforeEach(async () => {
    bucket = await createBucket(s3);
    now = T('2027-03-01T00:00:00Z');
  });

  describe('recordUse', () => {
    it('keeps the latest use per version with its principal, and starts the log at its first write', async () => {
      // Act
      await log().recordUse('pii', 1, { at: T('2027-03-01T10:00:00Z'), by: APP });
      await log().recordUse('pii', 2, { at: T('2027-03-01T11:00:00Z'), by: SWEEPER });
      await log().recordUse('pii', 1, { at: T('2027-03-01T12:00:00Z'), by: SWEEPER });
      // Assess
      expect([...(await log().lastUse('pii'))].sort()).toEqual([
        [1, { at: T('2027-03-01T12:00:00Z'), by: SWEEPER }],
        [2, { at: T('2027-03-01T11:00:00Z'), by: SWEEPER }],
      ]);
      expect(await log().observingSince('pii')).toEqual(now);
      const raw = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'key-use/pii.json' }));
      expect(JSON.parse((await raw.Body?.transformToString()) ?? '')).toMatchObject({ keyring: 'pii', observingSince: '2027-03-01T00:00:00.000Z' });
    });

    it('never moves a time backwards: a replayed or older observation writes nothing', async () => {
      // Prepare
      await log().recordUse('pii', 1, { at: T('2027-03-01T12:00:00Z'), by: APP });
      const before = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'key-use/pii.json' }));
      // Act
      await log().recordUse('pii', 1, { at: T('2027-03-01T09:00:00Z'), by: SWEEPER });
      await log().recordUse('pii', 1, { at: T('2027-03-01T12:00:00Z'), by: SWEEPER });
      // Assess
      const after = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'key-use/pii.json' }));
      expect(after.ETag).toBe(before.ETag);
      expect((await log().lastUse('pii')).get(1)).toEqual({ at: T('2027-03-01T12:00:00Z'), by: APP });
    });

    it('loses no use when many observers write at once (conditional writes, bounded retry)', async () => {
      // Act: 12 concurrent observers, each of its own version, on a log that does not exist yet
      const versions = Array.from({ length: 12 }, (_, i) => i + 1);
      await Promise.all(versions.map((v) => new S3KeyUseLog({ client: s3, bucket, clock: () => now, maxAttempts: 20 }).recordUse('pii', v, { at: T(`2027-03-01T10:00:${String(v).padStart(2, '0')}Z`) })));
      // Assess
      const last = await log().lastUse('pii');
      expect([...last.keys()].sort((a, b) => a - b)).toEqual(versions);
      expect(last.get(7)?.at).toEqual(T('2027-03-01T10:00:07Z'));
    });

    it('throws ValidationError for a bad keyring, version or time and writes nothing', async () => {
      // Act
      const attempts = [
        log().recordUse('Bad Name', 1, { at: now }),
        log().recordUse('pii', 0, { at: now }),
        log().recordUse('pii', 1.5, { at: now }),
        log().recordUse('pii', 1, { at: new Date('nope') }),
      ];
      // Assess
      for (const a of attempts) await expect(a).rejects.toBeInstanceOf(ValidationError);
      expect((await log().lastUse('pii')).size).toBe(0);
      expect(await log().observingSince('pii')).toBeUndefined();
    });
  });

  describe('observingSince', () => {
    it('is undefined for a keyring never observed, unless the reader starts the log (startOnRead)', async () => {
      // Act
      const readOnly = await log().observingSince('ops');
      now = T('2027-03-02T00:00:00Z');
      const started = await log({ startOnRead: true }).observingSince('ops');
      now = T('2027-03-05T00:00:00Z');
      const again = await log({ startOnRead: true }).observingSince('ops');
      // Assess
      expect(readOnly).toBeUndefined();
      expect(started).toEqual(T('2027-03-02T00:00:00Z'));
      expect(again).toEqual(started);
      expect((await log().lastUse('ops')).size).toBe(0);
    });
  });

  describe('a corrupt document', () => {
    it.each([
      ['not JSON', '{'],
      ['another keyring', JSON.stringify({ keyring: 'ops', observingSince: '2027-03-01T00:00:00.000Z', versions: {} })],
      ['a bad version key', JSON.stringify({ keyring: 'pii', observingSince: '2027-03-01T00:00:00.000Z', versions: { x: { at: '2027-03-01T00:00:00.000Z' } } })],
      ['a bad time', JSON.stringify({ keyring: 'pii', observingSince: '2027-03-01T00:00:00.000Z', versions: { 1: { at: 'yesterday' } } })],
    ])('(%s) is a BackendError, never read as silence, and a recordUse does not overwrite it', async (_what, body) => {
      // Prepare
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'key-use/pii.json', Body: body }));
      // Act + Assess
      await expect(log().lastUse('pii')).rejects.toBeInstanceOf(BackendError);
      await expect(log().recordUse('pii', 1, { at: now })).rejects.toBeInstanceOf(BackendError);
      const raw = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'key-use/pii.json' }));
      expect(await raw.Body?.transformToString()).toBe(body);
    });
  });
});

describe('S3KeyUseLog (injected S3 races: what moto cannot stage on demand)', () => {
  it('gives up with a ConflictError after maxAttempts lost races, having written nothing else', async () => {
    // Prepare: every conditional write loses (412 PreconditionFailed)
    const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const mock = mockClient(client);
    mock.on(GetObjectCommand).rejects(Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }));
    mock.on(PutObjectCommand).rejects(Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } }));
    const log = new S3KeyUseLog({ client, bucket: 'b', maxAttempts: 3 });
    // Act
    const err = await log.recordUse('pii', 1, { at: new Date('2027-03-01T00:00:00Z') }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(ConflictError);
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(3);
    expect(mock.commandCalls(PutObjectCommand).every((c) => c.args[0].input.IfNoneMatch === '*')).toBe(true);
  });
});

describe('S3KeyUseLog startOnRead under a role that may not write (injected AccessDenied)', () => {
  it('answers undefined ("cannot say") instead of failing the reader', async () => {
    // Prepare
    const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const mock = mockClient(client);
    mock.on(GetObjectCommand).rejects(Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }));
    mock.on(PutObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    // Act
    const since = await new S3KeyUseLog({ client, bucket: 'b', startOnRead: true }).observingSince('pii');
    // Assess
    expect(since).toBeUndefined();
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(1);
  });
});
