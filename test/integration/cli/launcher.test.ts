import { randomBytes } from 'node:crypto';
import { spawnCli } from './support/cli-harness';
import { TestHome, T0, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();

describe('bin/rekey.js (the real launcher, as a child process)', () => {
  let home: TestHome;
  beforeAll(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
  });
  afterAll(() => {
    home.remove();
  });

  describe('process boundary', () => {
    it('pipes binary stdin to stdout and exits 0, with REKEY_HOME naming the home', async () => {
      // Prepare
      const plaintext = randomBytes(1024 * 1024 + 3);

      // Act
      const enc = await spawnCli(['encrypt', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: plaintext, env: { REKEY_HOME: home.dir } });
      const dec = await home.run(['decrypt', '--context', 'tenant=acme'], { stdin: enc.stdout });

      // Assess
      expect({ code: enc.code, stderr: enc.stderr }).toEqual({ code: 0, stderr: `rekey: acted on local home ${home.dir}\n` });
      expect(dec.stdout.equals(plaintext)).toBe(true);
    });

    // Framed decrypt to stdout streams in bounded memory (issue 12): each frame is written only once
    // it authenticated, so what reaches stdout is a true prefix of the plaintext and a damaged later
    // frame ends the command with exit 3 and the one decrypt line. `--out FILE` is the all-or-nothing way.
    it('prints only authenticated frames when a later frame of a large envelope fails, and exits 3', async () => {
      // Prepare
      const plaintext = Buffer.alloc(4 * 1024 * 1024, 'A');
      const enc = (await home.ok(['encrypt', '--keyring', 'pii', '--framed'], { stdin: plaintext })).stdout;
      const tampered = Buffer.from(enc);
      const at = tampered.length - 50;
      tampered.writeUInt8(tampered.readUInt8(at) ^ 0x01, at);

      // Act
      const r = await spawnCli(['--home', home.dir, 'decrypt'], { stdin: tampered });

      // Assess
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect({ code: r.code, lines: lines.length }).toEqual({ code: 3, lines: 1 });
      expect(lines[0]).toMatch(/^rekey: unable to decrypt/);
      expect(r.stdout.length).toBeLessThan(plaintext.length);
      expect(r.stdout.equals(plaintext.subarray(0, r.stdout.length))).toBe(true);
    });

    it('exits 2 with one commander line for an unknown command, and 4 for an unknown keyring', async () => {
      // Act
      const unknownCommand = await spawnCli(['--home', home.dir, 'bogus']);
      const unknownKeyring = await spawnCli(['--home', home.dir, 'status', 'nope']);

      // Assess
      expectFailure(unknownCommand, 2, /^rekey: unknown command 'bogus'/);
      expectFailure(unknownKeyring, 4, /^rekey: unknown keyring 'nope'$/);
    });
  });
});
