/**
 * The PostgreSQL record store for the record-store contract and the sweep, crash and benchmark
 * suites: a fresh schema (unique name) on the throwaway server of jest's globalSetup
 * (REKEY_TEST_POSTGRES_URL), the records table created in it, and a peer store with its own
 * pool (another process holds its own connections the same way). close() drops the schema.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { PgRecordStore, type PgRecordStoreOptions } from '../../../shared/adapters/postgres/pg-record-store';
import type { ContractHandle } from '../record-store-contract';
import { postgresTestUrl } from '../postgres-server';

/**
 * Opens a fresh schema with the records table, a store on one pool and a peer store on another.
 *
 * @example
 * const { store, peer, pool, url, schema, close } = await openPostgresContractStore();
 */
export async function openPostgresContractStore(
  options: Omit<PgRecordStoreOptions, 'pool' | 'url' | 'schema'> = {},
): Promise<ContractHandle & { store: PgRecordStore; peer: PgRecordStore; pool: Pool; peerPool: Pool; url: string; schema: string }> {
  const url = postgresTestUrl();
  const schema = `rekey_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const pool = new Pool({ connectionString: url, max: 8 });
  const peerPool = new Pool({ connectionString: url, max: 8 });
  const store = new PgRecordStore({ ...options, pool, schema });
  const peer = new PgRecordStore({ ...options, pool: peerPool, schema });
  await store.ensureTable();
  return {
    store,
    peer,
    pool,
    peerPool,
    url,
    schema,
    close: async () => {
      try {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await Promise.all([store.close(), peer.close()]);
        await Promise.all([pool.end(), peerPool.end()]);
      }
    },
  };
}
