import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { FileKeyVault } from '../../../../shared/adapters/local/file-key-vault';
import { KeyUnavailableError, ValidationError } from '../../../../shared/errors';

async function tempHome(): Promise<string> {
  return scratchDir('rekey-vault-');
}

const CTX = { keyring: 'payments', version: '1' };

describe('FileKeyVault', () => {
  describe('constructor', () => {
    it('throws ValidationError without a home folder', () => {
      // Act / Assess
      expect(() => new FileKeyVault({ home: '' })).toThrow(ValidationError);
    });
  });

  describe('generateKey', () => {
    it('creates master.key with mode 0600 holding 32 bytes, and the id is its SHA-256 prefix', async () => {
      // Prepare
      const home = path.join(await tempHome(), 'nested', 'home');
      const vault = new FileKeyVault({ home });
      // Act
      const generated = await vault.generateKey(CTX);
      // Assess
      const stat = await fs.stat(path.join(home, 'master.key'));
      const master = await fs.readFile(path.join(home, 'master.key'));
      expect(stat.mode & 0o777).toBe(0o600);
      expect(master).toHaveLength(32);
      expect(generated.wrappingKeyId).toBe(`local:${createHash('sha256').update(master).digest('hex').slice(0, 8)}`);
      expect(generated.plaintext).toHaveLength(32);
      expect(generated.wrapped).toHaveLength(61);
      expect(generated.wrapped[0]).toBe(1);
      expect((await fs.readdir(home)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('creates one master key when many vaults race on a fresh home', async () => {
      // Prepare
      const home = await tempHome();
      const vaults = Array.from({ length: 20 }, () => new FileKeyVault({ home }));
      // Act
      const generated = await Promise.all(vaults.map((v) => v.generateKey(CTX)));
      // Assess
      expect(new Set(generated.map((g) => g.wrappingKeyId)).size).toBe(1);
      for (const [i, g] of generated.entries()) expect((await vaults[(i + 1) % 20]!.unwrap(g.wrapped, CTX)).equals(g.plaintext)).toBe(true);
      expect((await fs.readdir(home)).sort()).toEqual(['master.key']);
    });
  });

  describe('unwrap', () => {
    it('returns the key under the same context, across vault instances', async () => {
      // Prepare
      const home = await tempHome();
      const generated = await new FileKeyVault({ home }).generateKey(CTX);
      // Act
      const key = await new FileKeyVault({ home }).unwrap(generated.wrapped, { version: '1', keyring: 'payments' }, generated.wrappingKeyId);
      // Assess
      expect(key.equals(generated.plaintext)).toBe(true);
    });

    it('throws KeyUnavailableError under another context, a tampered blob or another master key', async () => {
      // Prepare
      const vault = new FileKeyVault({ home: await tempHome() });
      const generated = await vault.generateKey(CTX);
      const tampered = Buffer.from(generated.wrapped);
      tampered[20]! ^= 1;
      const other = new FileKeyVault({ home: await tempHome() });
      // Act / Assess
      await expect(vault.unwrap(generated.wrapped, { keyring: 'payments', version: '2' })).rejects.toThrow(KeyUnavailableError);
      await expect(vault.unwrap(generated.wrapped, { keyring: 'payments', version: '1', extra: '' })).rejects.toThrow(KeyUnavailableError);
      await expect(vault.unwrap(tampered, CTX)).rejects.toThrow(KeyUnavailableError);
      await expect(vault.unwrap(generated.wrapped.subarray(0, 60), CTX)).rejects.toThrow(KeyUnavailableError);
      await expect(other.unwrap(generated.wrapped, CTX)).rejects.toThrow(KeyUnavailableError);
    });

    it('throws KeyUnavailableError for another wrapping key id', async () => {
      // Prepare
      const vault = new FileKeyVault({ home: await tempHome() });
      const generated = await vault.generateKey(CTX);
      // Act / Assess
      await expect(vault.unwrap(generated.wrapped, CTX, 'local:00000000')).rejects.toThrow(KeyUnavailableError);
    });
  });

  describe('wrap', () => {
    it('wraps existing material with a fresh IV each time', async () => {
      // Prepare
      const vault = new FileKeyVault({ home: await tempHome() });
      const material = Buffer.alloc(32, 5);
      // Act
      const a = await vault.wrap(material, CTX);
      const b = await vault.wrap(material, CTX);
      // Assess
      expect(a.equals(b)).toBe(false);
      expect((await vault.unwrap(a, CTX)).equals(material)).toBe(true);
      await expect(vault.wrap(Buffer.alloc(16), CTX)).rejects.toThrow(ValidationError);
    });
  });

  describe('master key file', () => {
    it.each([0o644, 0o640, 0o604, 0o660])('refuses a key file with mode %o and leaves it unchanged', async (mode) => {
      // Prepare
      const home = await tempHome();
      const file = path.join(home, 'master.key');
      await fs.writeFile(file, Buffer.alloc(32, 1), { mode: 0o600 });
      await fs.chmod(file, mode);
      // Act / Assess
      await expect(new FileKeyVault({ home }).generateKey(CTX)).rejects.toThrow(KeyUnavailableError);
      expect((await fs.readFile(file)).equals(Buffer.alloc(32, 1))).toBe(true);
    });

    it('uses an existing 0600 key file', async () => {
      // Prepare
      const home = await tempHome();
      await fs.writeFile(path.join(home, 'master.key'), Buffer.alloc(32, 1), { mode: 0o600 });
      // Act
      const id = await new FileKeyVault({ home }).wrappingKeyId();
      // Assess
      expect(id).toBe(`local:${createHash('sha256').update(Buffer.alloc(32, 1)).digest('hex').slice(0, 8)}`);
    });

    it('refuses a key file of the wrong size or a symbolic link', async () => {
      // Prepare
      const short = await tempHome();
      await fs.writeFile(path.join(short, 'master.key'), Buffer.alloc(31), { mode: 0o600 });
      const linked = await tempHome();
      await fs.writeFile(path.join(linked, 'real.key'), Buffer.alloc(32), { mode: 0o600 });
      await fs.symlink(path.join(linked, 'real.key'), path.join(linked, 'master.key'));
      // Act / Assess
      await expect(new FileKeyVault({ home: short }).generateKey(CTX)).rejects.toThrow(KeyUnavailableError);
      await expect(new FileKeyVault({ home: linked }).generateKey(CTX)).rejects.toThrow(KeyUnavailableError);
    });

    it('retries after a refused file is fixed', async () => {
      // Prepare
      const home = await tempHome();
      const file = path.join(home, 'master.key');
      await fs.writeFile(file, Buffer.alloc(32, 2), { mode: 0o644 });
      await fs.chmod(file, 0o644);
      const vault = new FileKeyVault({ home });
      await expect(vault.wrappingKeyId()).rejects.toThrow(KeyUnavailableError);
      // Act
      await fs.chmod(file, 0o600);
      // Assess
      expect(await vault.wrappingKeyId()).toMatch(/^local:[0-9a-f]{8}$/);
    });
  });
});

describe('FileKeyVault createKey', () => {
  const CONTEXT = { keyring: 'payments', version: '1' };

  it("refuses to create a missing key with 'never', naming the path", async () => {
    // Prepare
    const home = scratchDir('vault-never-');
    const vault = new FileKeyVault({ home, createKey: 'never' });
    // Act / Assess
    await expect(vault.generateKey(CONTEXT)).rejects.toThrow(`master key missing at ${path.join(home, 'master.key')}: restore it from your backup; rekey never creates one for an existing home`);
    await expect(vault.presentKeyId()).resolves.toBeUndefined();
    expect(existsSync(path.join(home, 'master.key'))).toBe(false);
  });

  it('asks its rule when the key is missing, and creates only when the rule allows', async () => {
    // Prepare
    const home = scratchDir('vault-rule-');
    let allow = false;
    const vault = new FileKeyVault({ home, createKey: () => allow });
    // Act
    const refused = await vault.generateKey(CONTEXT).then(() => 'created', (err: Error) => err.constructor.name);
    allow = true;
    const generated = await vault.generateKey(CONTEXT);
    // Assess
    expect(refused).toBe('KeyUnavailableError');
    await expect(vault.presentKeyId()).resolves.toBe(generated.wrappingKeyId);
  });

  it('names the keyring and both key ids when asked to unwrap under another key', async () => {
    // Prepare
    const home = scratchDir('vault-foreign-');
    const vault = new FileKeyVault({ home });
    const generated = await vault.generateKey(CONTEXT);
    // Act / Assess
    await expect(vault.unwrap(generated.wrapped, CONTEXT, 'local:00000000')).rejects.toThrow(`master key at ${path.join(home, 'master.key')} is not the one versions of 'payments' were wrapped under (local:00000000 vs ${generated.wrappingKeyId})`);
  });
});
