/**
 * The SQLite record store for the record-store contract and the sweep suites: a fresh database
 * file in the run's scratch folder, and a second connection to the same file as the peer (two
 * processes of the local CLI share the file the same way).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import type { ContractHandle } from '../record-store-contract';
import { scratchDir } from '../scratch';

/**
 * Opens a fresh SQLite record store and a peer connection to the same file.
 *
 * @example
 * const { store, peer, close } = await openSqliteContractStore();
 */
export async function openSqliteContractStore(): Promise<ContractHandle & { path: string }> {
  const dir = scratchDir('rekey-sqlite-store-');
  const path = join(dir, 'records.db');
  const store = new SqliteRecordStore({ path });
  const peer = new SqliteRecordStore({ path });
  return {
    store,
    peer,
    path,
    close: async () => {
      store.close();
      peer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
