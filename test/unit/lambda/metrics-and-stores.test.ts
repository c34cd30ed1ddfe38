import { ConflictError, ValidationError } from '../../../shared/errors';
import type { RecordStore, StoredRecord } from '../../../shared/ports/record-store';
import { ItemRecordView } from '../../../shared/usecases/item-record-view';
import { LazyCacheStore } from '../../../shared/adapters/redis/lazy-cache-store';
import { PowertoolsMetricsPublisher } from '../../../shared/lambda/rekey-metrics';
import { MemoryCacheStore } from '../../../shared/adapters/local/memory-cache-store';

function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return lines.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('{'));
}

describe('PowertoolsMetricsPublisher', () => {
  describe('put', () => {
    it('emits one EMF line in namespace Rekey with exactly the given dimensions', () => {
      // Prepare
      const metrics = new PowertoolsMetricsPublisher({ serviceName: 'rekey-test' });
      // Act
      const lines = captureStdout(() => metrics.put('EscrowDrillFailures', 0, { keyring: 'payments', version: 3 }));
      // Assess
      expect(lines).toHaveLength(1);
      const emf = JSON.parse(lines[0]!);
      expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Rekey', Dimensions: [['keyring', 'version']], Metrics: [{ Name: 'EscrowDrillFailures', Unit: 'Count' }] });
      expect(emf).toMatchObject({ keyring: 'payments', version: '3', EscrowDrillFailures: 0 });
      expect(emf.service).toBeUndefined();
    });

    it('drops a non-finite value instead of publishing garbage', () => {
      // Prepare
      const metrics = new PowertoolsMetricsPublisher({ serviceName: 'rekey-test' });
      // Act
      const lines = captureStdout(() => metrics.put('KmsCalls', Number.NaN, { function: 'rotate' }));
      // Assess
      expect(lines).toEqual([]);
    });
  });
});

describe('LazyCacheStore', () => {
  describe('first use', () => {
    it('connects once, and again after a failed attempt', async () => {
      // Prepare
      let attempts = 0;
      const inner = new MemoryCacheStore();
      const lazy = new LazyCacheStore(async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('not yet');
        return inner;
      });
      // Act
      const first = await lazy.countByVersion('k').catch((e: unknown) => e);
      await lazy.set('a', Buffer.from('v'), 60, 'k', 1);
      const counts = await lazy.countByVersion('k');
      // Assess
      expect(first).toBeInstanceOf(Error);
      expect(attempts).toBe(2);
      expect([...counts]).toEqual([[1, 1]]);
      expect(lazy.connected).toBe(true);
    });
  });
});

describe('ItemRecordView', () => {
  const record: StoredRecord = { id: 'r1', keyring: 'k', version: 1, originVersion: 1, envelope: Buffer.from('old'), revision: 'rev-1' };

  function innerStore(put: RecordStore['put']): RecordStore {
    return {
      get: async () => ({ ...record, revision: 'rev-live' }),
      put,
      delete: async () => undefined,
      scanByVersion: async () => ({ items: [] }),
      countByVersion: async () => new Map(),
      scanByOrigin: async () => ({ items: [] }),
      countByOrigin: async () => new Map(),
    };
  }

  describe('scan and put', () => {
    it('shows only its record, serves the first read from memory and records a successful write', async () => {
      // Prepare
      const writes: unknown[] = [];
      const view = new ItemRecordView(innerStore(async (r, expected) => {
        writes.push([r.version, expected]);
        return 'rev-2';
      }), record);
      // Act
      const page = await view.scanByVersion('k', 1);
      const other = await view.scanByVersion('k', 2);
      const first = await view.get('r1');
      const second = await view.get('r1');
      await view.put({ id: 'r1', keyring: 'k', version: 2, envelope: Buffer.from('new') }, 'rev-1');
      // Assess
      expect(page.items).toEqual([{ id: 'r1', keyring: 'k', version: 1, originVersion: 1, revision: 'rev-1' }]);
      expect(other.items).toEqual([]);
      expect(first).toBe(record);
      expect(second?.revision).toBe('rev-live');
      expect(writes).toEqual([[2, 'rev-1']]);
      expect(view.written).toBe(true);
      expect([...(await view.countByVersion('k'))]).toEqual([[2, 1]]);
    });

    it('records a lost conditional write and refuses unconditional or foreign writes', async () => {
      // Prepare
      const view = new ItemRecordView(innerStore(async () => {
        throw new ConflictError('changed');
      }), record);
      // Act
      const lost = await view.put({ id: 'r1', keyring: 'k', version: 2, envelope: Buffer.from('x') }, 'rev-1').catch((e: unknown) => e);
      const blind = await view.put({ id: 'r1', keyring: 'k', version: 2, envelope: Buffer.from('x') }).catch((e: unknown) => e);
      const foreign = await view.put({ id: 'r2', keyring: 'k', version: 2, envelope: Buffer.from('x') }, 'rev').catch((e: unknown) => e);
      // Assess
      expect(lost).toBeInstanceOf(ConflictError);
      expect(view.conflicted).toBe(true);
      expect(view.written).toBe(false);
      expect(blind).toBeInstanceOf(ValidationError);
      expect(foreign).toBeInstanceOf(ValidationError);
    });
  });
});
