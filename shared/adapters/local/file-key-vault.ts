/**
 * FileKeyVault: the local-mode KeyVault. One 256-bit master key in `<home>/master.key`
 * (mode 0600, created atomically) wraps version keys with AES-256-GCM, the canonical encoding
 * of the encryption context as AAD. Whether a missing key may be created is the caller's
 * decision ({@link FileKeyVaultOptions.createKey}): a rekey home creates one only while it holds
 * no keyring, because a new key for an existing home would leave every stored version key
 * unreadable and wrap new ones under a key no backup has.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomFillSync } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { encodeContext } from '../../envelope/context-encoding';
import { BackendError, KeyUnavailableError, ValidationError } from '../../errors';
import { describeStorageFailure } from './open-database';
import type { EncryptionContext, GeneratedKey, KeyVault, WrappedKey } from '../../ports/key-vault';

/** Options of {@link FileKeyVault}. */
export interface FileKeyVaultOptions {
  /** The rekey home folder; the master key is `<home>/master.key`. */
  readonly home: string;
  /**
   * What happens when `master.key` is missing: `if-missing` creates it, `never` refuses
   * (KeyUnavailableError naming the path), a function decides at that moment (a home passes
   * "no keyring exists yet").
   * @default 'if-missing' (a standalone vault for tests and tools; the rekey home passes its rule)
   */
  readonly createKey?: 'if-missing' | 'never' | (() => boolean | Promise<boolean>);
}

const MASTER_KEY_FILE = 'master.key';
const KEY_LENGTH = 32;
const WRAP_FORMAT = 0x01;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** Length of a wrapped 32-byte key: format || IV || ciphertext || tag. */
const WRAPPED_LENGTH = 1 + IV_LENGTH + KEY_LENGTH + TAG_LENGTH;

interface MasterKey {
  readonly key: Buffer;
  readonly id: string;
}

function fingerprint(key: Buffer): string {
  return `local:${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

function ioError(path: string, action: string, cause: unknown): Error {
  return describeStorageFailure('master key', path, cause, action);
}

/** The message of a master key that is not the one a version was wrapped under. */
export function foreignMasterKeyMessage(keyPath: string, keyring: string, expected: string, actual: string): string {
  return `master key at ${keyPath} is not the one versions of '${keyring}' were wrapped under (${expected} vs ${actual}): put the original master.key back from your backup`;
}

/** The message of a master key that is gone from a home that needs one. */
export function missingMasterKeyMessage(keyPath: string): string {
  return `master key missing at ${keyPath}: restore it from your backup; rekey never creates one for an existing home`;
}

/**
 * KeyVault over a local master key file, for the CLI's local mode and for tests.
 *
 * - The key file holds exactly 32 random bytes, is created with mode 0600 through a temp file
 *   (write, fsync, hard link into place, fsync the folder) so that a crash never leaves a
 *   partial key and two concurrent creators can never overwrite each other's key.
 * - A key file with any group or other permission bit, or of the wrong size, is refused
 *   (KeyUnavailableError).
 * - Unwrapping with another context, another master key or a tampered blob fails with
 *   KeyUnavailableError: the version key cannot be recovered by this vault.
 *
 * @example
 * const vault = new FileKeyVault({ home: '.rekey' });
 * const { plaintext, wrapped } = await vault.generateKey({ keyring: 'payments', version: '1' });
 */
export class FileKeyVault implements KeyVault {
  /** Vault kind for logs and metrics. */
  public readonly kind = 'local';
  private readonly home: string;
  private readonly createKey: NonNullable<FileKeyVaultOptions['createKey']>;
  private loading: Promise<MasterKey> | undefined;

  public constructor(options: FileKeyVaultOptions) {
    if (typeof options?.home !== 'string' || options.home.length === 0) throw new ValidationError('FileKeyVault needs a home folder');
    const createKey = options.createKey ?? 'if-missing';
    if (createKey !== 'if-missing' && createKey !== 'never' && typeof createKey !== 'function') {
      throw new ValidationError("FileKeyVault createKey must be 'if-missing', 'never' or a function");
    }
    this.home = options.home;
    this.createKey = createKey;
  }

  /** Path of the master key file. */
  public get keyPath(): string {
    return path.join(this.home, MASTER_KEY_FILE);
  }

  /** The wrapping key id of this vault (`local:<8 hex of SHA-256(master key)>`), creating the key if allowed. */
  public async wrappingKeyId(): Promise<string> {
    return (await this.master()).id;
  }

  /**
   * The wrapping key id of the key file as it is now, or undefined when there is none; never
   * creates a key.
   * @throws KeyUnavailableError for a key file that is unsafe (wider than 0600, a link, the wrong size).
   */
  public async presentKeyId(): Promise<string | undefined> {
    const existing = await this.read();
    if (existing === undefined) return undefined;
    existing.key.fill(0);
    return existing.id;
  }

  /** Generates a 32-byte key and returns it in clear and wrapped under `context`. */
  public async generateKey(context: EncryptionContext, wrappingKeyId?: string): Promise<GeneratedKey> {
    const master = await this.masterFor(wrappingKeyId, context);
    const plaintext = randomBytes(KEY_LENGTH);
    return { plaintext, wrapped: seal(master.key, plaintext, encodeContext(context)), wrappingKeyId: master.id };
  }

  /** Generates a 32-byte key and returns it only wrapped under `context` (the clear copy is wiped). */
  public async generateWrappedKey(context: EncryptionContext, wrappingKeyId?: string): Promise<WrappedKey> {
    const master = await this.masterFor(wrappingKeyId, context);
    const plaintext = randomBytes(KEY_LENGTH);
    try {
      return { wrapped: seal(master.key, plaintext, encodeContext(context)), wrappingKeyId: master.id };
    } finally {
      plaintext.fill(0);
    }
  }

  /** Wraps existing key material under `context`. */
  public async wrap(plaintext: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer> {
    if (!Buffer.isBuffer(plaintext) || plaintext.length !== KEY_LENGTH) throw new ValidationError('FileKeyVault wraps 32-byte keys only');
    const master = await this.masterFor(wrappingKeyId, context);
    return seal(master.key, plaintext, encodeContext(context));
  }

  /** Unwraps a key; fails with KeyUnavailableError unless `context` and the master key are the ones it was wrapped with. */
  public async unwrap(wrapped: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer> {
    const aad = encodeContext(context);
    const master = await this.masterFor(wrappingKeyId, context);
    if (!Buffer.isBuffer(wrapped) || wrapped.length !== WRAPPED_LENGTH || wrapped[0] !== WRAP_FORMAT) {
      throw new KeyUnavailableError('the wrapped key is not a local vault blob');
    }
    const decipher = createDecipheriv('aes-256-gcm', master.key, wrapped.subarray(1, 1 + IV_LENGTH), { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(wrapped.subarray(WRAPPED_LENGTH - TAG_LENGTH));
    const key = decipher.update(wrapped.subarray(1 + IV_LENGTH, WRAPPED_LENGTH - TAG_LENGTH));
    try {
      decipher.final();
    } catch {
      key.fill(0);
      throw new KeyUnavailableError('the local master key cannot unwrap this key under the given context');
    }
    return key;
  }

  private async masterFor(wrappingKeyId: string | undefined, context: EncryptionContext): Promise<MasterKey> {
    const master = await this.master();
    if (wrappingKeyId !== undefined && wrappingKeyId !== master.id) {
      const keyring = typeof context?.keyring === 'string' ? context.keyring.slice(0, 64) : 'this keyring';
      throw new KeyUnavailableError(foreignMasterKeyMessage(this.keyPath, keyring, wrappingKeyId, master.id));
    }
    return master;
  }

  private master(): Promise<MasterKey> {
    // Concurrent first uses share one load; a failed load is retried by the next call.
    this.loading ??= this.loadOrCreate().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  private async loadOrCreate(): Promise<MasterKey> {
    const existing = await this.read();
    if (existing !== undefined) return existing;
    const allowed = this.createKey === 'if-missing' || (typeof this.createKey === 'function' && (await this.createKey()));
    if (!allowed) throw new KeyUnavailableError(missingMasterKeyMessage(this.keyPath));
    await this.create();
    const created = await this.read();
    if (created === undefined) throw new BackendError(`the master key at ${this.keyPath} vanished after creation`);
    return created;
  }

  private async read(): Promise<MasterKey | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.keyPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new KeyUnavailableError(`refusing ${this.keyPath}: it is a symbolic link`);
      throw ioError(this.keyPath, 'open', err);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new KeyUnavailableError(`refusing ${this.keyPath}: not a regular file`);
      if ((stat.mode & 0o077) !== 0) {
        throw new KeyUnavailableError(`refusing ${this.keyPath}: mode ${(stat.mode & 0o777).toString(8)} gives access to group or others; chmod 600 it`);
      }
      if (stat.size !== KEY_LENGTH) throw new KeyUnavailableError(`refusing ${this.keyPath}: it must hold exactly ${KEY_LENGTH} bytes`);
      const key = Buffer.alloc(KEY_LENGTH);
      const { bytesRead } = await handle.read(key, 0, KEY_LENGTH, 0);
      if (bytesRead !== KEY_LENGTH) throw new KeyUnavailableError(`refusing ${this.keyPath}: short read`);
      return { key, id: fingerprint(key) };
    } finally {
      await handle.close();
    }
  }

  private async create(): Promise<void> {
    await fs.mkdir(this.home, { recursive: true, mode: 0o700 });
    const temp = path.join(this.home, `.${MASTER_KEY_FILE}.${randomBytes(8).toString('hex')}.tmp`);
    const key = Buffer.alloc(KEY_LENGTH);
    randomFillSync(key);
    try {
      const handle = await fs.open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(key);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // link() fails with EEXIST instead of replacing: a concurrent creator's key, possibly
      // already used to wrap version keys, is never overwritten (rename would clobber it).
      await fs.link(temp, this.keyPath).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
      await this.syncDirectory();
    } catch (err) {
      throw ioError(this.keyPath, 'create', err);
    } finally {
      key.fill(0);
      await fs.rm(temp, { force: true });
    }
  }

  private async syncDirectory(): Promise<void> {
    const dir = await fs.open(this.home, fsConstants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

function seal(masterKey: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const out = Buffer.allocUnsafe(WRAPPED_LENGTH);
  out[0] = WRAP_FORMAT;
  randomFillSync(out, 1, IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', masterKey, out.subarray(1, 1 + IV_LENGTH));
  cipher.setAAD(aad);
  cipher.update(plaintext).copy(out, 1 + IV_LENGTH);
  cipher.final();
  cipher.getAuthTag().copy(out, 1 + IV_LENGTH + KEY_LENGTH);
  return out;
}
