import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import type { Catalog } from '../../../shared/catalog/model';
import { BackendError, ConflictError, ValidationError } from '../../../shared/errors';
import { catalogOf, createBucket, motoS3 } from './moto';

const v1 = { version: 1, state: 'active' as const, wrappedKey: Buffer.alloc(48, 1).toString('base64'), wrappingKeyId: 'arn:aws:kms:us-east-1:123456789012:key/k1', createdAt: '2026-01-01T00:00:00.000Z' };
const v2 = { ...v1, version: 2, state: 'pending' as const, wrappedKey: Buffer.alloc(48, 2).toString('base64') };

function next(c: Catalog, patch: Partial<Catalog> = {}): Catalog {
  return { ...c, generation: c.generation + 1, ...patch };
}

describe('S3CatalogStore (moto)', () => {
  const s3 = motoS3();
  let bucket: string;
  let store: S3CatalogStore;

  beforeEach(async () => {
    bucket = await createBucket(s3);
    store = new S3CatalogStore({ bucket, client: s3 });
  });

  describe('put', () => {
    it('creates a catalog when expectedEtag is null and returns the tag get reports', async () => {
      // Prepare
      const catalog = catalogOf('payments', [v1]);
      // Act
      const etag = await store.put(catalog, null);
      const read = await store.get('payments');
      // Assess
      expect(read?.etag).toBe(etag);
      expect(read?.catalog).toEqual(catalog);
    });

    it('throws ConflictError when creating a catalog that already exists', async () => {
      // Prepare
      const catalog = catalogOf('payments', [v1]);
      await store.put(catalog, null);
      // Act
      const second = store.put(next(catalog), null);
      // Assess
      await expect(second).rejects.toBeInstanceOf(ConflictError);
      expect((await store.get('payments'))?.catalog.generation).toBe(1);
    });

    it('replaces the catalog when expectedEtag is current, and refuses the stale tag afterwards', async () => {
      // Prepare
      const first = catalogOf('payments', [v1]);
      const etag1 = await store.put(first, null);
      // Act
      const etag2 = await store.put(next(first, { versions: [v1, v2] }), etag1);
      const stale = store.put(next(first, { generation: 99 }), etag1);
      // Assess
      expect(etag2).not.toBe(etag1);
      await expect(stale).rejects.toBeInstanceOf(ConflictError);
      const read = await store.get('payments');
      expect(read?.catalog.versions.map((v) => v.version)).toEqual([1, 2]);
      expect(read?.etag).toBe(etag2);
    });

    it('lets exactly one of several concurrent writers with the same expected tag win', async () => {
      // Prepare
      const base = catalogOf('payments', [v1]);
      const etag = await store.put(base, null);
      const writers = [2, 3, 4, 5, 6].map((g) => next(base, { generation: g }));
      // Act
      const results = await Promise.allSettled(writers.map((c) => store.put(c, etag)));
      // Assess
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost.every((r) => r.reason instanceof ConflictError)).toBe(true);
      const winner = writers[results.findIndex((r) => r.status === 'fulfilled')];
      expect((await store.get('payments'))?.catalog.generation).toBe(winner?.generation);
    });

    it('throws ConflictError when updating a catalog that does not exist', async () => {
      // Act
      const attempt = store.put(catalogOf('ghost', [v1]), '"0123456789abcdef0123456789abcdef"');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    });

    it('throws ValidationError for an invalid catalog and writes nothing', async () => {
      // Prepare
      const bad = { ...catalogOf('payments', [v1]), schema: 2 } as unknown as Catalog;
      // Act
      const attempt = store.put(bad, null);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(await store.get('payments')).toBeUndefined();
    });
  });

  describe('get', () => {
    it('returns undefined for a keyring without a catalog', async () => {
      // Act
      const read = await store.get('nothing-here');
      // Assess
      expect(read).toBeUndefined();
    });

    it('throws BackendError when the stored document is not a catalog', async () => {
      // Prepare
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/broken.json', Body: '{"schema":1,"keyring":"broken"' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/shape.json', Body: JSON.stringify({ schema: 1, keyring: 'shape' }) }));
      // Act
      // Both settle together: a second pending rejection must not be left without a handler.
      const [truncated, wrongShape] = await Promise.allSettled([store.get('broken'), store.get('shape')]);
      // Assess
      expect(truncated).toMatchObject({ status: 'rejected', reason: expect.any(BackendError) });
      expect(wrongShape).toMatchObject({ status: 'rejected', reason: expect.any(BackendError) });
      expect((truncated as PromiseRejectedResult).reason).toMatchObject({ retryable: false });
    });

    it('throws BackendError when the document names another keyring', async () => {
      // Prepare
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/alpha.json', Body: JSON.stringify(catalogOf('beta', [v1])) }));
      // Act
      const attempt = store.get('alpha');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(BackendError);
    });

    it('throws ValidationError for a keyring name that cannot be a key', async () => {
      // Act
      const attempt = store.get('../escape');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('list', () => {
    it('returns the sorted keyring names and ignores objects that are not catalogs', async () => {
      // Prepare
      for (const name of ['zeta', 'alpha', 'mid.dle']) await store.put(catalogOf(name, [v1]), null);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/README.txt', Body: 'x' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/nested/deep.json', Body: '{}' }));
      // Act
      const names = await store.list();
      // Assess
      expect(names).toEqual(['alpha', 'mid.dle', 'zeta']);
    });
  });

  describe('history', () => {
    it('keeps every revision, newest first, each readable with getVersion', async () => {
      // Prepare
      const c1 = catalogOf('payments', [v1]);
      const e1 = await store.put(c1, null);
      const c2 = next(c1, { versions: [v1, v2] });
      const e2 = await store.put(c2, e1);
      const c3 = next(c2);
      const e3 = await store.put(c3, e2);
      await store.put(catalogOf('payments.json', [v1]), null);
      // Act
      const history = await store.history('payments');
      const oldest = await store.getVersion('payments', history[2]!.versionId);
      // Assess
      expect(history.map((h) => h.etag)).toEqual([e3, e2, e1]);
      expect(history[0]?.isLatest).toBe(true);
      expect(oldest?.catalog).toEqual(c1);
      const raw = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'catalog/payments.json', VersionId: history[1]!.versionId }));
      expect(JSON.parse(await raw.Body!.transformToString()).generation).toBe(c2.generation);
    });
  });
});
