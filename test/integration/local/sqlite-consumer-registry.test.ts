import { join } from 'node:path';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { SqliteConsumerRegistry } from '../../../shared/adapters/local/sqlite-consumer-registry';
import type { ConsumerDocument } from '../../../shared/consumers/consumer-document';
import { ConflictError } from '../../../shared/errors';
import { scratchDir } from '../../support/scratch';

const at = '2030-01-01T00:00:00.000Z';
const doc = (keyring: string, ...names: string[]): ConsumerDocument => ({
  schema: 1,
  keyring,
  consumers: names.map((n) => ({ principalArn: `arn:aws:iam::111122223333:role/${n}`, access: 'decrypt' as const, addedAt: at, addedBy: 'cli:alice' })),
});

describe('SqliteConsumerRegistry (a table of the home\'s catalog.db)', () => {
  let path: string;
  beforeEach(() => {
    path = join(scratchDir('rekey-registry-'), 'catalog.db');
  });

  it('keeps documents next to the catalogs of the same database without touching them', async () => {
    // Prepare
    const catalogs = new SqliteCatalogStore(path);
    const registry = new SqliteConsumerRegistry(path);
    try {
      // Act
      const revision = await registry.put(doc('pii', 'orders'), null);
      // Assess
      expect(await registry.get('pii')).toEqual({ document: doc('pii', 'orders'), revision });
      expect(await registry.list()).toEqual(['pii']);
      expect(await catalogs.list()).toEqual([]);
    } finally {
      registry.close();
      catalogs.close();
    }
  });

  it('lets one of two processes\' writers with the same revision win and refuses the other with ConflictError', async () => {
    // Prepare: two connections, as two CLI processes would open the home.
    const a = new SqliteConsumerRegistry(path);
    const b = new SqliteConsumerRegistry(path);
    try {
      const base = await a.put(doc('pii'), null);
      // Act
      const first = await a.put(doc('pii', 'a'), base);
      const second = b.put(doc('pii', 'b'), base);
      const create = b.put(doc('pii', 'c'), null);
      // Assess
      await expect(second).rejects.toBeInstanceOf(ConflictError);
      await expect(create).rejects.toBeInstanceOf(ConflictError);
      expect(await b.get('pii')).toEqual({ document: doc('pii', 'a'), revision: first });
    } finally {
      a.close();
      b.close();
    }
  });

  it('survives a reopen', async () => {
    // Prepare
    const a = new SqliteConsumerRegistry(path);
    await a.put(doc('ops', 'x'), null);
    a.close();
    // Act
    const b = new SqliteConsumerRegistry(path);
    try {
      // Assess
      expect((await b.get('ops'))?.document).toEqual(doc('ops', 'x'));
    } finally {
      b.close();
    }
  });
});
