/**
 * CatalogKeyProvider: the VersionKeyProvider of rekey. Reads the keyring catalog through a
 * TTL cache, enforces the version lifecycle (which states may encrypt, decrypt, re-encrypt),
 * and unwraps version keys through the KeyVault into a {@link VersionKeyCache}.
 */
// The catalog's lifecycle decides which states may decrypt; the provider only enforces it.
import { canDecrypt } from '../catalog/lifecycle';
import type { Catalog, KeyVersion, VersionState } from '../catalog/model';
import type { KeyPurpose, VersionKeyProvider } from '../envelope/api';
import {
  BackendError,
  KeyUnavailableError,
  RevokedVersionError,
  UnknownKeyringError,
  UnknownVersionError,
  VersionUnavailableError,
} from '../errors';
import type { CatalogStore } from '../ports/catalog-store';
import type { KeyVault } from '../ports/key-vault';
import { DEFAULT_CATALOG_TTL_MS } from '../vocabulary/catalog-cache';
import { VersionKeyCache } from './version-key-cache';

/** Options of {@link CatalogKeyProvider}. */
export interface CatalogKeyProviderOptions {
  readonly store: CatalogStore;
  readonly vault: KeyVault;
  /**
   * How long a catalog read is trusted, in milliseconds. Keep it well below the keyrings'
   * propagation window, so that every reader learns a pending version before it activates.
   * An emergency revocation must wait the same lifetime before it counts what is left (give
   * both the same value: `REKEY_CATALOG_TTL_MS` in local mode).
   * @default {@link DEFAULT_CATALOG_TTL_MS} (60000)
   */
  readonly catalogTtlMs?: number;
  /**
   * Least time between two refreshes of one keyring's catalog triggered by an unknown
   * version or keyring, so that envelopes naming random versions cannot hammer the store.
   * @default 1000
   */
  readonly minRefreshIntervalMs?: number;
  /** Cache of unwrapped version keys. @default new VersionKeyCache({ clock }) */
  readonly keyCache?: VersionKeyCache;
  /** Milliseconds since the epoch. @default Date.now */
  readonly clock?: () => number;
  /**
   * Told of every decrypt refused because the version is revoked (not of re-encryption reads,
   * which are allowed): the DeniedDecryptAudit aggregates them into `decrypt.denied` events.
   * Called synchronously, before the RevokedVersionError is thrown; it must not throw.
   */
  readonly onRevokedDenied?: (keyring: string, version: number) => void;
}

interface CatalogEntry {
  /** Undefined: the keyring did not exist at `fetchedAt`. */
  readonly catalog: Catalog | undefined;
  /** The single active version of `catalog`, found once per read instead of once per message. */
  readonly active: KeyVersion | undefined;
  readonly fetchedAt: number;
}

const MAX_CACHED_KEYRINGS = 1000;

/**
 * VersionKeyProvider over a CatalogStore and a KeyVault.
 *
 * - forEncrypt: the keyring's single `active` version.
 * - forDecrypt: pending, active, rotating, deprecated; `revoked` only for purpose `reencrypt`
 *   (else RevokedVersionError); disabled and destroyed: VersionUnavailableError.
 * - An unknown version (or keyring) triggers one coalesced catalog refresh before
 *   UnknownVersionError (UnknownKeyringError).
 * - Version keys are unwrapped with encryption context `{ keyring, version }`.
 * - forEncryptIfWarm / forDecryptIfWarm answer synchronously when the catalog read is fresh
 *   and the key is cached (the steady state of a service), with the same rules.
 *
 * @example
 * const provider = new CatalogKeyProvider({ store: new SqliteCatalogStore(home), vault: new FileKeyVault({ home }) });
 * const client = new EnvelopeClient(provider);
 */
export class CatalogKeyProvider implements VersionKeyProvider {
  private readonly store: CatalogStore;
  private readonly vault: KeyVault;
  private readonly catalogTtlMs: number;
  private readonly minRefreshIntervalMs: number;
  private readonly keyCache: VersionKeyCache;
  private readonly clock: () => number;
  private readonly onRevokedDenied: ((keyring: string, version: number) => void) | undefined;
  private readonly catalogs = new Map<string, CatalogEntry>();
  private readonly fetching = new Map<string, Promise<CatalogEntry>>();
  private epoch = 0;

  public constructor(options: CatalogKeyProviderOptions) {
    this.store = options.store;
    this.vault = options.vault;
    this.catalogTtlMs = options.catalogTtlMs ?? DEFAULT_CATALOG_TTL_MS;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 1000;
    this.clock = options.clock ?? Date.now;
    this.keyCache = options.keyCache ?? new VersionKeyCache({ clock: this.clock });
    this.onRevokedDenied = options.onRevokedDenied;
  }

  /** The keyring's active version and its key. */
  public async forEncrypt(keyring: string): Promise<{ readonly version: number; readonly key: Buffer }> {
    let entry = await this.catalog(keyring);
    let active = this.activeVersion(entry);
    if (active === undefined && this.mayRefresh(entry)) {
      entry = await this.refresh(keyring);
      active = this.activeVersion(entry);
    }
    if (entry.catalog === undefined) throw new UnknownKeyringError(keyring);
    if (active === undefined) throw new KeyUnavailableError(`keyring '${keyring}' has no active version`);
    const key = await this.unwrap(keyring, active);
    return { version: active.version, key };
  }

  /**
   * Synchronous {@link forEncrypt} for the warm case: the active version and its key when the
   * catalog read is within its TTL and the key is cached (counted as one use), else undefined.
   */
  public forEncryptIfWarm(keyring: string): { readonly version: number; readonly key: Buffer } | undefined {
    const active = this.freshCatalog(keyring)?.active;
    if (active === undefined) return undefined;
    const key = this.keyCache.peek(keyring, active.version);
    return key === undefined ? undefined : { version: active.version, key };
  }

  /**
   * Synchronous {@link forDecrypt} for the warm case: the key when the catalog read is within
   * its TTL, the version may serve `purpose` and its key is cached, else undefined (including
   * every refusal, which forDecrypt then raises with its typed error).
   */
  public forDecryptIfWarm(keyring: string, version: number, purpose: KeyPurpose): Buffer | undefined {
    const catalog = this.freshCatalog(keyring)?.catalog;
    if (catalog === undefined) return undefined;
    const kv = findVersion(catalog, version);
    if (kv === undefined || !canDecrypt(kv.state, purpose)) return undefined;
    return this.keyCache.peek(keyring, version);
  }

  /** The key of a version that may serve `purpose`; throws the typed lifecycle errors otherwise. */
  public async forDecrypt(keyring: string, version: number, purpose: KeyPurpose): Promise<Buffer> {
    const entry = await this.resolve(keyring, version);
    const kv = findVersion(entry.catalog as Catalog, version) as KeyVersion;
    if (!canDecrypt(kv.state, purpose)) {
      if (kv.state === 'revoked') {
        this.onRevokedDenied?.(keyring, version);
        throw new RevokedVersionError(keyring, version);
      }
      throw new VersionUnavailableError(keyring, version, kv.state);
    }
    return this.unwrap(keyring, kv);
  }

  /** The state of a version, or undefined when the keyring or version is unknown (after one refresh). */
  public async versionState(keyring: string, version: number): Promise<VersionState | undefined> {
    try {
      const entry = await this.resolve(keyring, version);
      return findVersion(entry.catalog as Catalog, version)?.state;
    } catch (err) {
      if (err instanceof UnknownKeyringError || err instanceof UnknownVersionError) return undefined;
      throw err;
    }
  }

  /**
   * The state of a version in the catalog this provider holds now (fresh or not), without any
   * read: undefined when the keyring or version is not cached. Synchronous, for decorators that
   * must decide on the spot (the key-use recorder skips encrypting versions).
   */
  public cachedState(keyring: string, version: number): VersionState | undefined {
    const catalog = this.catalogs.get(keyring)?.catalog;
    return catalog === undefined ? undefined : findVersion(catalog, version)?.state;
  }

  /**
   * Forgets the cached catalog and version keys of one keyring (or of all): the next call
   * reads the store again. Revocation calls this so that this process stops at once.
   */
  public invalidate(keyring?: string): void {
    this.epoch += 1;
    if (keyring === undefined) this.catalogs.clear();
    else this.catalogs.delete(keyring);
    this.keyCache.clear(keyring);
  }

  private async resolve(keyring: string, version: number): Promise<CatalogEntry> {
    let entry = await this.catalog(keyring);
    if ((entry.catalog === undefined || findVersion(entry.catalog, version) === undefined) && this.mayRefresh(entry)) {
      entry = await this.refresh(keyring);
    }
    if (entry.catalog === undefined) throw new UnknownKeyringError(keyring);
    if (findVersion(entry.catalog, version) === undefined) throw new UnknownVersionError(keyring, version);
    return entry;
  }

  private activeVersion(entry: CatalogEntry): KeyVersion | undefined {
    return entry.active;
  }

  private freshCatalog(keyring: string): CatalogEntry | undefined {
    const entry = this.catalogs.get(keyring);
    return entry !== undefined && this.clock() - entry.fetchedAt < this.catalogTtlMs ? entry : undefined;
  }

  private mayRefresh(entry: CatalogEntry): boolean {
    return this.clock() - entry.fetchedAt >= this.minRefreshIntervalMs;
  }

  private catalog(keyring: string): Promise<CatalogEntry> {
    const entry = this.freshCatalog(keyring);
    return entry === undefined ? this.refresh(keyring) : Promise.resolve(entry);
  }

  /** Reads the catalog from the store; concurrent refreshes of one keyring share one read. */
  private refresh(keyring: string): Promise<CatalogEntry> {
    const pending = this.fetching.get(keyring);
    if (pending !== undefined) return pending;
    const epoch = this.epoch;
    const read = this.store.get(keyring).then(
      (stored) => {
        this.fetching.delete(keyring);
        const catalog = stored?.catalog;
        const entry: CatalogEntry = { catalog, active: catalog?.versions.find((v) => v.state === 'active'), fetchedAt: this.clock() };
        if (epoch === this.epoch) {
          this.catalogs.delete(keyring);
          this.catalogs.set(keyring, entry);
          // Envelopes can name arbitrary keyrings: bound the map, oldest read first out.
          if (this.catalogs.size > MAX_CACHED_KEYRINGS) this.catalogs.delete(this.catalogs.keys().next().value as string);
        }
        return entry;
      },
      (err: unknown) => {
        this.fetching.delete(keyring);
        throw err;
      },
    );
    this.fetching.set(keyring, read);
    return read;
  }

  private unwrap(keyring: string, kv: KeyVersion): Promise<Buffer> {
    const wrappedKey = kv.wrappedKey;
    if (wrappedKey === undefined) return Promise.reject(new VersionUnavailableError(keyring, kv.version, kv.state));
    return this.keyCache.get(keyring, kv.version, async () => {
      // Decoded only on a miss: a cache hit costs no base64 decoding.
      const wrapped = Buffer.from(wrappedKey, 'base64');
      const key = await this.vault.unwrap(wrapped, { keyring, version: String(kv.version) }, kv.wrappingKeyId);
      if (key.length !== 32) {
        key.fill(0);
        throw new BackendError(`the vault returned a ${key.length}-byte key for version ${kv.version} of keyring '${keyring}'`, { retryable: false });
      }
      return key;
    });
  }
}

function findVersion(catalog: Catalog, version: number): KeyVersion | undefined {
  // Versions are few (a keyring keeps a handful); a linear scan beats building an index.
  for (const v of catalog.versions) if (v.version === version) return v;
  return undefined;
}
