/**
 * Streaming encrypt and decrypt transforms of the EnvelopeClient. Encryption writes the
 * framed suite; decryption reads both suites and releases a frame's plaintext only once that
 * frame authenticates (a one-shot payload is released whole, after its tag).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { DecryptError } from '../errors';
import { ByteQueue } from './byte-queue';
import { FrameOpener, KEY_LENGTH, openOneShot, type FrameSealer } from './envelope-crypto';
import { MIN_FINAL_FRAME_LENGTH, SUITE_FRAMED, TAG_LENGTH, probeHeaderLength, type ParsedHeader } from './format';
import { ENVELOPE_LIMITS } from './limits';

/** What an encrypt stream needs once the version key is known: the header bytes and the sealer. */
export interface EncryptStreamStart {
  readonly header: Buffer;
  readonly sealer: FrameSealer;
}

/** Runs a synchronous transform step and reports its outcome to the stream callback exactly once. */
function settle(step: () => void, callback: TransformCallback): void {
  try {
    step();
  } catch (err) {
    callback(err as Error);
    return;
  }
  callback();
}

/** Transform: plaintext in, framed envelope out. Built by EnvelopeClient.encryptStream. */
export class EnvelopeEncryptStream extends Transform {
  private sealer: FrameSealer | undefined;
  private starting: Promise<void> | undefined;
  private readonly queue = new ByteQueue();

  public constructor(private readonly start: () => Promise<EncryptStreamStart>, private readonly frameSize: number) {
    super();
  }

  public override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.whenStarted(() => {
      this.queue.push(chunk);
      const sealer = this.sealer as FrameSealer;
      while (this.queue.length >= this.frameSize) {
        const [ct, tag] = sealer.sealFrame(this.queue.take(this.frameSize));
        this.push(ct);
        this.push(tag);
      }
    }, callback);
  }

  public override _flush(callback: TransformCallback): void {
    this.whenStarted(() => {
      const [prefix, ct, tag] = (this.sealer as FrameSealer).sealFinal(this.queue.takeAll());
      this.push(Buffer.concat([prefix, ct, tag]));
    }, callback);
  }

  public override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.sealer?.destroy();
    this.queue.clear();
    callback(error);
  }

  private whenStarted(step: () => void, callback: TransformCallback): void {
    const run = (): void => settle(step, callback);
    if (this.sealer !== undefined) {
      run();
      return;
    }
    this.starting ??= this.start().then(({ header, sealer }) => {
      this.sealer = sealer;
      this.push(header);
    });
    this.starting.then(run, (err: unknown) => callback(err as Error));
  }
}

/** The keys of an envelope being decrypted, as produced from its header. */
export interface DecryptStreamKeys {
  readonly header: ParsedHeader;
  /** `K_enc || C`, commitment already verified; the stream zeroes it. */
  readonly derived: Buffer;
  /** Context bytes of the payload AAD, when bound. */
  readonly context?: Buffer;
}

// Enough leading bytes to learn a header's length: 4 fixed, keyring, frame size, context length.
const PROBE_BYTES = 4 + ENVELOPE_LIMITS.keyringMaxLength + 4 + 2;

/** Transform: envelope in (either suite), plaintext out. Built by EnvelopeClient.decryptStream. */
export class EnvelopeDecryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private opening = false;
  private header: ParsedHeader | undefined;
  private opener: FrameOpener | undefined;
  private oneShotKey: Buffer | undefined;
  private context: Buffer | undefined;

  public constructor(private readonly openHeader: (headerBytes: Buffer) => Promise<DecryptStreamKeys>) {
    super();
  }

  public override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.queue.push(chunk);
    if (this.header !== undefined) {
      settle(() => this.drainBody(), callback);
      return;
    }
    let headerLength: number | undefined;
    try {
      headerLength = probeHeaderLength(this.queue.peek(Math.min(this.queue.length, PROBE_BYTES)));
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (headerLength === undefined || this.queue.length < headerLength) {
      callback();
      return;
    }
    this.opening = true;
    const headerBytes = this.queue.take(headerLength);
    this.openHeader(headerBytes).then(
      (keys) => {
        this.opening = false;
        this.accept(keys);
        settle(() => this.drainBody(), callback);
      },
      (err: unknown) => callback(err as Error),
    );
  }

  public override _flush(callback: TransformCallback): void {
    settle(() => {
      const header = this.header;
      if (header === undefined || this.opening) throw new DecryptError();
      if (this.opener !== undefined) {
        this.push(this.opener.openFinal(this.queue.takeAll()));
        return;
      }
      const body = this.queue.takeAll();
      if (body.length < TAG_LENGTH) throw new DecryptError();
      const key = this.oneShotKey as Buffer;
      try {
        this.push(openOneShot(key, header.ah, this.context, body));
      } finally {
        key.fill(0);
      }
    }, callback);
  }

  public override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.opener?.destroy();
    this.oneShotKey?.fill(0);
    this.queue.clear();
    callback(error);
  }

  private accept(keys: DecryptStreamKeys): void {
    this.header = keys.header;
    this.context = keys.context;
    try {
      if (keys.header.suite === SUITE_FRAMED) {
        this.opener = new FrameOpener(keys.derived.subarray(0, KEY_LENGTH), keys.header.ah, keys.context, keys.header.frameSize as number);
      } else {
        this.oneShotKey = Buffer.from(keys.derived.subarray(0, KEY_LENGTH));
      }
    } finally {
      keys.derived.fill(0);
    }
  }

  private drainBody(): void {
    const opener = this.opener;
    if (opener === undefined) {
      if (this.queue.length > ENVELOPE_LIMITS.oneShotMaxPlaintext + TAG_LENGTH) throw new DecryptError();
      return;
    }
    // A full frame is followed by at least an empty final frame; with fewer bytes buffered the
    // next frame may be the final one, which only the end of the stream can tell.
    const full = opener.frameSize + TAG_LENGTH;
    while (this.queue.length >= full + MIN_FINAL_FRAME_LENGTH) {
      this.push(opener.openFrame(this.queue.take(full)));
    }
  }
}

