import { KeyringService } from '../../../../shared/catalog/keyring-service';
import type { Catalog, VersionState } from '../../../../shared/catalog/model';
import { SqliteCatalogStore } from '../../../../shared/adapters/local/sqlite-catalog-store';
import type { CatalogStore } from '../../../../shared/ports/catalog-store';
import type { KeyVault } from '../../../../shared/ports/key-vault';
import { MapFacts, MemoryAuditSink, MemoryKeyVault } from './fakes';

/** Shared setup of the KeyringService unit tests: a SQLite catalog in memory, fakes for the rest. */
export const T0 = new Date('2030-01-01T00:00:00.000Z');
// No quiet period and destruction opted in, so the reconcile tests exercise the count and escrow
// mechanics; the evidence rule has tests of its own (keyring-service.evidence.test.ts).
export const POLICY = { rotateEverySeconds: 1000, graceSeconds: 100, propagationSeconds: 10, retentionSeconds: 500, quietSeconds: 0, destroyAfterRetention: true };
export const ACTOR = { actor: 'cli:test' };

export function states(catalog: Catalog): Array<[number, VersionState]> {
  return catalog.versions.map((v) => [v.version, v.state]);
}

export function setup(overrides: { store?: CatalogStore; vault?: KeyVault; maxAttempts?: number; wrappingKeyIdFor?: (k: string) => string | undefined } = {}) {
  const store = new SqliteCatalogStore(':memory:');
  const vault = new MemoryKeyVault();
  const audit = new MemoryAuditSink();
  const facts = new MapFacts(5);
  let now = T0;
  const service = new KeyringService({
    store: overrides.store ?? store,
    vault: overrides.vault ?? vault,
    audit,
    facts,
    clock: () => now,
    maxAttempts: overrides.maxAttempts,
    wrappingKeyIdFor: overrides.wrappingKeyIdFor,
  });
  return { store, vault, audit, facts, service, setNow: (d: Date) => (now = d) };
}

