/**
 * The keyring every store benchmark encrypts under: a local catalog (SQLite) and file key vault
 * in a folder of the run, a simulated clock, and `promote()`, which rotates and lets the
 * propagation window pass so that the new version is the active one, as a scheduled tick would.
 */
import { join } from 'node:path';
import { FileKeyVault } from '../../shared/adapters/local/file-key-vault';
import { SqliteCatalogStore } from '../../shared/adapters/local/sqlite-catalog-store';
import { KeyringService } from '../../shared/catalog';
import { EnvelopeClient } from '../../shared/envelope';
import { CatalogKeyProvider } from '../../shared/keys';
import type { AuditSink } from '../../shared/ports/audit-sink';
import type { RecordStore } from '../../shared/ports/record-store';
import { StoreFactsSource } from '../../shared/reencrypt';

/** The keyring's services, and how to move it on. */
export interface BenchKeyring {
  readonly keyrings: KeyringService;
  readonly provider: CatalogKeyProvider;
  readonly envelopes: EnvelopeClient;
  /** Rotates, passes the propagation window, ticks: returns the version now active. */
  promote(): Promise<number>;
  /** Closes the catalog database (the folder is the caller's). */
  close(): void;
}

const noAudit: AuditSink = { record: async () => undefined };
// A year between rotations: only promote() rotates.
const POLICY = { rotateEverySeconds: 365 * 86_400, graceSeconds: 7 * 86_400, propagationSeconds: 600, retentionSeconds: 30 * 86_400 };

/**
 * Creates `keyring` in `home`, its records counted in `records` (the store under test).
 *
 * @example
 * const k = await openBenchKeyring(home, 'bench', store);
 * const envelope = await k.envelopes.encrypt('bench', data);
 * const v2 = await k.promote();
 */
export async function openBenchKeyring(home: string, keyring: string, records: RecordStore): Promise<BenchKeyring> {
  let now = new Date('2030-01-01T00:00:00.000Z');
  const store = new SqliteCatalogStore(join(home, 'catalog.db'));
  const vault = new FileKeyVault({ home });
  const facts = new StoreFactsSource({ records, escrowVerified: async () => false });
  const keyrings = new KeyringService({ store, vault, audit: noAudit, clock: () => now, facts });
  const provider = new CatalogKeyProvider({ store, vault, clock: () => now.getTime() });
  await keyrings.createKeyring(keyring, POLICY, { actor: 'bench' });
  return {
    keyrings,
    provider,
    envelopes: new EnvelopeClient(provider),
    promote: async () => {
      await keyrings.rotate(keyring, { actor: 'bench', reason: 'bench' });
      now = new Date(now.getTime() + (POLICY.propagationSeconds + 1) * 1000);
      await keyrings.tick({ keyring });
      provider.invalidate(keyring);
      return (await provider.forEncrypt(keyring)).version;
    },
    close: () => store.close(),
  };
}
