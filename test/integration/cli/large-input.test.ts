import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { TestHome, T0, at, expectFailure } from './support/test-home';
import { parseHeader, TAG_LENGTH } from '../../../shared/envelope/format';

const NOW = new Date(T0).toISOString();
const MIB = 1024 * 1024;

interface InspectJson { keyring: string; version: number; framed: boolean; frameSize?: number; headerLength: number; totalLength: number }

/**
 * A framed envelope file of `totalLength` bytes made of a real header (a valid key slot) and a
 * sparse body whose only written bytes are the final frame's length prefix: structurally valid,
 * so inspect and a header-only rewrap accept it, though reading it whole would not fit the
 * CLI's buffer.
 */
function sparseFramedEnvelope(path: string, realEnvelope: Buffer, fullFrames: number, finalLength: number): number {
  const header = parseHeader(realEnvelope);
  const frameSize = header.frameSize as number;
  const finalOffset = header.headerLength + fullFrames * (frameSize + TAG_LENGTH);
  const total = finalOffset + 4 + finalLength + TAG_LENGTH;
  writeFileSync(path, realEnvelope.subarray(0, header.headerLength));
  truncateSync(path, total);
  const fd = openSync(path, 'r+');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(finalLength, 0);
  writeSync(fd, prefix, 0, 4, finalOffset);
  closeSync(fd);
  return total;
}

describe('rekey CLI: inputs of any size and - for stdin/stdout', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  it('accepts the keyring as a positional argument and - for --in and --out', async () => {
    // Arrange
    const plain = randomBytes(1000);

    // Act
    const enc = await home.ok(['encrypt', 'pii', '--in', '-', '--out', '-'], { stdin: plain, now: NOW });
    const dec = await home.ok(['decrypt', '--in', '-', '--out', '-'], { stdin: enc.stdout });
    const both = await home.run(['encrypt', 'pii', '--keyring', 'other'], { stdin: plain, now: NOW });
    const help = await home.run(['encrypt', '--help']);

    // Assess
    expect(dec.stdout.equals(plain)).toBe(true);
    expectFailure(both, 2, /keyring given twice/);
    expect(help.stdout.toString('utf8')).toMatch(/Re-wrap them with 'rekey rewrap' before then/);
  });

  it('inspects an 8 GiB framed envelope file from its head alone', async () => {
    // Arrange
    const small = (await home.ok(['encrypt', 'pii', '--framed'], { stdin: randomBytes(10), now: NOW })).stdout;
    const path = home.path('huge.rekey');
    const total = sparseFramedEnvelope(path, small, 131_072, 100);

    // Act
    const info = await home.json<InspectJson>(['inspect', '--in', path]);

    // Assess
    expect(total).toBeGreaterThan(8 * 1024 * MIB);
    expect(info).toMatchObject({ keyring: 'pii', version: 1, framed: true, frameSize: 65_536, totalLength: total });
  });

  it('refuses an inspected file whose final frame prefix does not match its length, with the one decrypt message', async () => {
    // Arrange
    const small = (await home.ok(['encrypt', 'pii', '--framed'], { stdin: randomBytes(10), now: NOW })).stdout;
    const path = home.path('bad.rekey');
    const total = sparseFramedEnvelope(path, small, 3, 100);
    truncateSync(path, total + 1);

    // Act
    const r = await home.run(['inspect', '--in', path]);

    // Assess
    expectFailure(r, 3, /^rekey: unable to decrypt/);
  });

  it('re-wraps a 260 MiB file (over the in-memory limit) header only: new header, body copied unchanged', async () => {
    // Arrange
    const small = (await home.ok(['encrypt', 'pii', '--framed'], { stdin: randomBytes(10), now: NOW })).stdout;
    const path = home.path('big.rekey');
    const out = home.path('big.rekey.new');
    const total = sparseFramedEnvelope(path, small, 4160, 7);
    await home.ok(['rotate', 'pii'], { now: at(1) });
    await home.ok(['tick', '--at', at(1, 11)]);

    // Act
    await home.ok(['rewrap', '--in', path, '--out', out], { now: at(1, 12) });
    const info = await home.json<InspectJson>(['inspect', '--in', out]);
    const headerLength = parseHeader(small).headerLength;
    const sameTail = Buffer.alloc(4096);
    const fd = openSync(out, 'r');
    readSync(fd, sameTail, 0, 4096, total - 4096);
    closeSync(fd);
    const original = Buffer.alloc(4096);
    const fd2 = openSync(path, 'r');
    readSync(fd2, original, 0, 4096, total - 4096);
    closeSync(fd2);

    // Assess
    expect(total).toBeGreaterThan(256 * MIB);
    expect(info).toMatchObject({ version: 2, totalLength: total, headerLength });
    expect(sameTail.equals(original)).toBe(true);
  }, 60_000);

  it('a header-only rewrap of a real framed file still decrypts to the same plaintext', async () => {
    // Arrange
    const plain = randomBytes(3 * MIB + 5);
    const src = home.path('plain.bin');
    const enc = home.path('plain.rekey');
    const re = home.path('plain.rekey.new');
    const back = home.path('plain.back');
    writeFileSync(src, plain);
    await home.ok(['encrypt', 'pii', '--framed', '--in', src, '--out', enc], { now: NOW });
    await home.ok(['rotate', 'pii'], { now: at(1) });
    await home.ok(['tick', '--at', at(1, 11)]);

    // Act
    await home.ok(['rewrap', '--in', enc, '--out', re], { now: at(1, 12) });
    await home.ok(['decrypt', '--in', re, '--out', back], { now: at(1, 12) });

    // Assess
    expect(readFileSync(back).equals(plain)).toBe(true);
    expect(readFileSync(re).subarray(200).equals(readFileSync(enc).subarray(200))).toBe(true);
  });

  it('refuses a one-shot encrypt over 64 MiB before reading, from a file and from stdin, saying to use --framed', async () => {
    // Arrange
    const path = home.path('big.bin');
    writeFileSync(path, Buffer.alloc(0));
    truncateSync(path, 64 * MIB + 1);
    const out = home.path('big.rekey');

    // Act
    const fromFile = await home.run(['encrypt', 'pii', '--in', path, '--out', out], { now: NOW });
    const fromStdin = await home.run(['encrypt', 'pii'], { stdin: Buffer.alloc(64 * MIB + 1), now: NOW });

    // Assess
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/^rekey: '[^']*big.bin' is larger than 67108864 bytes; use --framed/m);
    expect(fromStdin.code).toBe(2);
    expect(fromStdin.stderr).toMatch(/^rekey: input is larger than 67108864 bytes; use --framed/m);
    expect(fromStdin.stdout.length).toBe(0);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('streams a framed decrypt to stdout: a truncated envelope stops with exit 3 after the frames that authenticated', async () => {
    // Arrange
    const plain = randomBytes(5 * 65_536 + 100);
    const enc = (await home.ok(['encrypt', 'pii', '--framed'], { stdin: plain, now: NOW })).stdout;
    const truncated = enc.subarray(0, enc.length - 50);

    // Act
    const whole = await home.ok(['decrypt'], { stdin: enc });
    const cut = await home.run(['decrypt'], { stdin: truncated });

    // Assess
    expect(whole.stdout.equals(plain)).toBe(true);
    expect(cut.code).toBe(3);
    expect(cut.stderr).toMatch(/^rekey: unable to decrypt/m);
    expect(cut.stdout.length % 65_536).toBe(0);
    expect(cut.stdout.length).toBeGreaterThan(0);
    expect(cut.stdout.equals(plain.subarray(0, cut.stdout.length))).toBe(true);
  });
});
