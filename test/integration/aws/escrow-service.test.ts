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
  UnknownKeyringError,
  UnknownVersionError,
  ValidationError,
  VersionUnavailableError,
} from '../../../shared/errors';
import { EscrowService, restoreFromRsa, type EscrowStore } from '../../../shared/escrow';
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

    it('detects a corrupted record, a key that does not unwrap and a canary that does not decrypt', async () => {
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
      await writeFile(file(4), JSON.stringify({ ...records.get(4), canary: records.get(2)!.canary }));
      // Act
      const report = await escrow.verify('payments');
      // Assess
      expect(report.ok).toBe(false);
      expect(report.results.map((r) => [r.version, r.ok, r.reason])).toEqual([
        [1, false, 'corrupt'],
        [2, false, 'unwrap-failed'],
        [4, false, 'canary-failed'],
      ]);
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

    it('throws NotFoundError without a record and DecryptError when the canary does not open', async () => {
      // Prepare
      const home = await tempHome();
      const store = new FileEscrowStore({ home });
      const escrow = service(store);
      await escrow.archive('payments', 1);
      await escrow.archive('payments', 2);
      const file = join(home, 'escrow', 'payments', '1.json');
      const one = JSON.parse(await readFile(file, 'utf8'));
      const two = JSON.parse(await readFile(join(home, 'escrow', 'payments', '2.json'), 'utf8'));
      await chmod(file, 0o600);
      await writeFile(file, JSON.stringify({ ...one, canary: two.canary }));
      // Act
      const missing = escrow.restore('payments', 4);
      const badCanary = escrow.restore('payments', 1);
      // Assess
      await expect(missing).rejects.toBeInstanceOf(NotFoundError);
      await expect(badCanary).rejects.toBeInstanceOf(DecryptError);
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
