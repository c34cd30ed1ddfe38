/**
 * Test fixture: a VersionKeyProvider with version keys derived from a seed, so that any
 * (keyring, version) has a key (tamper tests can redirect an envelope to another existing key)
 * and the lifecycle refusals the client must pass through can be switched on per version.
 */
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import type { KeyPurpose, VersionKeyProvider } from '../../../shared/envelope/api';
import { RevokedVersionError, UnknownKeyringError } from '../../../shared/errors';

export class TestProvider implements VersionKeyProvider {
  public readonly active = new Map<string, number>();
  public readonly revoked = new Set<string>();
  public readonly known: Set<string> | undefined;
  public encryptCalls = 0;
  public decryptCalls: Array<{ keyring: string; version: number; purpose: KeyPurpose }> = [];

  public constructor(private readonly seed = 'rekey-test-seed', options: { knownKeyrings?: string[] } = {}) {
    this.known = options.knownKeyrings === undefined ? undefined : new Set(options.knownKeyrings);
  }

  public keyOf(keyring: string, version: number): Buffer {
    return createHmac('sha256', this.seed).update(`${keyring}#${version}`).digest();
  }

  public async forEncrypt(keyring: string): Promise<{ version: number; key: Buffer }> {
    this.encryptCalls += 1;
    if (this.known !== undefined && !this.known.has(keyring)) throw new UnknownKeyringError(keyring);
    const version = this.active.get(keyring) ?? 1;
    return { version, key: this.keyOf(keyring, version) };
  }

  public async forDecrypt(keyring: string, version: number, purpose: KeyPurpose): Promise<Buffer> {
    this.decryptCalls.push({ keyring, version, purpose });
    if (this.known !== undefined && !this.known.has(keyring)) throw new UnknownKeyringError(keyring);
    if (this.revoked.has(`${keyring}#${version}`) && purpose !== 'reencrypt') throw new RevokedVersionError(keyring, version);
    return this.keyOf(keyring, version);
  }
}

/** Deterministic pseudo-random bytes (fast for MiB sizes): an AES-256-CTR keystream of a seed. */
export function pseudoRandomBytes(size: number, seed: number): Buffer {
  const key = createHash('sha256').update(`plaintext-${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Collects a Transform's output for a list of input chunks. */
export async function runTransform(stream: NodeJS.ReadWriteStream, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  return new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (d: Buffer) => out.push(d));
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(out)));
    void (async () => {
      for (const c of chunks) {
        if (!stream.write(c)) await new Promise((r) => stream.once('drain', r));
      }
      stream.end();
    })();
  });
}

/** Splits a buffer into chunks of the given sizes (cycled), for stream tests. */
export function splitChunks(buf: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let off = 0;
  let i = 0;
  while (off < buf.length) {
    const n = Math.max(1, sizes.length === 0 ? buf.length : (sizes[i % sizes.length] as number));
    chunks.push(buf.subarray(off, off + n));
    off += n;
    i += 1;
  }
  return chunks;
}
