import { readdir, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { FileEscrowStore } from '../../../../shared/adapters/local/file-escrow-store';
import { AlreadyExistsError, BackendError, ValidationError } from '../../../../shared/errors';
import type { EscrowRecord } from '../../../../shared/escrow';

function recordOf(version: number, fill = 1): EscrowRecord {
  return {
    schema: 1,
    keyring: 'payments',
    version,
    wrappedKey: Buffer.alloc(64, fill).toString('base64'),
    escrowKeyId: 'local',
    canary: Buffer.alloc(64, fill + 1).toString('base64'),
    createdAt: '2026-01-01T00:00:00.000Z',
    wrappingKeyId: 'local:abc',
  };
}

describe('FileEscrowStore', () => {
  let home: string;
  let store: FileEscrowStore;

  beforeEach(async () => {
    home = scratchDir('rekey-fes-');
    store = new FileEscrowStore({ home });
  });

  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  describe('put', () => {
    it('writes a read-only record file in a private folder, and nothing else', async () => {
      // Act
      await store.put(recordOf(2));
      // Assess
      const dir = join(home, 'escrow', 'payments');
      expect(await readdir(dir)).toEqual(['2.json']);
      expect((await stat(join(dir, '2.json'))).mode & 0o777).toBe(0o400);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect(await store.get('payments', 2)).toEqual(recordOf(2));
    });

    it('throws AlreadyExistsError for a second record of the same version and keeps the first', async () => {
      // Prepare
      await store.put(recordOf(2, 1));
      // Act
      const attempt = store.put(recordOf(2, 5));
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await store.get('payments', 2))?.wrappedKey).toBe(recordOf(2, 1).wrappedKey);
      expect(await readdir(join(home, 'escrow', 'payments'))).toEqual(['2.json']);
    });

    it('lets exactly one of concurrent writers of one version succeed', async () => {
      // Act
      const results = await Promise.allSettled([1, 2, 3, 4].map((f) => store.put(recordOf(7, f))));
      // Assess
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof AlreadyExistsError)).toBe(true);
    });

    it('throws ValidationError for a keyring name that would leave the folder', async () => {
      // Act
      const attempt = store.put({ ...recordOf(1), keyring: '../x' });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('get', () => {
    it('returns undefined when absent and BackendError for a corrupt file', async () => {
      // Prepare
      await store.put(recordOf(3));
      const file = join(home, 'escrow', 'payments', '3.json');
      await chmod(file, 0o600);
      await writeFile(file, '{"schema":1,');
      // Act
      const missing = await store.get('payments', 9);
      const corrupt = store.get('payments', 3);
      // Assess
      expect(missing).toBeUndefined();
      await expect(corrupt).rejects.toBeInstanceOf(BackendError);
    });
  });

  describe('list', () => {
    it('lists versions ascending and ignores other files', async () => {
      // Prepare
      for (const v of [12, 3, 1]) await store.put(recordOf(v));
      await writeFile(join(home, 'escrow', 'payments', 'notes.txt'), 'x');
      // Act
      const versions = await store.list('payments');
      const none = await store.list('other');
      // Assess
      expect(versions).toEqual([1, 3, 12]);
      expect(none).toEqual([]);
    });
  });
});
