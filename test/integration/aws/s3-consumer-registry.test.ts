import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3ConsumerRegistry } from '../../../shared/adapters/aws/s3-consumer-registry';
import type { ConsumerDocument } from '../../../shared/consumers/consumer-document';
import { BackendError, ConflictError, ValidationError } from '../../../shared/errors';
import { createBucket, motoS3 } from './moto';

const at = '2030-01-01T00:00:00.000Z';
const consumer = (name: string) => ({ principalArn: `arn:aws:iam::111122223333:role/${name}`, access: 'decrypt' as const, addedAt: at, addedBy: 'cli:alice' });
const doc = (keyring: string, ...names: string[]): ConsumerDocument => ({ schema: 1, keyring, consumers: names.map(consumer) });

describe('S3ConsumerRegistry (moto)', () => {
  const s3 = motoS3();
  let bucket: string;
  let registry: S3ConsumerRegistry;

  beforeEach(async () => {
    bucket = await createBucket(s3);
    registry = new S3ConsumerRegistry({ client: s3, bucket });
  });

  describe('put / get', () => {
    it('creates consumers/<keyring>.json with If-None-Match and reads it back with its ETag', async () => {
      // Act
      const revision = await registry.put(doc('pii', 'orders'), null);
      const read = await registry.get('pii');
      // Assess
      expect(read).toEqual({ document: doc('pii', 'orders'), revision });
      const raw = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'consumers/pii.json' }));
      expect(JSON.parse(await raw.Body?.transformToString('utf8') ?? '')).toEqual(doc('pii', 'orders'));
    });

    it('is undefined for a keyring without a document', async () => {
      // Act / Assess
      expect(await registry.get('pii')).toBeUndefined();
    });

    it('throws ConflictError (retryable) when creating a document that already exists', async () => {
      // Prepare
      await registry.put(doc('pii', 'orders'), null);
      // Act
      const second = registry.put(doc('pii', 'billing'), null);
      // Assess
      await expect(second).rejects.toBeInstanceOf(ConflictError);
      await expect(second).rejects.toMatchObject({ retryable: true });
      expect((await registry.get('pii'))?.document).toEqual(doc('pii', 'orders'));
    });

    it('lets exactly one of several writers with the same revision win (a lost CAS race)', async () => {
      // Prepare
      const base = await registry.put(doc('pii'), null);
      const writers = ['a', 'b', 'c', 'd'].map((n) => doc('pii', n));
      // Act
      const results = await Promise.allSettled(writers.map((d) => registry.put(d, base)));
      // Assess
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(3);
      expect(lost.every((r) => r.reason instanceof ConflictError)).toBe(true);
      const winner = writers[results.findIndex((r) => r.status === 'fulfilled')];
      expect((await registry.get('pii'))?.document).toEqual(winner);
    });

    it('throws ConflictError for a stale revision and for one of a document that no longer exists', async () => {
      // Prepare
      const first = await registry.put(doc('pii'), null);
      await registry.put(doc('pii', 'a'), first);
      // Act
      const stale = registry.put(doc('pii', 'b'), first);
      const gone = registry.put(doc('ops', 'b'), '"0123456789abcdef0123456789abcdef"');
      // Assess
      // Both expectations attach at once: the second promise may reject while the first is awaited.
      await Promise.all([expect(stale).rejects.toBeInstanceOf(ConflictError), expect(gone).rejects.toBeInstanceOf(ConflictError)]);
    });

    it('throws ValidationError before writing an invalid document', async () => {
      // Act
      const bad = registry.put({ schema: 1, keyring: 'pii', consumers: [{ ...consumer('x'), principalArn: 'arn:aws:iam::111122223333:role/*' }] }, null);
      // Assess
      await expect(bad).rejects.toBeInstanceOf(ValidationError);
      expect(await registry.get('pii')).toBeUndefined();
    });
  });

  describe('bounded, validated reads', () => {
    it('throws a non-retryable BackendError for a document over the size bound, without parsing it', async () => {
      // Prepare
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'consumers/pii.json', Body: Buffer.alloc(2 * 1024 * 1024 + 1, 0x20) }));
      // Act
      const read = registry.get('pii');
      // Assess
      await expect(read).rejects.toBeInstanceOf(BackendError);
      await expect(read).rejects.toThrow(/larger than 2097152 bytes/);
    });

    it('throws a non-retryable BackendError for a hand-edited document with a wildcard principal', async () => {
      // Prepare
      const planted = { schema: 1, keyring: 'pii', consumers: [{ ...consumer('x'), principalArn: 'arn:aws:iam::111122223333:role/*' }] };
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'consumers/pii.json', Body: JSON.stringify(planted) }));
      // Act
      const read = registry.get('pii');
      // Assess
      await expect(read).rejects.toMatchObject({ code: 'BACKEND', retryable: false });
    });
  });

  describe('list', () => {
    it('lists the keyrings with a document, ignoring other objects under consumers/ and the catalog', async () => {
      // Prepare
      await registry.put(doc('pii'), null);
      await registry.put(doc('ops'), null);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'consumers/README.txt', Body: 'x' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/billing.json', Body: '{}' }));
      // Act / Assess
      expect(await registry.list()).toEqual(['ops', 'pii']);
    });
  });
});
