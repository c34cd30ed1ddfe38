import { createHash, randomBytes } from 'node:crypto';
import type { Catalog, KeyVersion, VersionState } from '../../../shared/catalog/model';
import {
  ConflictError,
  KeyUnavailableError,
  RevokedVersionError,
  UnknownKeyringError,
  UnknownVersionError,
  VersionUnavailableError,
} from '../../../shared/errors';
import { CatalogKeyProvider, VersionKeyCache } from '../../../shared/keys';
import type { CatalogStore, StoredCatalog } from '../../../shared/ports/catalog-store';
import type { EncryptionContext, GeneratedKey, KeyVault } from '../../../shared/ports/key-vault';
import { EnvelopeClient } from '../../../shared/envelope';

/** Test fixture: an in-memory CatalogStore with compare-and-swap and a read counter. */
class MemoryCatalogStore implements CatalogStore {
  public reads = 0;
  private readonly docs = new Map<string, StoredCatalog>();
  public async get(keyring: string): Promise<StoredCatalog | undefined> {
    this.reads += 1;
    await new Promise((r) => setImmediate(r));
    return this.docs.get(keyring);
  }
  public async list(): Promise<string[]> {
    return [...this.docs.keys()].sort();
  }
  public async put(catalog: Catalog, expectedEtag: string | null): Promise<string> {
    const current = this.docs.get(catalog.keyring);
    if ((current?.etag ?? null) !== expectedEtag) throw new ConflictError('etag mismatch');
    const etag = String(catalog.generation);
    this.docs.set(catalog.keyring, { catalog, etag });
    return etag;
  }
}

/** Test fixture: a vault that "wraps" by XOR with a context-derived pad and counts unwraps. */
class CountingVault implements KeyVault {
  public readonly kind = 'test';
  public unwraps: Array<{ context: EncryptionContext; wrappingKeyId?: string }> = [];
  private pad(context: EncryptionContext): Buffer {
    return createHash('sha256').update(JSON.stringify(context)).digest();
  }
  public async generateKey(context: EncryptionContext): Promise<GeneratedKey> {
    const plaintext = randomBytes(32);
    return { plaintext, wrapped: await this.wrap(plaintext, context), wrappingKeyId: 'test:1' };
  }
  public async wrap(plaintext: Buffer, context: EncryptionContext): Promise<Buffer> {
    const pad = this.pad(context);
    return Buffer.from(plaintext.map((b, i) => b ^ pad[i]!));
  }
  public async unwrap(wrapped: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer> {
    this.unwraps.push({ context, wrappingKeyId });
    await new Promise((r) => setTimeout(r, 2));
    const pad = this.pad(context);
    return Buffer.from(wrapped.map((b, i) => b ^ pad[i]!));
  }
}

const NOW = '2025-01-01T00:00:00.000Z';

async function catalogWith(vault: KeyVault, keyring: string, states: VersionState[]): Promise<Catalog> {
  const versions: KeyVersion[] = [];
  for (const [i, state] of states.entries()) {
    const g = await vault.generateKey({ keyring, version: String(i + 1) });
    versions.push({ version: i + 1, state, wrappedKey: state === 'destroyed' ? undefined : g.wrapped.toString('base64'), wrappingKeyId: g.wrappingKeyId, createdAt: NOW });
  }
  return {
    schema: 1,
    keyring,
    generation: 1,
    policy: { rotateEverySeconds: 86400, graceSeconds: 3600, propagationSeconds: 600, retentionSeconds: 86400, quietSeconds: 0, destroyAfterRetention: false },
    versions,
    createdAt: NOW,
    updatedAt: NOW,
  };
}

async function setup(states: VersionState[], options: { catalogTtlMs?: number; minRefreshIntervalMs?: number } = {}) {
  const store = new MemoryCatalogStore();
  const vault = new CountingVault();
  const catalog = await catalogWith(vault, 'payments', states);
  await store.put(catalog, null);
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) };
  const provider = new CatalogKeyProvider({ store, vault, clock: clock.now, ...options });
  return { store, vault, catalog, provider, clock };
}

describe('CatalogKeyProvider', () => {
  describe('forEncrypt', () => {
    it('returns the single active version and unwraps it with { keyring, version }', async () => {
      // Prepare
      const { provider, vault } = await setup(['deprecated', 'rotating', 'active', 'pending']);
      // Act
      const { version, key } = await provider.forEncrypt('payments');
      // Assess
      expect(version).toBe(3);
      expect(key).toHaveLength(32);
      expect(vault.unwraps).toEqual([{ context: { keyring: 'payments', version: '3' }, wrappingKeyId: 'test:1' }]);
    });

    it('throws UnknownKeyringError for a keyring the store does not have', async () => {
      // Prepare
      const { provider } = await setup(['active']);
      // Act / Assess
      await expect(provider.forEncrypt('nope')).rejects.toThrow(UnknownKeyringError);
    });

    it('throws KeyUnavailableError when no version is active', async () => {
      // Prepare
      const { provider } = await setup(['pending']);
      // Act / Assess
      await expect(provider.forEncrypt('payments')).rejects.toThrow(KeyUnavailableError);
    });
  });

  describe('forDecrypt', () => {
    it.each(['pending', 'active', 'rotating', 'deprecated'] as const)('serves a %s version for read', async (state) => {
      // Prepare
      const { provider } = await setup([state]);
      // Act
      const key = await provider.forDecrypt('payments', 1, 'read');
      // Assess
      expect(key).toHaveLength(32);
    });

    it('refuses a revoked version for read and serves it for reencrypt', async () => {
      // Prepare
      const { provider } = await setup(['revoked', 'active']);
      // Act / Assess
      await expect(provider.forDecrypt('payments', 1, 'read')).rejects.toThrow(RevokedVersionError);
      expect(await provider.forDecrypt('payments', 1, 'reencrypt')).toHaveLength(32);
    });

    it.each(['disabled', 'destroyed'] as const)('throws VersionUnavailableError for a %s version, for any purpose', async (state) => {
      // Prepare
      const { provider, vault } = await setup([state, 'active']);
      // Act / Assess
      await expect(provider.forDecrypt('payments', 1, 'read')).rejects.toThrow(VersionUnavailableError);
      await expect(provider.forDecrypt('payments', 1, 'reencrypt')).rejects.toThrow(VersionUnavailableError);
      expect(vault.unwraps).toHaveLength(0);
    });

    it('coalesces 3,000 concurrent cold decrypts of one version into one catalog read and one unwrap', async () => {
      // Prepare
      const { provider, vault, store } = await setup(['active']);
      const client = new EnvelopeClient(provider);
      const envelope = await client.encrypt('payments', Buffer.from('x'));
      provider.invalidate();
      vault.unwraps = [];
      store.reads = 0;
      // Act
      const out = await Promise.all(Array.from({ length: 3000 }, () => client.decrypt(envelope)));
      // Assess
      expect(vault.unwraps).toHaveLength(1);
      expect(store.reads).toBe(1);
      expect(out.every((d) => d.plaintext.toString() === 'x')).toBe(true);
    });

    it('refreshes the catalog once (coalesced) for an unknown version, then finds it', async () => {
      // Prepare
      const { provider, store, vault, catalog, clock } = await setup(['active']);
      await provider.forDecrypt('payments', 1, 'read');
      const v2 = await vault.generateKey({ keyring: 'payments', version: '2' });
      await store.put({ ...catalog, generation: 2, versions: [...catalog.versions, { version: 2, state: 'pending', wrappedKey: v2.wrapped.toString('base64'), wrappingKeyId: 'test:1', createdAt: NOW }] }, '1');
      clock.advance(5000);
      store.reads = 0;
      // Act
      const keys = await Promise.all(Array.from({ length: 50 }, () => provider.forDecrypt('payments', 2, 'read')));
      // Assess
      expect(store.reads).toBe(1);
      expect(keys[0]!.equals(v2.plaintext)).toBe(true);
    });

    it('throws UnknownVersionError after one refresh when the version does not exist', async () => {
      // Prepare
      const { provider, store, clock } = await setup(['active']);
      await provider.forDecrypt('payments', 1, 'read');
      clock.advance(5000);
      store.reads = 0;
      // Act
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => provider.forDecrypt('payments', 9, 'read')));
      // Assess
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof UnknownVersionError)).toBe(true);
      expect(store.reads).toBe(1);
    });

    it('does not refresh on a miss within minRefreshIntervalMs of the last read', async () => {
      // Prepare
      const { provider, store } = await setup(['active'], { minRefreshIntervalMs: 1000 });
      await provider.forDecrypt('payments', 1, 'read');
      store.reads = 0;
      // Act
      await expect(provider.forDecrypt('payments', 9, 'read')).rejects.toThrow(UnknownVersionError);
      // Assess
      expect(store.reads).toBe(0);
    });

    it('re-reads the catalog after its TTL and sees a revocation', async () => {
      // Prepare
      const { provider, store, catalog, clock } = await setup(['active'], { catalogTtlMs: 60_000 });
      await provider.forDecrypt('payments', 1, 'read');
      await store.put({ ...catalog, generation: 2, versions: [{ ...catalog.versions[0]!, state: 'revoked' }] }, '1');
      clock.advance(59_999);
      const beforeTtl = await provider.forDecrypt('payments', 1, 'read');
      // Act
      clock.advance(1);
      // Assess
      expect(beforeTtl).toHaveLength(32);
      await expect(provider.forDecrypt('payments', 1, 'read')).rejects.toThrow(RevokedVersionError);
    });
  });

  describe('forEncryptIfWarm', () => {
    it('returns undefined while cold, without reading the store or the vault', async () => {
      // Prepare
      const { provider, store, vault } = await setup(['active']);
      store.reads = 0;
      // Act
      const warm = provider.forEncryptIfWarm('payments');
      // Assess
      expect(warm).toBeUndefined();
      expect(store.reads).toBe(0);
      expect(vault.unwraps).toHaveLength(0);
    });

    it('returns what forEncrypt returned once warm, with no further read or unwrap', async () => {
      // Prepare
      const { provider, store, vault } = await setup(['deprecated', 'active']);
      const cold = await provider.forEncrypt('payments');
      store.reads = 0;
      // Act
      const warm = provider.forEncryptIfWarm('payments');
      // Assess
      expect(warm).toEqual({ version: 2, key: cold.key });
      expect(store.reads).toBe(0);
      expect(vault.unwraps).toHaveLength(1);
    });

    it('returns undefined once the catalog read is older than its TTL', async () => {
      // Prepare
      const { provider, clock } = await setup(['active'], { catalogTtlMs: 1000 });
      await provider.forEncrypt('payments');
      // Act
      clock.advance(1000);
      // Assess
      expect(provider.forEncryptIfWarm('payments')).toBeUndefined();
    });
  });

  describe('forDecryptIfWarm', () => {
    it('returns the key forDecrypt returned once warm, for each allowed purpose', async () => {
      // Prepare
      const { provider, vault } = await setup(['rotating', 'active']);
      const cold = await provider.forDecrypt('payments', 1, 'read');
      // Act
      const read = provider.forDecryptIfWarm('payments', 1, 'read');
      const reencrypt = provider.forDecryptIfWarm('payments', 1, 'reencrypt');
      // Assess
      expect(read).toBe(cold);
      expect(reencrypt).toBe(cold);
      expect(vault.unwraps).toHaveLength(1);
    });

    it('leaves a revoked version to forDecrypt for read, and serves it warm for reencrypt', async () => {
      // Prepare
      const { provider } = await setup(['revoked', 'active']);
      const key = await provider.forDecrypt('payments', 1, 'reencrypt');
      // Act
      const read = provider.forDecryptIfWarm('payments', 1, 'read');
      const reencrypt = provider.forDecryptIfWarm('payments', 1, 'reencrypt');
      // Assess
      expect(read).toBeUndefined();
      expect(reencrypt).toBe(key);
      await expect(provider.forDecrypt('payments', 1, 'read')).rejects.toThrow(RevokedVersionError);
    });

    it('returns undefined for unknown keyrings and versions and after the catalog TTL', async () => {
      // Prepare
      const { provider, clock } = await setup(['active'], { catalogTtlMs: 1000 });
      await provider.forDecrypt('payments', 1, 'read');
      const beforeTtl = provider.forDecryptIfWarm('payments', 1, 'read');
      // Act
      clock.advance(1000);
      // Assess
      expect(beforeTtl).toHaveLength(32);
      expect(provider.forDecryptIfWarm('payments', 2, 'read')).toBeUndefined();
      expect(provider.forDecryptIfWarm('other', 1, 'read')).toBeUndefined();
      expect(provider.forDecryptIfWarm('payments', 1, 'read')).toBeUndefined();
    });

    it('honours the key cache use budget and invalidate', async () => {
      // Prepare
      let t = 1_000_000;
      const store = new MemoryCatalogStore();
      const vault = new CountingVault();
      await store.put(await catalogWith(vault, 'payments', ['active']), null);
      const provider = new CatalogKeyProvider({ store, vault, clock: () => t, keyCache: new VersionKeyCache({ maxUses: 2, clock: () => t }) });
      await provider.forDecrypt('payments', 1, 'read');
      t += 1;
      // Act
      const second = provider.forDecryptIfWarm('payments', 1, 'read');
      const third = provider.forDecryptIfWarm('payments', 1, 'read');
      await provider.forDecrypt('payments', 1, 'read');
      provider.invalidate('payments');
      const afterInvalidate = provider.forDecryptIfWarm('payments', 1, 'read');
      // Assess
      expect(second).toHaveLength(32);
      expect(third).toBeUndefined();
      expect(vault.unwraps).toHaveLength(2);
      expect(afterInvalidate).toBeUndefined();
    });

    it('lets the envelope client decrypt with no forDecrypt call once warm', async () => {
      // Prepare
      const { provider } = await setup(['active']);
      const client = new EnvelopeClient(provider);
      const envelope = await client.encrypt('payments', Buffer.from('warm'));
      await client.decrypt(envelope);
      const slow = jest.spyOn(provider, 'forDecrypt');
      // Act
      const out = await client.decrypt(envelope);
      // Assess
      expect(out.plaintext.toString()).toBe('warm');
      expect(slow).not.toHaveBeenCalled();
    });
  });

  describe('catalog cache', () => {
    it('stays bounded when envelopes name many unknown keyrings', async () => {
      // Prepare
      const { provider, store } = await setup(['active']);
      await provider.forDecrypt('payments', 1, 'read');
      // Act
      for (let i = 0; i < 1100; i += 1) await expect(provider.forDecrypt(`ghost-${i}`, 1, 'read')).rejects.toThrow(UnknownKeyringError);
      store.reads = 0;
      await provider.forDecrypt('payments', 1, 'read');
      await expect(provider.forDecrypt('ghost-1099', 1, 'read')).rejects.toThrow(UnknownKeyringError);
      // Assess: the oldest entry (payments) was evicted and re-read; the newest is still cached
      expect(store.reads).toBe(1);
    });
  });

  describe('versionState', () => {
    it('returns the state, or undefined for unknown keyrings and versions', async () => {
      // Prepare
      const { provider } = await setup(['rotating', 'active']);
      // Act / Assess
      expect(await provider.versionState('payments', 1)).toBe('rotating');
      expect(await provider.versionState('payments', 3)).toBeUndefined();
      expect(await provider.versionState('other', 1)).toBeUndefined();
    });
  });

  describe('invalidate', () => {
    it('drops the cached catalog and keys so that a revocation applies at once', async () => {
      // Prepare
      const { provider, store, catalog, vault } = await setup(['active']);
      await provider.forDecrypt('payments', 1, 'read');
      await store.put({ ...catalog, generation: 2, versions: [{ ...catalog.versions[0]!, state: 'revoked' }] }, '1');
      // Act
      provider.invalidate('payments');
      // Assess
      await expect(provider.forDecrypt('payments', 1, 'read')).rejects.toThrow(RevokedVersionError);
      await provider.forDecrypt('payments', 1, 'reencrypt');
      expect(vault.unwraps).toHaveLength(2);
    });
  });
});
