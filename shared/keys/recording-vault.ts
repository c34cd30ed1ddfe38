/**
 * RecordingKeyVault: a KeyVault that tells a KeyUseLog about every successful unwrap of a
 * version key, the local evidence that a version is still in use. Only unwraps whose context is
 * exactly `{ keyring, version }` count (the context rekey binds every version key to); other
 * unwraps (escrow keys, test keys) pass through unrecorded. Writes are throttled in memory to one
 * per version per interval: the quiet period is days, so a minute of granularity loses nothing
 * and a burst of decrypts costs one write.
 */
import { isKeyringName } from '../vocabulary/keyring-name';
import type { EncryptionContext, GeneratedKey, KeyVault, WrappedKey } from '../ports/key-vault';
import type { KeyUseLog } from '../ports/key-use-log';

/** Options of {@link RecordingKeyVault}. */
export interface RecordingKeyVaultOptions {
  readonly vault: KeyVault;
  readonly log: Pick<KeyUseLog, 'recordUse'>;
  /** Milliseconds since the epoch. @default Date.now */
  readonly clock?: () => number;
  /** Least time between two recorded uses of one version, in milliseconds. @default 60000 */
  readonly throttleMs?: number;
  /** Who the uses are attributed to. @default 'local' */
  readonly by?: string;
  /**
   * Whether a failed recording fails the unwrap. A read-only home cannot record (and cannot be
   * ticked either, so no version is disabled there): pass false for it.
   * @default true
   */
  readonly strict?: boolean;
  /**
   * Versions whose use need not be recorded right now (the key provider's active and pending
   * versions: only a retired version's silence is ever weighed, and its quiet period starts when
   * it stops encrypting, so earlier uses cannot matter). Skipping them keeps ordinary encrypts
   * and refused commands from writing to the home.
   * @default nothing is skipped
   */
  readonly skip?: (keyring: string, version: number) => boolean;
}

const DECIMAL = /^[1-9][0-9]{0,15}$/;

/**
 * Wraps a vault so that its unwraps are recorded as key use.
 *
 * @example
 * const vault = new RecordingKeyVault({ vault: new FileKeyVault({ home }), log: keyUse });
 * const provider = new CatalogKeyProvider({ store, vault });
 */
export class RecordingKeyVault implements KeyVault {
  public readonly kind: string;
  private readonly o: RecordingKeyVaultOptions;
  private readonly clock: () => number;
  private readonly throttleMs: number;
  private readonly lastWrite = new Map<string, number>();

  public constructor(options: RecordingKeyVaultOptions) {
    this.o = options;
    this.kind = options.vault.kind;
    this.clock = options.clock ?? Date.now;
    this.throttleMs = Math.max(0, options.throttleMs ?? 60_000);
  }

  /** Delegates. */
  public generateKey(context: EncryptionContext, wrappingKeyId?: string): Promise<GeneratedKey> {
    return this.o.vault.generateKey(context, wrappingKeyId);
  }

  /** Delegates (a vault without it makes the caller fall back to generateKey). */
  public get generateWrappedKey(): ((context: EncryptionContext, wrappingKeyId?: string) => Promise<WrappedKey>) | undefined {
    const inner = this.o.vault;
    return inner.generateWrappedKey === undefined ? undefined : (context, wrappingKeyId) => (inner.generateWrappedKey as NonNullable<KeyVault['generateWrappedKey']>)(context, wrappingKeyId);
  }

  /** Delegates. */
  public wrap(plaintext: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer> {
    return this.o.vault.wrap(plaintext, context, wrappingKeyId);
  }

  /** Unwraps, then records the use of the version (recorded only once the unwrap succeeded). */
  public async unwrap(wrapped: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer> {
    const key = await this.o.vault.unwrap(wrapped, context, wrappingKeyId);
    try {
      await this.record(context);
    } catch (err) {
      if (this.o.strict !== false) {
        key.fill(0);
        throw err;
      }
    }
    return key;
  }

  private async record(context: EncryptionContext): Promise<void> {
    const names = Object.keys(context);
    const keyring = context['keyring'];
    const version = context['version'];
    if (names.length !== 2 || keyring === undefined || version === undefined || !isKeyringName(keyring) || !DECIMAL.test(version)) return;
    if (this.o.skip?.(keyring, Number(version)) === true) return;
    const now = this.clock();
    const slot = `${keyring}#${version}`;
    const last = this.lastWrite.get(slot);
    if (last !== undefined && now - last < this.throttleMs) return;
    await this.o.log.recordUse(keyring, Number(version), { at: new Date(now), by: this.o.by ?? 'local' });
    this.lastWrite.set(slot, now);
  }
}
