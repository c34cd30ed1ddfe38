/**
 * A VersionKeyProvider that knows exactly one (keyring, version, key): the escrow service
 * encrypts and decrypts canaries with it, so that a canary proves one specific key and nothing
 * (no catalog, no cache) can substitute another.
 */
import type { KeyPurpose, VersionKeyProvider } from '../envelope/api';
import { UnknownKeyringError, UnknownVersionError } from '../errors';

/**
 * {@link VersionKeyProvider} over a single key. It does not copy the key: the owner zeroes it
 * once the envelope operation has finished.
 *
 * @example
 * const client = new EnvelopeClient(new SingleKeyProvider('payments', 3, key));
 */
export class SingleKeyProvider implements VersionKeyProvider {
  public constructor(
    private readonly keyring: string,
    private readonly version: number,
    private readonly key: Buffer,
  ) {}

  /** The one key, as the active version of its keyring. */
  public async forEncrypt(keyring: string): Promise<{ readonly version: number; readonly key: Buffer }> {
    if (keyring !== this.keyring) throw new UnknownKeyringError(keyring);
    return { version: this.version, key: this.key };
  }

  /** The one key, for its own (keyring, version) only. */
  public async forDecrypt(keyring: string, version: number, _purpose: KeyPurpose): Promise<Buffer> {
    if (keyring !== this.keyring) throw new UnknownKeyringError(keyring);
    if (version !== this.version) throw new UnknownVersionError(keyring, version);
    return this.key;
  }
}
