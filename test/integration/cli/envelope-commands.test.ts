import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TestHome, T0, at, expectFailure } from './support/test-home';

interface StatusJson {
  home: string;
  keyrings: Array<{ keyring: string; policy: Record<string, string>; versions: Array<{ version: number; state: string; records: number }> }>;
}

const NOW = new Date(T0).toISOString();

describe('rekey CLI (local mode)', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome();
  });
  afterEach(() => {
    home.remove();
  });

  describe('keyring create / list', () => {
    it('creates a keyring with the policy given by flags and lists it with its active version', async () => {
      // Prepare / Act
      const created = await home.run(
        ['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '36h', '--propagation', '5m', '--retention', '60d', '--quiet', '3d', '--destroy-after-retention'],
        { now: NOW },
      );
      await home.ok(['keyring', 'create', 'ops'], { now: NOW });
      const list = await home.ok(['keyring', 'list']);
      const status = await home.json<StatusJson>(['status', '--json']);

      // Assess
      expect(created.code).toBe(0);
      expect(created.stdout.length).toBe(0);
      expect(created.stderr).toContain('created keyring pii');
      expect(list.stdout.toString()).toBe('ops\tactive v1\npii\tactive v1\n');
      const pii = status.keyrings.find((k) => k.keyring === 'pii');
      expect(pii?.policy).toEqual({ rotateEvery: '30d', grace: '36h', propagation: '5m', retention: '60d', quiet: '3d', destroyAfterRetention: true });
      // The defaults: a retired key must go unused a week before it is disabled, and destruction is opt-in.
      expect(status.keyrings.find((k) => k.keyring === 'ops')?.policy).toEqual({ rotateEvery: '90d', grace: '7d', propagation: '10m', retention: '30d', quiet: '7d', destroyAfterRetention: false });
      expect(pii?.versions).toEqual([expect.objectContaining({ version: 1, state: 'active', records: 0 })]);
    });

    it.each([
      [['--rotate-every', '30x']],
      [['--grace', '-1d']],
      [['--propagation', 'ten minutes']],
      [['--retention', '']],
      [['--rotate-every', '5m', '--propagation', '10m']],
      [['--rotate-every', '200000d']],
    ])('refuses the bad policy %j with exit 2 and creates nothing', async (flags) => {
      // Act
      const r = await home.run(['keyring', 'create', 'pii', ...flags]);

      // Assess
      expectFailure(r, 2, /^rekey: /);
      expectFailure(await home.run(['keyring', 'list']), 4, /no rekey home/);
    });

    it('refuses a duplicate with exit 5 and leaves the first keyring as it was', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d'], { now: NOW });
      const before = await home.snapshot();

      // Act
      const r = await home.run(['keyring', 'create', 'pii', '--rotate-every', '60d']);

      // Assess
      expectFailure(r, 5, /already exists/);
      expect(await home.snapshot()).toBe(before);
    });

    it('refuses a keyring name outside [a-z0-9._-] with exit 2', async () => {
      // Act
      const r = await home.run(['keyring', 'create', 'Bad Name']);

      // Assess
      expectFailure(r, 2, /invalid keyring name/);
    });
  });

  describe('encrypt / decrypt', () => {
    beforeEach(async () => {
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    });

    it('round-trips binary stdin to stdout without a context', async () => {
      // Prepare
      const plaintext = randomBytes(4099);

      // Act
      const enc = await home.ok(['encrypt', '--keyring', 'pii'], { stdin: plaintext });
      const dec = await home.ok(['decrypt'], { stdin: enc.stdout });

      // Assess
      expect(enc.stdout.includes(plaintext.subarray(0, 64))).toBe(false);
      expect(dec.stdout.equals(plaintext)).toBe(true);
      expect(dec.stderr).toBe('');
    });

    it('round-trips an empty input', async () => {
      // Act
      const enc = await home.ok(['encrypt', '--keyring', 'pii']);
      const dec = await home.ok(['decrypt'], { stdin: enc.stdout });

      // Assess
      expect(enc.stdout.length).toBeGreaterThan(0);
      expect(dec.stdout.length).toBe(0);
    });

    it('binds --context: the same context decrypts, a missing one exits 2, a wrong one exits 3', async () => {
      // Prepare
      const plaintext = Buffer.from('card 4111 1111 1111 1111');
      const enc = await home.ok(['encrypt', '--keyring', 'pii', '--context', 'tenant=acme', '--context', 'record=42'], { stdin: plaintext });

      // Act
      const same = await home.run(['decrypt', '--context', 'record=42', '--context', 'tenant=acme'], { stdin: enc.stdout });
      const missing = await home.run(['decrypt'], { stdin: enc.stdout });
      const wrong = await home.run(['decrypt', '--context', 'tenant=evil', '--context', 'record=42'], { stdin: enc.stdout });
      const partial = await home.run(['decrypt', '--context', 'tenant=acme'], { stdin: enc.stdout });

      // Assess
      expect(same.stdout.equals(plaintext)).toBe(true);
      expectFailure(missing, 2, /bound to a caller context/);
      expectFailure(wrong, 3, /unable to decrypt/);
      expectFailure(partial, 3, /unable to decrypt/);
    });

    it('binds the keys __proto__, constructor and prototype like any other key (none is dropped)', async () => {
      // Prepare: before, `__proto__=A` set the parser's prototype instead of a key: the envelope was unbound.
      const plaintext = Buffer.from('not for everyone');
      const pairs = ['--context', '__proto__=A', '--context', 'constructor=B', '--context', 'prototype=C'];
      const enc = await home.ok(['encrypt', '--keyring', 'pii', ...pairs], { stdin: plaintext });

      // Act
      const same = await home.run(['decrypt', ...pairs], { stdin: enc.stdout });
      const missing = await home.run(['decrypt'], { stdin: enc.stdout });
      const withoutProto = await home.run(['decrypt', '--context', 'constructor=B', '--context', 'prototype=C'], { stdin: enc.stdout });
      const otherProto = await home.run(['decrypt', '--context', '__proto__=Z', '--context', 'constructor=B', '--context', 'prototype=C'], { stdin: enc.stdout });
      const stored = await home.ok(['encrypt', '--keyring', 'pii', '--store-context', ...pairs], { stdin: plaintext });
      const info = await home.json<{ storedContext?: Record<string, string> }>(['inspect'], { stdin: stored.stdout });

      // Assess
      expect(same.stdout.equals(plaintext)).toBe(true);
      expectFailure(missing, 2, /bound to a caller context/);
      expectFailure(withoutProto, 3, /unable to decrypt/);
      expectFailure(otherProto, 3, /unable to decrypt/);
      expect(Object.entries(info.storedContext ?? {}).sort()).toEqual([['__proto__', 'A'], ['constructor', 'B'], ['prototype', 'C']]);
    });

    it('stores the context in clear with --store-context: inspect shows it and a different one is a mismatch', async () => {
      // Prepare
      const enc = await home.ok(['encrypt', '--keyring', 'pii', '--context', 'tenant=acme', '--store-context'], { stdin: Buffer.from('x') });

      // Act
      const info = await home.json<Record<string, unknown>>(['inspect'], { stdin: enc.stdout });
      const mismatch = await home.run(['decrypt', '--context', 'tenant=other'], { stdin: enc.stdout });
      const same = await home.ok(['decrypt', '--context', 'tenant=acme'], { stdin: enc.stdout });

      // Assess
      expect(info).toMatchObject({ keyring: 'pii', version: 1, contextBound: true, storedContext: { tenant: 'acme' } });
      expectFailure(mismatch, 3, /does not match/);
      expect(same.stdout.toString()).toBe('x');
    });

    it('streams a large input in framed mode from --in to --out and back', async () => {
      // Prepare
      const plaintext = randomBytes(5 * 1024 * 1024 + 17);
      const inPath = home.path('big.bin');
      const encPath = home.path('big.rk');
      const outPath = home.path('big.out');
      writeFileSync(inPath, plaintext);

      // Act
      const enc = await home.ok(['encrypt', '--keyring', 'pii', '--framed', '--in', inPath, '--out', encPath, '--context', 'file=big']);
      const info = await home.json<Record<string, unknown>>(['inspect', '--in', encPath]);
      const dec = await home.ok(['decrypt', '--in', encPath, '--out', outPath, '--context', 'file=big']);

      // Assess
      expect(enc.stdout.length + dec.stdout.length).toBe(0);
      expect(info).toMatchObject({ framed: true, keyring: 'pii', version: 1, contextBound: true });
      expect(readFileSync(outPath).equals(plaintext)).toBe(true);
    });

    it('streams framed output to stdout and decrypts it from stdin', async () => {
      // Prepare
      const plaintext = randomBytes(700_001);

      // Act
      const enc = await home.ok(['encrypt', '--keyring', 'pii', '--framed'], { stdin: plaintext });
      const dec = await home.ok(['decrypt'], { stdin: enc.stdout });

      // Assess
      expect(dec.stdout.equals(plaintext)).toBe(true);
    });

    it('writes --out atomically: a failed decrypt leaves neither the file nor a temporary beside it', async () => {
      // Prepare
      const plaintext = randomBytes(3 * 1024 * 1024);
      const encPath = home.path('doc.rk');
      const outPath = home.path('doc.out');
      await home.ok(['encrypt', '--keyring', 'pii', '--framed', '--out', encPath], { stdin: plaintext });
      const tampered = readFileSync(encPath);
      const flipAt = tampered.length - 100;
      tampered.writeUInt8(tampered.readUInt8(flipAt) ^ 0x01, flipAt);
      const tamperedPath = home.path('doc-tampered.rk');
      writeFileSync(tamperedPath, tampered);
      const truncatedPath = home.path('doc-truncated.rk');
      writeFileSync(truncatedPath, readFileSync(encPath).subarray(0, 2 * 1024 * 1024));

      // Act
      const bitFlip = await home.run(['decrypt', '--in', tamperedPath, '--out', outPath]);
      const truncated = await home.run(['decrypt', '--in', truncatedPath, '--out', outPath]);

      // Assess
      expectFailure(bitFlip, 3, /unable to decrypt/);
      expectFailure(truncated, 3, /unable to decrypt/);
      expect(existsSync(outPath)).toBe(false);
      expect(readdirSync(dirname(outPath)).filter((n) => n.includes('doc.out'))).toEqual([]);
    });

    it('refuses to overwrite an existing --out file of encrypt (one-shot mode)', async () => {
      // Prepare
      const outPath = home.path('exists.rk');
      writeFileSync(outPath, 'keep me');

      // Act
      const r = await home.run(['encrypt', '--keyring', 'pii', '--out', outPath], { stdin: Buffer.from('x') });

      // Assess
      expectFailure(r, 5, /EEXIST \(refusing to overwrite\)/);
      expect(readFileSync(outPath, 'utf8')).toBe('keep me');
    });
  });

  describe('inspect', () => {
    it('prints the header fields as JSON with no key and no secret', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      const plaintext = Buffer.from('the plaintext must not show');
      const enc = await home.ok(['encrypt', '--keyring', 'pii'], { stdin: plaintext });

      // Act
      const r = await home.ok(['inspect'], { stdin: enc.stdout });
      const info = JSON.parse(r.stdout.toString()) as Record<string, unknown>;

      // Assess
      expect(info).toMatchObject({ formatVersion: 1, keyring: 'pii', version: 1, framed: false, contextBound: false, totalLength: enc.stdout.length });
      expect(typeof info.suite).toBe('string');
      expect(typeof info.headerLength).toBe('number');
      expect(r.stdout.toString()).not.toContain('plaintext');
    });

    it.each([
      ['garbage', Buffer.from('this is not an envelope at all, just text\n')],
      ['empty', Buffer.alloc(0)],
      ['random bytes', randomBytes(300)],
    ])('exits 3 with the one decrypt message for %s input', async (_label, input) => {
      // Act
      const r = await home.run(['inspect'], { stdin: input });

      // Assess
      expectFailure(r, 3, /^rekey: unable to decrypt: the envelope is malformed, tampered with, or not for this key$/);
    });
  });

  describe('rewrap', () => {
    it('moves an envelope to the active version, keeps the payload bytes identical and still decrypts', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d'], { now: NOW });
      const plaintext = randomBytes(10_000);
      const v1 = (await home.ok(['encrypt', '--keyring', 'pii', '--context', 'id=7'], { stdin: plaintext, now: NOW })).stdout;
      await home.ok(['rotate', 'pii'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);

      // Act
      const v2 = (await home.ok(['rewrap'], { stdin: v1, now: at(1, 11) })).stdout;

      // Assess
      const i1 = await home.json<{ version: number; headerLength: number }>(['inspect'], { stdin: v1 });
      const i2 = await home.json<{ version: number; headerLength: number }>(['inspect'], { stdin: v2 });
      expect([i1.version, i2.version]).toEqual([1, 2]);
      expect(v2.subarray(i2.headerLength).equals(v1.subarray(i1.headerLength))).toBe(true);
      expect((await home.ok(['decrypt', '--context', 'id=7'], { stdin: v2, now: at(1, 11) })).stdout.equals(plaintext)).toBe(true);
    });

    it('re-wraps to an explicit --to-version only when it is the active version, and refuses any other with exit 2 naming it', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      await home.ok(['rotate', 'pii'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      const v2 = (await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('abc'), now: at(1, 11) })).stdout;

      // Act
      const same = await home.ok(['rewrap', '--to-version', '2'], { stdin: v2, now: at(1, 11) });
      const back = await home.run(['rewrap', '--to-version', '1'], { stdin: v2, now: at(1, 11) });
      const unknown = await home.run(['rewrap', '--to-version', '9'], { stdin: v2, now: at(1, 11) });

      // Assess
      expect((await home.json<{ version: number }>(['inspect'], { stdin: same.stdout })).version).toBe(2);
      expect((await home.ok(['decrypt'], { stdin: same.stdout, now: at(1, 11) })).stdout.toString()).toBe('abc');
      // Issue 11: back to the rotating v1 would undo the rotation.
      expectFailure(back, 2, /version 1 is not the active version of keyring 'pii' \(the active version is 2\)/);
      expectFailure(unknown, 2, /version 9 is not the active version of keyring 'pii' \(the active version is 2\)/);
    });

    it('refuses --to-version of a pending version (its propagation window not over) and writes no --out file', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      const v1 = (await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('abc'), now: NOW })).stdout;
      await home.ok(['rotate', 'pii'], { now: at(1) });
      const out = home.path('rewrapped.rekey');

      // Act
      const early = await home.run(['rewrap', '--to-version', '2', '--out', out], { stdin: v1, now: at(1) });

      // Assess
      const status = await home.json<StatusJson>(['status', '--json']);
      expect(status.keyrings[0]?.versions.find((v) => v.version === 2)?.state).toBe('pending');
      expectFailure(early, 2, /version 2 is not the active version of keyring 'pii' \(the active version is 1\)/);
      expect(existsSync(out)).toBe(false);
    });
  });
});
