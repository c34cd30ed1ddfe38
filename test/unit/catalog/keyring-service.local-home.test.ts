/**
 * KeyringService on the real local backends of a rekey home: FileKeyVault, SqliteCatalogStore
 * and JsonlAuditSink, as the CLI wires them.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../support/scratch';
import { KeyringService } from '../../../shared/catalog/keyring-service';
import { FileKeyVault } from '../../../shared/adapters/local/file-key-vault';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { JsonlAuditSink } from '../../../shared/adapters/local/jsonl-audit-sink';
import { MapFacts, after } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');

describe('KeyringService (local home)', () => {
  let home: string;
  let store: SqliteCatalogStore;

  beforeEach(() => {
    home = scratchDir('rekey-home-');
    store = new SqliteCatalogStore(join(home, 'catalog.db'));
  });

  afterEach(() => {
    store.close();
    rmSync(home, { recursive: true, force: true });
  });

  describe('createKeyring and revoke', () => {
    it('stores version keys that the FileKeyVault unwraps only under their own context', async () => {
      // Prepare
      const vault = new FileKeyVault({ home });
      const audit = new JsonlAuditSink(join(home, 'audit.jsonl'));
      const service = new KeyringService({ store, vault, audit, facts: new MapFacts(0), clock: () => T0 });
      // Act
      await service.createKeyring('payments', undefined, { actor: 'cli:test' });
      const { catalog } = await service.revoke('payments', 1, { reason: 'drill', actor: 'cli:test', now: after(T0, 1) });
      // Assess
      const [v1, v2] = catalog.versions.map((v) => Buffer.from(v.wrappedKey!, 'base64'));
      const k1 = await vault.unwrap(v1!, { keyring: 'payments', version: '1' });
      const k2 = await vault.unwrap(v2!, { keyring: 'payments', version: '2' });
      expect(k1).toHaveLength(32);
      expect(k1.equals(k2)).toBe(false);
      await expect(vault.unwrap(v2!, { keyring: 'payments', version: '1' })).rejects.toThrow();
      expect(catalog.versions.map((v) => v.wrappingKeyId)).toEqual([await vault.wrappingKeyId(), await vault.wrappingKeyId()]);
      expect((await audit.read({ keyring: 'payments' })).map((e) => e.action)).toEqual(['keyring.created', 'version.revoked', 'version.activated']);
    });
  });
});
