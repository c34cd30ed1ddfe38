import { SqliteCheckpointStore } from '../../../shared/adapters/local/sqlite-checkpoint-store';
import { BackendError, ValidationError } from '../../../shared/errors';
describe('SqliteCheckpointStore', () => {
  describe('put', () => {
    it('keeps a checkpoint until cleared', async () => {
      // Prepare
      const store = new SqliteCheckpointStore({ path: ':memory:' });
      const checkpoint = { cursor: 'abc', completed: false, done: 3, skipped: 1, failed: 0, updatedAt: '2030-01-01T00:00:00.000Z' };
      // Act
      await store.put('pii:1:rewrap', checkpoint);
      const read = await store.get('pii:1:rewrap');
      await store.clear('pii:1:rewrap');
      // Assess
      expect(read).toEqual(checkpoint);
      expect(await store.get('pii:1:rewrap')).toBeUndefined();
      store.close();
    });

    it('throws ValidationError for an empty sweep id', async () => {
      // Prepare
      const store = new SqliteCheckpointStore({ path: ':memory:' });
      // Act / Assess
      await expect(store.put('', { completed: true, done: 0, skipped: 0, failed: 0, updatedAt: 'x' })).rejects.toBeInstanceOf(ValidationError);
      store.close();
    });
  });

  describe('constructor', () => {
    it('throws BackendError when the database cannot be opened', () => {
      // Act / Assess
      expect(() => new SqliteCheckpointStore({ path: '/nonexistent-dir/x/records.db' })).toThrow(BackendError);
    });
  });
});
