import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { scratchDir } from '../../support/scratch';
import { KmsKeyVault } from '../../../shared/adapters/aws/kms-key-vault';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import { S3EscrowStore } from '../../../shared/adapters/aws/s3-escrow-store';
import { FileEscrowStore } from '../../../shared/adapters/local/file-escrow-store';
import type { KeyVersion } from '../../../shared/catalog/model';
import {
  AlreadyExistsError,
  DecryptError,
  NotFoundError,
  RevokedVersionError,
  UnknownKeyringError,
  UnknownVersionError,
  ValidationError,
  VersionUnavailableError,
} from '../../../shared/errors';
import { EscrowService, keyCheckValue, restoreFromRsa, type EscrowStore } from '../../../shared/escrow';
import type { EncryptionContext, KeyVault } from '../../../shared/ports/key-vault';

/** A real vault that also notes the version of every unwrap it serves (a decorator, not a stub). */
function countingVault(inner: KeyVault): KeyVault & { unwraps: string[] } {
  const unwraps: string[] = [];
  return {
    kind: inner.kind,
    unwraps,
    generateKey: (context: EncryptionContext, id?: string) => inner.generateKey(context, id),
    wrap: (plaintext: Buffer, context: EncryptionContext, id?: string) => inner.wrap(plaintext, context, id),
    unwrap: (wrapped: Buffer, context: EncryptionContext, id?: string) => {
      unwraps.push(context['version'] ?? '');
      return inner.unwrap(wrapped, context, id);
    },
  };
}
import { catalogOf, createBucket, createKmsKey, motoKms, motoS3 } from './moto';

describe('EscrowService (moto KMS + S3)', () => {
  const kms = motoKms();
  const s3 = motoS3();
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  let mainKey: string;
  let escrowKey: string;
  let vault: KmsKeyVault;
  let catalogs: S3CatalogStore;
  let keys: Map<number, Buffer>;
  const homes: string[] = [];

  async function tempHome(): Promise<string> {
    const home = scratchDir('rekey-escrow-');
    homes.push(home);
    return home;
  }

  afterEach(async () => {
    for (const home of homes.splice(0)) await rm(home, { recursive: true, force: true });
  });

  beforeEach(async () => {
    mainKey = await createKmsKey(kms);
    escrowKey = await createKmsKey(kms);
    vault = new KmsKeyVault({ client: kms, defaultKeyId: mainKey });
    catalogs = new S3CatalogStore({ bucket: await createBucket(s3), client: s3 });
    keys = new Map();
    const versions: KeyVersion[] = [];
    const states = ['deprecated', 'active', 'destroyed', 'pending'] as const;
    for (const [i, state] of states.entries()) {
      const version = i + 1;
      const generated = await vault.generateKey({ keyring: 'payments', version: String(version) });
      keys.set(version, generated.plaintext);
      versions.push({
        version,
        state,
        wrappingKeyId: generated.wrappingKeyId,
        createdAt: now.toISOString(),
        ...(state === 'destroyed' ? { destroyedAt: now.toISOString() } : { wrappedKey: generated.wrapped.toString('base64') }),
      });
    }
    await catalogs.put(catalogOf('payments', versions), null);
  });

  async function s3Store(): Promise<S3EscrowStore> {
    return new S3EscrowStore({ bucket: await createBucket(s3, { objectLock: true }), client: s3, retentionDays: 1, clock: () => now });
  }

  function service(store: EscrowStore, extra: { rsaPublicKeyPem?: string } = {}): EscrowService {
    return new EscrowService({ store, catalogs, vault, escrowVault: vault, escrowWrappingKeyId: escrowKey, clock: () => now, ...extra });
  }

  describe('archive', () => {
    it('escrows the version key under the separate escrow key and context only', async () => {
      // Prepare
      const store = await s3Store();
      const escrow = service(store);
      // Act
      const result = await escrow.archive('payments', 2);
      // Assess
      const record = await store.get('payments', 2);
      expect(result).toEqual({ keyring: 'payments', version: 2, created: true, escrowKeyId: escrowKey, createdAt: now.toISOString(), offlineCopy: false });
      const wrapped = Buffer.from(record!.wrappedKey, 'base64');
      const unwrapped = await vault.unwrap(wrapped, { keyring: 'payments', version: '2', purpose: 'escrow' }, escrowKey);
      expect(unwrapped.equals(keys.get(2)!)).toBe(true);
      await expect(vault.unwrap(wrapped, { keyring: 'payments', version: '2' }, escrowKey)).rejects.toBeInstanceOf(DecryptError);
      expect(record!.wrappingKeyId).toBe(mainKey);
      expect(JSON.stringify(record)).not.toContain(keys.get(2)!.toString('base64'));
    });

    it('is idempotent: a second archive writes nothing and reports created false', async () => {
      // Prepare
      const store = await s3Store();
      const escrow = service(store);
      const first = await escrow.archive('payments', 1);
      // Act
      const again = await escrow.archive('payments', 1);
      // Assess
      expect(first.created).toBe(true);
      expect(again).toEqual({ ...first, created: false });
      expect(await store.list('payments')).toEqual([1]);
    });

    it('lets concurrent archives of one version write one record and all succeed', async () => {
      // Prepare
      const store = await s3Store();
      const escrow = service(store);
      // Act
      const results = await Promise.all([1, 2, 3].map(() => escrow.archive('payments', 4)));
      // Assess
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(await store.list('payments')).toEqual([4]);
    });

    it('throws AlreadyExistsError when the existing record holds another key', async () => {
      // Prepare
      const home = await tempHome();
      const store = new FileEscrowStore({ home });
      const escrow = service(store);
      await escrow.archive('payments', 1);
      await escrow.archive('payments', 2);
      const one = await store.get('payments', 1);
      const two = await store.get('payments', 2);
      const file = join(home, 'escrow', 'payments', '2.json');
      await chmod(file, 0o600);
      // The wrapped key of version 1 re-wrapped under version 2's context: a well-formed record
      // of another key.
      const key1 = await vault.unwrap(Buffer.from(one!.wrappedKey, 'base64'), { keyring: 'payments', version: '1', purpose: 'escrow' }, escrowKey);
      const forged = await vault.wrap(key1, { keyring: 'payments', version: '2', purpose: 'escrow' }, escrowKey);
      await writeFile(file, JSON.stringify({ ...two, wrappedKey: forged.toString('base64') }));
      // Act
      const attempt = escrow.archive('payments', 2);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(AlreadyExistsError);
    });

    it('records a key check value of the version key, never the key', async () => {
      // Prepare
      const store = await s3Store();
      // Act
      await service(store).archive('payments', 1);
      // Assess
      const record = await store.get('payments', 1);
      expect(record!.kcv).toBe(keyCheckValue(keys.get(1)!, 'payments', 1));
      expect(record!.kcv).not.toContain(keys.get(1)!.toString('hex'));
    });

    it('throws RevokedVersionError for a revoked version and writes no record', async () => {
      // Prepare
      const store = await s3Store();
      const stored = await catalogs.get('payments');
      const versions = stored!.catalog.versions.map((v) => (v.version === 1 ? { ...v, state: 'revoked' as const, revokedAt: now.toISOString(), revokedReason: 'SEC-1' } : v));
      await catalogs.put({ ...stored!.catalog, versions }, stored!.etag);
      // Act
      const attempt = service(store).archive('payments', 1);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(RevokedVersionError);
      expect(await store.list('payments')).toEqual([]);
    });

    it('throws typed errors for a destroyed version, an unknown version and an unknown keyring', async () => {
      // Prepare
      const store = await s3Store();
      const escrow = service(store);
      // Act
      const destroyed = escrow.archive('payments', 3);
      const unknownVersion = escrow.archive('payments', 9);
      const unknownKeyring = escrow.archive('nobody', 1);
      // Assess
      await expect(destroyed).rejects.toBeInstanceOf(VersionUnavailableError);
      await expect(unknownVersion).rejects.toBeInstanceOf(UnknownVersionError);
      await expect(unknownKeyring).rejects.toBeInstanceOf(UnknownKeyringError);
      expect(await store.list('payments')).toEqual([]);
    });
  });

  describe('verify', () => {
    it('passes when every live version restores from escrow and opens its canary', async () => {
      // Prepare
      const store = await s3Store();
      const escrow = service(store);
      for (const v of [1, 2, 4]) await escrow.archive('payments', v);
      // Act
      const report = await escrow.verify();
      // Assess
      expect(report.ok).toBe(true);
      expect(report.checkedAt).toBe(now.toISOString());
      expect(report.results.map((r) => [r.version, r.ok])).toEqual([[1, true], [2, true], [4, true]]);
      expect(JSON.stringify(report)).not.toContain(keys.get(1)!.toString('base64'));
    });

    it('reports a live version without a record as missing', async () => {
      // Prepare
      const store = await s3Store();
      const escrow = service(store);
      await escrow.archive('payments', 1);
      // Act
      const report = await escrow.verify('payments');
      // Assess
      expect(report.ok).toBe(false);
      expect(report.results.filter((r) => !r.ok).map((r) => [r.version, r.reason])).toEqual([[2, 'missing'], [4, 'missing']]);
    });

    it('detects a corrupted record, a key that does not unwrap and a copy of another key (KCV)', async () => {
      // Prepare
      const home = await tempHome();
      const store = new FileEscrowStore({ home });
      const escrow = service(store);
      for (const v of [1, 2, 4]) await escrow.archive('payments', v);
      const file = (v: number) => join(home, 'escrow', 'payments', `${v}.json`);
      const records = new Map<number, Record<string, unknown>>();
      for (const v of [1, 2, 4]) records.set(v, JSON.parse(await readFile(file(v), 'utf8')));
      for (const v of [1, 2, 4]) await chmod(file(v), 0o600);
      await writeFile(file(1), (await readFile(file(1), 'utf8')).slice(0, 40));
      await writeFile(file(2), JSON.stringify({ ...records.get(2), wrappedKey: records.get(4)!.wrappedKey }));
      // Version 2's key re-wrapped under version 4's escrow context: it opens, but is another key.
      const key2 = await vault.unwrap(Buffer.from(records.get(2)!.wrappedKey as string, 'base64'), { keyring: 'payments', version: '2', purpose: 'escrow' }, escrowKey);
      const forged = await vault.wrap(key2, { keyring: 'payments', version: '4', purpose: 'escrow' }, escrowKey);
      await writeFile(file(4), JSON.stringify({ ...records.get(4), wrappedKey: forged.toString('base64') }));
      // Act
      const report = await escrow.verify('payments');
      // Assess
      expect(report.ok).toBe(false);
      expect(report.results.map((r) => [r.version, r.ok, r.reason])).toEqual([
        [1, false, 'corrupt'],
        [2, false, 'unwrap-failed'],
        [4, false, 'kcv-failed'],
      ]);
    });

    it('proves records archived before key check values by their canary, and says so', async () => {
      // Prepare: records as an older release wrote them (no kcv), one with another version's canary
      const home = await tempHome();
      const store = new FileEscrowStore({ home });
      const escrow = service(store);
      for (const v of [1, 2]) await escrow.archive('payments', v);
      const file = (v: number) => join(home, 'escrow', 'payments', `${v}.json`);
      const records = new Map<number, Record<string, unknown>>();
      for (const v of [1, 2]) records.set(v, JSON.parse(await readFile(file(v), 'utf8')));
      for (const v of [1, 2]) await chmod(file(v), 0o600);
      const { kcv: _kcv1, ...legacy1 } = records.get(1)!;
      const { kcv: _kcv2, ...legacy2 } = records.get(2)!;
      await writeFile(file(1), JSON.stringify(legacy1));
      await writeFile(file(2), JSON.stringify({ ...legacy2, canary: legacy1['canary'] }));
      // Act
      const report = await escrow.verify('payments');
      // Assess
      expect(typeof records.get(1)!['kcv']).toBe('string');
      expect(report.results.filter((r) => r.version <= 2).map((r) => [r.version, r.ok, r.reason, r.check])).toEqual([
        [1, true, undefined, 'canary'],
        [2, false, 'canary-failed', 'canary'],
      ]);
    });

    it('never asks the key vault for a version key, and checks a revoked version for integrity only, without opening it', async () => {
      // Prepare: separate vault objects, so each call is seen where it goes
      const store = await s3Store();
      const archiver = service(store);
      for (const v of [1, 2, 4]) await archiver.archive('payments', v);
      const stored = await catalogs.get('payments');
      const versions = stored!.catalog.versions.map((v) => (v.version === 1 ? { ...v, state: 'revoked' as const, revokedAt: now.toISOString(), revokedReason: 'SEC-1' } : v));
      await catalogs.put({ ...stored!.catalog, versions }, stored!.etag);
      const working = countingVault(new KmsKeyVault({ client: kms, defaultKeyId: mainKey }));
      const escrowVault = countingVault(new KmsKeyVault({ client: kms }));
      const escrow = new EscrowService({ store, catalogs, vault: working, escrowVault, escrowWrappingKeyId: escrowKey, clock: () => now });
      // Act
      const report = await escrow.verify('payments');
      // Assess
      expect(report.results.map((r) => [r.version, r.ok, r.check])).toEqual([
        [1, true, 'integrity'],
        [2, true, 'kcv'],
        [4, true, 'kcv'],
      ]);
      expect(working.unwraps).toEqual([]);
      expect(escrowVault.unwraps).toEqual(['2', '4']);
    });

    it('reports a revoked version whose record is corrupt', async () => {
      // Prepare
      const home = await tempHome();
      const store = new FileEscrowStore({ home });
      await service(store).archive('payments', 1);
      const stored = await catalogs.get('payments');
      const versions = stored!.catalog.versions.map((v) => (v.version === 1 ? { ...v, state: 'revoked' as const, revokedAt: now.toISOString(), revokedReason: 'SEC-1' } : v));
      await catalogs.put({ ...stored!.catalog, versions }, stored!.etag);
      const file = join(home, 'escrow', 'payments', '1.json');
      await chmod(file, 0o600);
      await writeFile(file, '{"schema":1');
      // Act
      const report = await service(store).verify('payments');
      // Assess
      expect(report.results.find((r) => r.version === 1)).toMatchObject({ ok: false, reason: 'corrupt' });
    });
  });

  describe('restore', () => {
    it('returns the version key from the escrow record alone, with no catalog', async () => {
      // Prepare
      const store = await s3Store();
      await service(store).archive('payments', 1);
      const emptyCatalogs = new S3CatalogStore({ bucket: await createBucket(s3), client: s3 });
      const bare = new EscrowService({ store, catalogs: emptyCatalogs, vault: new KmsKeyVault({ client: kms }), escrowVault: new KmsKeyVault({ client: kms, defaultKeyId: escrowKey }), escrowWrappingKeyId: escrowKey });
      // Act
      const key = await bare.restore('payments', 1);
      // Assess
      expect(key.equals(keys.get(1)!)).toBe(true);
    });

    it('throws NotFoundError without a record and DecryptError when the KCV (or, without one, the canary) fails', async () => {
      // Prepare
      const home = await tempHome();
      const store = new FileEscrowStore({ home });
      const escrow = service(store);
      await escrow.archive('payments', 1);
      await escrow.archive('payments', 2);
      const file = (v: number) => join(home, 'escrow', 'payments', `${v}.json`);
      const one = JSON.parse(await readFile(file(1), 'utf8'));
      const two = JSON.parse(await readFile(file(2), 'utf8'));
      await chmod(file(1), 0o600);
      await chmod(file(2), 0o600);
      await writeFile(file(1), JSON.stringify({ ...one, kcv: two.kcv }));
      const { kcv: _kcv, ...legacyTwo } = two;
      await writeFile(file(2), JSON.stringify({ ...legacyTwo, canary: one.canary }));
      // Act / Assess (each awaited at once: a rejection is never left unhandled)
      await expect(escrow.restore('payments', 4)).rejects.toBeInstanceOf(NotFoundError);
      await expect(escrow.restore('payments', 1)).rejects.toBeInstanceOf(DecryptError);
      await expect(escrow.restore('payments', 2)).rejects.toBeInstanceOf(DecryptError);
    });

    it('re-wraps the escrowed key under the working vault with { keyring, version }, without unwrapping through it', async () => {
      // Prepare
      const store = await s3Store();
      await service(store).archive('payments', 1);
      const working = countingVault(new KmsKeyVault({ client: kms }));
      const escrow = new EscrowService({ store, catalogs, vault: working, escrowVault: new KmsKeyVault({ client: kms }), escrowWrappingKeyId: escrowKey, clock: () => now });
      const newKey = await createKmsKey(kms);
      // Act
      const back = await escrow.rewrapFromEscrow('payments', 1, newKey);
      // Assess
      expect(back).toMatchObject({ keyring: 'payments', version: 1, wrappingKeyId: newKey, escrowKeyId: escrowKey, escrowedAt: now.toISOString(), check: 'kcv' });
      expect(working.unwraps).toEqual([]);
      const unwrapped = await vault.unwrap(Buffer.from(back.wrappedKey, 'base64'), { keyring: 'payments', version: '1' }, newKey);
      expect(unwrapped.equals(keys.get(1)!)).toBe(true);
      await expect(vault.unwrap(Buffer.from(back.wrappedKey, 'base64'), { keyring: 'payments', version: '2' }, newKey)).rejects.toBeInstanceOf(DecryptError);
      expect(JSON.stringify(back)).not.toContain(keys.get(1)!.toString('base64'));
    });
  });

  describe('offline RSA copy', () => {
    it('adds an RSA-OAEP copy that the matching private key opens to the version key', async () => {
      // Prepare
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const store = await s3Store();
      const escrow = service(store, { rsaPublicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() });
      // Act
      const result = await escrow.archive('payments', 2);
      const record = await store.get('payments', 2);
      const key = restoreFromRsa(record!, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      // Assess
      expect(result.offlineCopy).toBe(true);
      expect(key.equals(keys.get(2)!)).toBe(true);
      expect(() => restoreFromRsa(record!, other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow(ValidationError);
    });
  });

  describe('constructor', () => {
    it('throws ValidationError when escrow would use the catalog key itself, or a weak RSA key', async () => {
      // Prepare
      const store = await s3Store();
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      // Act
      const sameKey = () => new EscrowService({ store, catalogs, vault, escrowVault: vault });
      const weakRsa = () => service(store, { rsaPublicKeyPem: weak });
      // Assess
      expect(sameKey).toThrow(ValidationError);
      expect(weakRsa).toThrow(ValidationError);
    });
  });
});
