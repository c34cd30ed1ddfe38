/**
 * The migration as an application team runs it from its own code: the application client
 * (createLocalRekeyClient, the same contract as createRekeyClient on AWS) seals and verifies,
 * and a FileCheckpointStore keeps the progress between runs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalRekeyClient } from '../../shared/app/client';
import { SqliteRecordStore } from '../../shared/adapters/local/sqlite-record-store';
import { BackendError } from '../../shared/errors';
import { FileCheckpointStore, migrateRecords, RecordStoreMigrationStore } from '../../shared/migrate';
import type { MigrationEnvelopes } from '../../shared/migrate';
import { scratchDir } from '../support/scratch';
import { FaultyStore } from './support';

describe('migrateRecords with the application client', () => {
  it('seals with the RekeyClient and resumes from a checkpoint file', async () => {
    // Prepare
    const home = scratchDir('rekey-migrate-app-');
    const rekey = await createLocalRekeyClient({ home, keyrings: ['orders'] });
    const envelopes: MigrationEnvelopes = rekey;
    const records = new SqliteRecordStore({ path: join(home, 'app-records.db') });
    for (let i = 0; i < 6; i += 1) await records.put({ id: `o-${i}`, keyring: 'orders', version: 1, envelope: Buffer.from(`order ${i}`) }, null);
    const file = join(home, 'migration.checkpoint.json');
    const store = new FaultyStore(new RecordStoreMigrationStore({ records, keyring: 'orders' }), { crashAfterWrites: 3 });
    try {
      // Act
      await expect(migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes, checkpoint: new FileCheckpointStore(file), batchSize: 2, concurrency: 1 })).rejects.toThrow('injected crash');
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { completed: boolean; done: number }>;
      store.faults = {};
      const report = await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes, checkpoint: new FileCheckpointStore(file), batchSize: 2 });
      // Assess
      expect(Object.values(saved)).toEqual([expect.objectContaining({ completed: false, done: 2 })]);
      expect(report).toMatchObject({ resumed: true, completed: true });
      expect(store.writes).toBe(6);
      for (let i = 0; i < 6; i += 1) {
        const env = (await records.get(`o-${i}`))?.envelope ?? Buffer.alloc(0);
        expect((await rekey.decrypt(env, { context: { 'rekey:record-id': `o-${i}` } })).plaintext.toString()).toBe(`order ${i}`);
      }
      expect(existsSync(`${file}.${process.pid}.tmp`)).toBe(false);
    } finally {
      records.close();
      await rekey.close();
    }
  });

  it('refuses a checkpoint file that is not one, and forgets a cleared migration', async () => {
    // Prepare
    const dir = scratchDir('rekey-migrate-ckpt-');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[1,2]');
    const good = new FileCheckpointStore(join(dir, 'good.json'));
    await good.put('m', { completed: false, cursor: 'c', done: 1, skipped: 0, failed: 0, updatedAt: new Date(0).toISOString() });
    // Act
    await good.clear('m');
    // Assess
    await expect(new FileCheckpointStore(bad).get('m')).rejects.toBeInstanceOf(BackendError);
    expect(await good.get('m')).toBeUndefined();
  });
});
