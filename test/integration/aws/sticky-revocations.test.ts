/**
 * Sticky revocations on moto: the S3 catalog store under the revocation ledger (Object Lock
 * bucket). A role that writes a revoked version back to active must change nothing for readers,
 * for the lifecycle's writers, nor for the grant plan.
 */
import { CreateKeyCommand, ListGrantsCommand } from '@aws-sdk/client-kms';
import { KmsGrantStore } from '../../../shared/adapters/aws/kms-grant-store';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import { S3RevocationLedger } from '../../../shared/adapters/aws/s3-revocation-ledger';
import type { Catalog, KeyVersion, VersionState } from '../../../shared/catalog/model';
import { applyTransition } from '../../../shared/catalog/lifecycle';
import { applyRevocationMarks, StickyRevocationCatalogStore } from '../../../shared/catalog/sticky-revocations';
import { IllegalTransitionError } from '../../../shared/errors';
import type { RevocationMark } from '../../../shared/ports/revocation-ledger';
import { reconcileKeyAccess } from '../../../shared/usecases/key-access';
import { catalogOf, createBucket, motoKms, motoS3 } from './moto';

const AT = '2026-01-01T00:00:00.000Z';
const APP = 'arn:aws:iam::123456789012:role/app';

function versionOf(version: number, state: VersionState, extra: Partial<KeyVersion> = {}): KeyVersion {
  const stamps: Partial<KeyVersion> =
    state === 'active' ? { activatedAt: AT } : state === 'rotating' ? { activatedAt: AT, rotatingAt: AT } : state === 'deprecated' ? { activatedAt: AT, rotatingAt: AT, deprecatedAt: AT } : {};
  return { version, state, wrappedKey: Buffer.alloc(32, version).toString('base64'), wrappingKeyId: 'k', createdAt: AT, ...stamps, ...extra };
}

function markOf(version: number): RevocationMark {
  return { keyring: 'pii', version, at: '2026-02-01T00:00:00.000Z', reason: 'SEC-42', actor: 'arn:aws:iam::123456789012:role/security' };
}

describe('applyRevocationMarks', () => {
  it('revokes a marked version the document shows readable, keeping its other fields', () => {
    // Prepare
    const catalog = catalogOf('pii', [versionOf(1, 'deprecated'), versionOf(2, 'active')]);
    // Act
    const read = applyRevocationMarks(catalog, new Map([[1, markOf(1)]]));
    // Assess
    expect(read.versions[0]).toEqual({ ...catalog.versions[0], state: 'revoked', revokedAt: markOf(1).at, revokedReason: 'SEC-42', revokedBy: markOf(1).actor });
    expect(read.versions[1]).toBe(catalog.versions[1]);
  });

  it.each<VersionState>(['pending', 'active', 'rotating', 'deprecated'])('never serves a marked %s version as readable', (state) => {
    const read = applyRevocationMarks(catalogOf('pii', [versionOf(1, state)]), new Map([[1, markOf(1)]]));
    expect(read.versions[0]?.state).toBe('revoked');
  });

  it('keeps a marked disabled version disabled and puts back the revokedAt it lost (re-enable then refuses it)', () => {
    // Prepare
    const catalog = catalogOf('pii', [versionOf(1, 'disabled', { disabledAt: AT }), versionOf(2, 'active')]);
    // Act
    const read = applyRevocationMarks(catalog, new Map([[1, markOf(1)]]));
    // Assess
    expect(read.versions[0]).toMatchObject({ state: 'disabled', disabledAt: AT, revokedAt: markOf(1).at });
  });

  it('returns the catalog itself when no mark changes anything', () => {
    const catalog = catalogOf('pii', [versionOf(1, 'revoked', { revokedAt: AT, revokedReason: 'x' }), versionOf(2, 'active')]);
    expect(applyRevocationMarks(catalog, new Map([[1, markOf(1)], [9, markOf(9)]]))).toBe(catalog);
    expect(applyRevocationMarks(catalog, new Map())).toBe(catalog);
  });
});

describe('StickyRevocationCatalogStore (moto S3 catalog + Object Lock ledger)', () => {
  const s3 = motoS3();
  let documents: S3CatalogStore;
  let ledger: S3RevocationLedger;
  let sticky: StickyRevocationCatalogStore;

  beforeEach(async () => {
    documents = new S3CatalogStore({ client: s3, bucket: await createBucket(s3) });
    ledger = new S3RevocationLedger({ client: s3, bucket: await createBucket(s3, { objectLock: true }), retentionDays: 1 });
    sticky = new StickyRevocationCatalogStore({ store: documents, ledger });
  });

  describe('get', () => {
    it('reads a marked version as revoked after a role wrote the document back to rotating', async () => {
      // Prepare: revoked v1, then edited back by a writer role straight into S3.
      await ledger.mark(markOf(1));
      await documents.put(catalogOf('pii', [versionOf(1, 'rotating'), versionOf(2, 'active')]), null);
      // Act
      const read = await sticky.get('pii');
      const raw = await new StickyRevocationCatalogStore({ store: documents, ledger, reads: 'raw' }).get('pii');
      // Assess
      expect(read?.catalog.versions.map((v) => v.state)).toEqual(['revoked', 'active']);
      expect(raw?.catalog.versions.map((v) => v.state)).toEqual(['rotating', 'active']);
      expect(read?.etag).toBe(raw?.etag);
    });

    it('in raw mode (the revocation) applies every mark but the newest: an earlier revoked version edited back never blocks a later revocation', async () => {
      // Prepare: v1 revoked long ago and written back to deprecated by a writer role; v3 is being
      // revoked now (marked first, as the revocation does, the document not yet written).
      await ledger.mark(markOf(1));
      await ledger.mark({ ...markOf(3), at: '2026-03-01T00:00:00.000Z' });
      await documents.put(catalogOf('pii', [versionOf(1, 'deprecated'), versionOf(2, 'rotating'), versionOf(3, 'active')]), null);
      const raw = new StickyRevocationCatalogStore({ store: documents, ledger, reads: 'raw' });
      // Act
      const read = await raw.get('pii');
      const revoked = applyTransition(
        read?.catalog as Catalog,
        { kind: 'revoke', version: 3, reason: 'SEC-43', replacement: { version: 4, key: { wrappedKey: Buffer.alloc(32, 4).toString('base64'), wrappingKeyId: 'k' } } },
        new Date('2026-03-01T00:00:01.000Z'),
      );
      await raw.put({ ...revoked, generation: 2 }, read?.etag ?? null);
      // Assess: v3 was readable for the revocation to revoke it; the write repaired v1 too.
      expect(read?.catalog.versions.map((v) => v.state)).toEqual(['revoked', 'rotating', 'active']);
      expect((await documents.get('pii'))?.catalog.versions.map((v) => v.state)).toEqual(['revoked', 'rotating', 'revoked', 'active']);
    });

    it('is undefined for a keyring without a catalog', async () => {
      await ledger.mark(markOf(1));
      expect(await sticky.get('pii')).toBeUndefined();
    });
  });

  describe('put', () => {
    it('throws IllegalTransitionError for a write that makes a marked version readable, and writes nothing', async () => {
      // Prepare
      const etag = await documents.put(catalogOf('pii', [versionOf(1, 'revoked', { revokedAt: AT }), versionOf(2, 'active')]), null);
      await ledger.mark(markOf(1));
      // Act
      const attempt = sticky.put(catalogOf('pii', [versionOf(1, 'deprecated'), versionOf(2, 'active')], 2), etag);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(IllegalTransitionError);
      await expect(attempt).rejects.toThrow(/version 1 is revoked in the revocation ledger/);
      expect((await documents.get('pii'))?.etag).toBe(etag);
    });

    it('writes an overlaid read back as revoked: the first write repairs a tampered document', async () => {
      // Prepare
      await ledger.mark(markOf(1));
      await documents.put(catalogOf('pii', [versionOf(1, 'deprecated'), versionOf(2, 'active')]), null);
      const read = await sticky.get('pii');
      // Act
      await sticky.put({ ...(read?.catalog as Catalog), generation: 2 }, read?.etag ?? null);
      // Assess
      expect((await documents.get('pii'))?.catalog.versions[0]).toMatchObject({ state: 'revoked', revokedReason: 'SEC-42' });
    });
  });

  describe('grant plan (key-access over moto KMS)', () => {
    it('creates no grant for a marked version whatever the catalog says, on every run', async () => {
      // Prepare
      const kms = motoKms();
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
      await ledger.mark(markOf(1));
      await documents.put(catalogOf('pii', [versionOf(1, 'rotating'), versionOf(2, 'active')]), null);
      const services = { grants: new KmsGrantStore({ client: kms }), catalogs: documents, ledger, keyringKeys: { pii: keyId }, grantees: { pii: [APP] }, catalogPrefix: 'catalog/' };
      // Act: two runs (a catalog write, then the schedule's backstop).
      const first = await reconcileKeyAccess({ keyrings: ['pii'] }, services);
      const second = await reconcileKeyAccess({ keyrings: ['pii'] }, services);
      const grants = await kms.send(new ListGrantsCommand({ KeyId: keyId }));
      // Assess
      expect(first).toEqual([{ keyring: 'pii', created: 1, revoked: 0 }]);
      expect(second).toEqual([{ keyring: 'pii', created: 0, revoked: 0 }]);
      expect((grants.Grants ?? []).map((g) => g.Constraints?.EncryptionContextEquals?.['version'])).toEqual(['2']);
    });

    it('would have granted the marked version without the ledger (the defect: grants followed the document)', async () => {
      const kms = motoKms();
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
      await ledger.mark(markOf(1));
      await documents.put(catalogOf('pii', [versionOf(1, 'rotating'), versionOf(2, 'active')]), null);
      const run = await reconcileKeyAccess({ keyrings: ['pii'] }, { grants: new KmsGrantStore({ client: kms }), catalogs: documents, keyringKeys: { pii: keyId }, grantees: { pii: [APP] }, catalogPrefix: 'catalog/' });
      expect(run).toEqual([{ keyring: 'pii', created: 2, revoked: 0 }]);
    });
  });
});
