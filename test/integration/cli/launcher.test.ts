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
      expect({ code: enc.code, stderr: enc.stderr }).toEqual({ code: 0, stderr: '' });
      expect(dec.stdout.equals(plaintext)).toBe(true);
    });

    it('prints no partial plaintext when a large envelope fails to authenticate, and exits 3', async () => {
      // Prepare
      const plaintext = Buffer.alloc(4 * 1024 * 1024, 'A');
      const enc = (await home.ok(['encrypt', '--keyring', 'pii', '--framed'], { stdin: plaintext })).stdout;
      const tampered = Buffer.from(enc);
      const at = tampered.length - 50;
      tampered.writeUInt8(tampered.readUInt8(at) ^ 0x01, at);

      // Act
      const r = await spawnCli(['--home', home.dir, 'decrypt'], { stdin: tampered });

      // Assess
      expectFailure(r, 3, /^rekey: unable to decrypt/);
    });

    it('exits 2 with one commander line for an unknown command, and 4 for an unknown keyring', async () => {
      // Act
      const unknownCommand = await spawnCli(['--home', home.dir, 'bogus']);
      const unknownKeyring = await spawnCli(['--home', home.dir, 'status', 'nope']);

      // Assess
      expectFailure(unknownCommand, 2, /^error: unknown command 'bogus'/);
      expectFailure(unknownKeyring, 4, /^rekey: unknown keyring 'nope'$/);
    });
  });
});
