/**
 * The real local stack for re-encryption tests: FileKeyVault, SqliteCatalogStore,
 * KeyringService, CatalogKeyProvider, EnvelopeClient, MemoryCacheStore, JsonlAuditSink and the
 * SQLite record and checkpoint stores, in a fresh temporary home, with a virtual clock.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { FileKeyVault } from '../../../../shared/adapters/local/file-key-vault';
import { JsonlAuditSink } from '../../../../shared/adapters/local/jsonl-audit-sink';
import { MemoryCacheStore } from '../../../../shared/adapters/local/memory-cache-store';
import { SqliteCatalogStore } from '../../../../shared/adapters/local/sqlite-catalog-store';
import { SqliteCheckpointStore } from '../../../../shared/adapters/local/sqlite-checkpoint-store';
import { SqliteRecordStore } from '../../../../shared/adapters/local/sqlite-record-store';
import { KeyringService } from '../../../../shared/catalog';
import type { VersionState } from '../../../../shared/catalog/model';
import { EnvelopeClient } from '../../../../shared/envelope';
import { CatalogKeyProvider } from '../../../../shared/keys';
import type { CatalogStore } from '../../../../shared/ports/catalog-store';
import type { RecordStore } from '../../../../shared/ports/record-store';
import { RecordService, StoreFactsSource, Sweeper, withHeaderRewrap } from '../../../../shared/reencrypt';

/** Policy of test keyrings: rotation only when asked, 10 minutes of propagation, 7 days of grace. */
export const TEST_POLICY = { rotateEverySeconds: 10 * 365 * 86_400, graceSeconds: 7 * 86_400, propagationSeconds: 600, retentionSeconds: 30 * 86_400 };

/** A fresh local stack; `close()` removes the home. */
export class LocalStack {
  public readonly home: string;
  public readonly vault: FileKeyVault;
  public readonly catalogStore: SqliteCatalogStore;
  public readonly audit: JsonlAuditSink;
  public readonly cacheStore: MemoryCacheStore;
  public readonly records: SqliteRecordStore;
  public readonly checkpoints: SqliteCheckpointStore;
  public readonly facts: StoreFactsSource;
  public readonly keyrings: KeyringService;
  public readonly provider: CatalogKeyProvider;
  public readonly envelopes: EnvelopeClient;
  public now = new Date('2030-01-01T00:00:00.000Z');

  public constructor(options: { recordsPath?: string; catalogStore?: (inner: CatalogStore) => CatalogStore } = {}) {
    this.home = scratchDir('rekey-reencrypt-');
    this.vault = new FileKeyVault({ home: this.home });
    this.catalogStore = new SqliteCatalogStore(join(this.home, 'catalog.db'));
    const catalogs = options.catalogStore?.(this.catalogStore) ?? this.catalogStore;
    this.audit = new JsonlAuditSink(join(this.home, 'audit.jsonl'));
    this.cacheStore = new MemoryCacheStore();
    this.records = new SqliteRecordStore(options.recordsPath === undefined ? { home: this.home } : { path: options.recordsPath });
    this.checkpoints = new SqliteCheckpointStore({ home: this.home });
    this.facts = new StoreFactsSource({ records: this.records, cache: this.cacheStore, escrowVerified: async () => true });
    this.keyrings = new KeyringService({ store: catalogs, vault: this.vault, audit: this.audit, clock: () => this.now, facts: this.facts });
    this.provider = new CatalogKeyProvider({ store: catalogs, vault: this.vault, clock: () => this.now.getTime() });
    this.envelopes = new EnvelopeClient(this.provider);
  }

  /** A RecordService over this stack (optionally over a wrapped record store). */
  public recordService(records: RecordStore = this.records): RecordService {
    return new RecordService({ records, envelopes: this.envelopes, versions: this.provider });
  }

  /**
   * A Sweeper over this stack as the CLI composes it (header-only re-wrap on the SQLite store),
   * optionally over another record store or with the plain EnvelopeClient.
   */
  public sweeper(records: RecordStore = this.records, options: { headerRewrap?: boolean; freshCatalog?: boolean } = {}): Sweeper {
    const envelopes = options.headerRewrap === false ? this.envelopes : withHeaderRewrap(this.envelopes, this.provider);
    return new Sweeper({ records, envelopes, versions: this.provider, ...(options.freshCatalog === true ? { catalog: this.keyrings } : {}) });
  }

  /** The origin version of every record of `keyring`, by id. */
  public async origins(keyring: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
      const page = await this.records.scanByOrigin(keyring, Number.MAX_SAFE_INTEGER, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      for (const r of page.items) out.set(r.id, r.originVersion);
      cursor = page.cursor;
    }
    return out;
  }

  /** Creates a keyring with the test policy. */
  public async createKeyring(name: string): Promise<void> {
    await this.keyrings.createKeyring(name, TEST_POLICY, { actor: 'test' });
  }

  /** Rotates and, once the propagation window has passed, promotes: returns the new active version. */
  public async rotateAndPromote(name: string): Promise<number> {
    await this.keyrings.rotate(name, { actor: 'test', reason: 'test rotation' });
    this.now = new Date(this.now.getTime() + (TEST_POLICY.propagationSeconds + 1) * 1000);
    await this.keyrings.tick({ keyring: name });
    this.provider.invalidate(name);
    const catalog = await this.keyrings.get(name);
    const active = catalog.versions.find((v) => v.state === 'active');
    if (active === undefined) throw new Error('no active version after promotion');
    return active.version;
  }

  /** The state of a version as stored in the catalog. */
  public async stateOf(name: string, version: number): Promise<VersionState | undefined> {
    return (await this.keyrings.get(name)).versions.find((v) => v.version === version)?.state;
  }

  public close(): void {
    this.records.close();
    this.checkpoints.close();
    rmSync(this.home, { recursive: true, force: true });
  }
}
