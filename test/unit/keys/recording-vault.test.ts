import { RecordingKeyVault } from '../../../shared/keys/recording-vault';
import { SqliteKeyUseLog } from '../../../shared/adapters/local/sqlite-key-use-log';
import { DecryptError } from '../../../shared/errors';
import { MemoryKeyVault } from '../catalog/support/fakes';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

async function setup(options: { throttleMs?: number; strict?: boolean; skip?: (k: string, v: number) => boolean } = {}) {
  const inner = new MemoryKeyVault();
  const log = new SqliteKeyUseLog(':memory:', { clock: () => T0 });
  let now = T0;
  const vault = new RecordingKeyVault({ vault: inner, log, clock: () => now, ...options });
  const v1 = await inner.generateKey({ keyring: 'pii', version: '1' });
  return { inner, log, vault, v1, setNow: (t: number) => (now = t) };
}

describe('RecordingKeyVault', () => {
  describe('unwrap', () => {
    it('records a use of the version for a successful unwrap under { keyring, version }', async () => {
      // Prepare
      const { vault, log, v1 } = await setup();
      // Act
      const key = await vault.unwrap(v1.wrapped, { keyring: 'pii', version: '1' });
      // Assess
      expect(key.equals(v1.plaintext)).toBe(true);
      expect(await log.lastUse('pii')).toEqual(new Map([[1, { at: new Date(T0), by: 'local' }]]));
    });

    it('records nothing when the unwrap fails, or for another context', async () => {
      // Prepare
      const { vault, inner, log, v1 } = await setup();
      const other = await inner.generateKey({ purpose: 'escrow', keyring: 'pii', version: '2' });
      // Act
      await expect(vault.unwrap(v1.wrapped, { keyring: 'pii', version: '2' })).rejects.toThrow(DecryptError);
      await vault.unwrap(other.wrapped, { purpose: 'escrow', keyring: 'pii', version: '2' });
      // Assess
      expect((await log.lastUse('pii')).size).toBe(0);
    });

    it('writes at most once per version per throttle interval, and again after it', async () => {
      // Prepare
      const { vault, log, v1, setNow } = await setup({ throttleMs: 60_000 });
      const context = { keyring: 'pii', version: '1' };
      // Act
      await vault.unwrap(v1.wrapped, context);
      setNow(T0 + 59_000);
      await vault.unwrap(v1.wrapped, context);
      const throttled = (await log.lastUse('pii')).get(1)?.at;
      setNow(T0 + 60_000);
      await vault.unwrap(v1.wrapped, context);
      // Assess
      expect(throttled).toEqual(new Date(T0));
      expect((await log.lastUse('pii')).get(1)?.at).toEqual(new Date(T0 + 60_000));
    });

    it('records nothing for a version the skip filter names (an encrypting version)', async () => {
      // Prepare
      const { vault, log, v1 } = await setup({ skip: (k, v) => k === 'pii' && v === 1 });
      // Act
      await vault.unwrap(v1.wrapped, { keyring: 'pii', version: '1' });
      // Assess
      expect((await log.lastUse('pii')).size).toBe(0);
    });

    it('fails the unwrap and zeroes the key when the use cannot be recorded, unless told otherwise', async () => {
      // Prepare
      const strict = await setup();
      const lenient = await setup({ strict: false });
      strict.log.close();
      lenient.log.close();
      // Act / Assess
      await expect(strict.vault.unwrap(strict.v1.wrapped, { keyring: 'pii', version: '1' })).rejects.toThrow(/key-use database/);
      expect((await lenient.vault.unwrap(lenient.v1.wrapped, { keyring: 'pii', version: '1' })).equals(lenient.v1.plaintext)).toBe(true);
    });
  });
});
