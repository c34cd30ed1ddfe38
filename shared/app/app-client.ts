/**
 * The one implementation of {@link RekeyClient}, over whichever EnvelopeClient a backend wires
 * (AWS or local): the application-facing surface, the decrypt counts, and the closed state.
 */
import type { Transform } from 'node:stream';
import type { DecryptMetrics } from '../lambda/decrypt-metrics';
import type { EnvelopeClient } from '../envelope/envelope-client';
import type { Decrypted, EncryptOptions, EnvelopeInfo, StreamEncryptOptions } from '../envelope/api';
import { ValidationError } from '../errors';
import type { AppDecryptOptions, RekeyClient } from './client-types';

/** What a backend hands to {@link AppRekeyClient}. */
export interface AppClientParts {
  /** Built with `decryptMetrics` as its observer. */
  readonly envelopes: EnvelopeClient;
  readonly decryptMetrics: DecryptMetrics;
  /** Lets go of the backend (SDK clients, databases); called once. */
  readonly release: () => void | Promise<void>;
}

/**
 * A {@link RekeyClient} over `parts`.
 *
 * @example
 * const client = new AppRekeyClient({ envelopes, decryptMetrics, release: () => services.close() });
 */
export class AppRekeyClient implements RekeyClient {
  private closed = false;
  private closing: Promise<void> | undefined;

  public constructor(private readonly parts: AppClientParts) {}

  public encrypt(keyring: string, plaintext: Buffer | string, options: EncryptOptions = {}): Promise<Buffer> {
    this.assertOpen();
    return this.parts.envelopes.encrypt(keyring, typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext, options);
  }

  public decrypt(envelope: Buffer, options: AppDecryptOptions = {}): Promise<Decrypted> {
    this.assertOpen();
    // Only the context is passed on: a `purpose` smuggled in by an untyped caller never reaches the provider.
    return this.parts.envelopes.decrypt(envelope, options.context === undefined ? {} : { context: options.context });
  }

  public async refresh(envelope: Buffer, options: AppDecryptOptions = {}): Promise<Buffer | undefined> {
    this.assertOpen();
    // Rewrap to the active version and keep the result only if the version moved: asking the
    // provider for the active version first would cost the same key fetch and race a rotation.
    const parts = await this.parts.envelopes.rewrapParts(envelope, options.context === undefined ? {} : { context: options.context });
    if (parts.version === parts.previousVersion) return undefined;
    return Buffer.concat([parts.header, parts.body]);
  }

  public encryptStream(keyring: string, options: StreamEncryptOptions = {}): Transform {
    this.assertOpen();
    return this.parts.envelopes.encryptStream(keyring, options);
  }

  public decryptStream(options: AppDecryptOptions = {}): Transform {
    this.assertOpen();
    return this.parts.envelopes.decryptStream(options.context === undefined ? {} : { context: options.context });
  }

  public inspect(envelope: Buffer): EnvelopeInfo {
    return this.parts.envelopes.inspect(envelope);
  }

  public flushMetrics(): void {
    try {
      this.parts.decryptMetrics.flush();
    } catch {
      // Metrics never change the outcome of the application's request.
    }
  }

  public close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.flushMetrics();
      this.closing = Promise.resolve().then(() => this.parts.release());
    }
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw new ValidationError('this rekey client is closed: create a new one');
  }
}
