import { GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import { createReencryptHandler } from '../../../functions/reencrypt/handler';
import { createHarness, lambdaContext, motoClients, putRecords, type Harness } from './support/harness';

const POLICY = { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 86_400, retentionSeconds: 300 };

async function rotateToV2(h: Harness): Promise<void> {
  const grace = createGracePeriodHandler(h.deps);
  for (const step of [3601, 61]) {
    h.advance(step);
    await grace({ keyring: h.keyring }, lambdaContext());
  }
}

async function versionsOf(h: Harness, keys: string[]): Promise<number[]> {
  const store = h.services.recordTargets[0]!.store;
  const out: number[] = [];
  for (const key of keys) out.push((await store.get(key.slice(h.dataPrefix.length)))!.version);
  return out;
}

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });
}

describe('reencrypt function (moto KMS + S3)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe('Distributed Map batch', () => {
    it('re-wraps every listed record to the active version, and a retried batch skips them all', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      const keys = await putRecords(h, 3);
      await rotateToV2(h);
      const handler = createReencryptHandler(h.deps);
      const event = { BatchInput: { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'rewrap' }, Items: keys.map((Key) => ({ Key })) };
      // Act
      const first = await handler(event, lambdaContext());
      const again = await handler(event, lambdaContext());
      // Assess
      expect(first).toMatchObject({ ok: true, counts: { done: 3, skipped: 0, failed: 0 } });
      expect(again).toMatchObject({ ok: true, counts: { done: 0, skipped: 3, failed: 0 } });
      expect((again as unknown as { results: Array<{ reason: string }> }).results.map((r) => r.reason)).toEqual(Array(3).fill('already at the active version'));
      expect(await versionsOf(h, keys)).toEqual([2, 2, 2]);
      const store = h.services.recordTargets[0]!.store;
      const opened = await h.services.envelopes.decrypt((await store.get('rec-1'))!.envelope);
      expect(opened.plaintext.toString()).toBe('payload 1');
      expect(h.metrics.values('SweepItemsDone', { keyring: h.keyring })).toEqual([3, 0]);
    });

    it('skips an object that no longer exists', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      const keys = await putRecords(h, 1);
      await rotateToV2(h);
      // Act
      const out = await createReencryptHandler(h.deps)(
        { BatchInput: { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'reencrypt', version: 1 }, Items: [{ Key: keys[0] }, { Key: `${h.dataPrefix}gone` }] },
        lambdaContext(),
      );
      // Assess
      expect(out).toMatchObject({ ok: true, counts: { done: 1, skipped: 1 }, results: [{ status: 'done' }, { status: 'skipped', reason: 'gone' }] });
    });
  });

  describe('S3 Batch Operations', () => {
    it('answers each task with Succeeded, and a task outside every record target with PermanentFailure', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      const keys = await putRecords(h, 2);
      await rotateToV2(h);
      const event = {
        invocationSchemaVersion: '2.0',
        invocationId: 'inv-1',
        job: { id: 'job-1', userArguments: { keyring: h.keyring, mode: 'reencrypt' } },
        tasks: [
          ...keys.map((k, i) => ({ taskId: `t${i}`, s3Key: encodeURIComponent(k), s3VersionId: null, s3Bucket: h.buckets.data })),
          { taskId: 'tx', s3Key: 'elsewhere/x', s3VersionId: null, s3Bucket: h.buckets.data },
        ],
      };
      // Act
      const out = await createReencryptHandler(h.deps)(event, lambdaContext());
      // Assess
      expect(out).toEqual({
        invocationSchemaVersion: '1.0',
        treatMissingKeysAs: 'PermanentFailure',
        invocationId: 'inv-1',
        results: [
          { taskId: 't0', resultCode: 'Succeeded', resultString: 'done' },
          { taskId: 't1', resultCode: 'Succeeded', resultString: 'done' },
          { taskId: 'tx', resultCode: 'PermanentFailure', resultString: 'not a configured record target' },
        ],
      });
      expect(await versionsOf(h, keys)).toEqual([2, 2]);
    });
  });

  describe('partial failures (aws-sdk-client-mock over moto)', () => {
    // The services' S3 client is mocked; every call is forwarded to moto except the injected faults.
    function forwardingS3(): { client: S3Client; mock: ReturnType<typeof mockClient> } {
      const real = motoClients().s3;
      const client = new S3Client({ region: 'us-east-1' });
      const mock = mockClient(client);
      // A command nobody forwards fails loudly (a bare mock answers undefined, which no S3 call returns).
      mock.onAnyCommand().rejects(new Error('forwardingS3: this S3 command is not forwarded to moto; add it'));
      mock.on(GetObjectCommand).callsFake((input) => real.send(new GetObjectCommand(input)));
      // The revocation ledger's read (every catalog read on AWS overlays its marks).
      mock.on(ListObjectVersionsCommand).callsFake((input) => real.send(new ListObjectVersionsCommand(input)));
      mock.on(HeadObjectCommand).callsFake((input) => real.send(new HeadObjectCommand(input)));
      mock.on(ListObjectsV2Command).callsFake((input) => real.send(new ListObjectsV2Command(input)));
      mock.on(PutObjectCommand).callsFake((input) => real.send(new PutObjectCommand(input)));
      return { client, mock };
    }

    it('reports access denied on one object as a permanent failure and migrates the rest', async () => {
      // Prepare
      const { client, mock } = forwardingS3();
      h = await createHarness({ policy: POLICY, clients: { s3: client } });
      const keys = await putRecords(h, 3);
      await rotateToV2(h);
      mock.on(PutObjectCommand, { Key: keys[1] }).rejects(s3Error('AccessDenied', 403));
      // Act
      const out = await createReencryptHandler(h.deps)(
        { BatchInput: { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'rewrap' }, Items: keys.map((Key) => ({ Key })) },
        lambdaContext(),
      );
      // Assess
      expect(out).toMatchObject({ ok: false, counts: { done: 2, skipped: 0, failed: 1 } });
      expect((out as unknown as { results: unknown[] }).results[1]).toMatchObject({ key: keys[1], status: 'failed', retryable: false });
      expect(await versionsOf(h, keys)).toEqual([2, 1, 2]);
    });

    it('rethrows a throttling storm as retryable for Step Functions, and the retried batch completes', async () => {
      // Prepare
      const { client, mock } = forwardingS3();
      h = await createHarness({ policy: POLICY, clients: { s3: client } });
      const keys = await putRecords(h, 3);
      await rotateToV2(h);
      const handler = createReencryptHandler(h.deps);
      const event = { BatchInput: { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'rewrap' }, Items: keys.map((Key) => ({ Key })) };
      mock.on(PutObjectCommand, { Key: keys[0] }).rejects(s3Error('SlowDown', 503));
      mock.on(PutObjectCommand, { Key: keys[2] }).rejects(s3Error('SlowDown', 503));
      // Act
      const storm = await handler(event, lambdaContext()).catch((err: unknown) => err);
      mock.on(PutObjectCommand, { Key: keys[0] }).callsFake((input) => motoClients().s3.send(new PutObjectCommand(input)));
      mock.on(PutObjectCommand, { Key: keys[2] }).callsFake((input) => motoClients().s3.send(new PutObjectCommand(input)));
      const retried = await handler(event, lambdaContext());
      // Assess
      expect(storm).toMatchObject({ code: 'THROTTLED', retryable: true });
      expect(retried).toMatchObject({ ok: true, counts: { done: 2, skipped: 1, failed: 0 } });
      expect(await versionsOf(h, keys)).toEqual([2, 2, 2]);
    });

    it('answers throttled tasks of S3 Batch Operations with TemporaryFailure', async () => {
      // Prepare
      const { client, mock } = forwardingS3();
      h = await createHarness({ policy: POLICY, clients: { s3: client } });
      const keys = await putRecords(h, 2);
      await rotateToV2(h);
      mock.on(PutObjectCommand, { Key: keys[0] }).rejects(s3Error('SlowDown', 503));
      // Act
      const out = await createReencryptHandler(h.deps)(
        {
          invocationSchemaVersion: '1.0',
          invocationId: 'inv-2',
          job: { id: 'job-2' },
          tasks: keys.map((k, i) => ({ taskId: `t${i}`, s3Key: k, s3BucketArn: `arn:aws:s3:::${h.buckets.data}` })),
        },
        lambdaContext(),
      );
      // Assess
      expect((out as unknown as { results: Array<{ resultCode: string }> }).results.map((r) => r.resultCode)).toEqual(['TemporaryFailure', 'Succeeded']);
    });
  });
});
