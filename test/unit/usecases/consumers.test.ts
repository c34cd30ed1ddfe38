import { SqliteConsumerRegistry } from '../../../shared/adapters/local/sqlite-consumer-registry';
import type { ConsumerDocument } from '../../../shared/consumers/consumer-document';
import { ConflictError, LimitExceededError, UnknownKeyringError, ValidationError } from '../../../shared/errors';
import type { AuditEvent } from '../../../shared/ports/audit-sink';
import type { ConsumerRegistry } from '../../../shared/ports/consumer-registry';
import { addConsumer, listConsumers, removeConsumer, type ConsumerServices } from '../../../shared/usecases/consumers';

const ROLE = 'arn:aws:iam::111122223333:role/orders';
const OTHER = 'arn:aws:iam::111122223333:role/billing';
const NOW = new Date('2030-01-01T00:00:00.000Z');
const LATER = new Date('2030-01-02T00:00:00.000Z');

function services(registry: ConsumerRegistry = new SqliteConsumerRegistry(':memory:')): ConsumerServices & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    registry,
    // Only the existence of a catalog matters to the use cases.
    catalogs: { get: async (k) => (['pii', 'ops'].includes(k) ? ({} as never) : undefined), list: async () => ['ops', 'pii'] },
    audit: { record: async (e) => void events.push(e) },
    events,
  };
}

describe('consumer use cases', () => {
  describe('addConsumer', () => {
    it('registers a consumer once and audits it; the same add again changes nothing and audits nothing', async () => {
      // Prepare
      const svc = services();
      // Act
      const first = await addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:alice', now: NOW }, svc);
      const again = await addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:bob', now: LATER }, svc);
      // Assess
      expect(first).toEqual({ keyring: 'pii', principalArn: ROLE, outcome: 'added', consumer: { principalArn: ROLE, access: 'decrypt', addedAt: NOW.toISOString(), addedBy: 'cli:alice' }, count: 1 });
      expect(again.outcome).toBe('unchanged');
      expect(again.consumer?.addedBy).toBe('cli:alice');
      expect(svc.events).toEqual([{ at: NOW.toISOString(), actor: 'cli:alice', action: 'consumer.added', keyring: 'pii', details: { principalArn: ROLE, access: 'decrypt', consumers: 1 } }]);
    });

    it('replaces the access of a registered consumer and audits the old and new access', async () => {
      // Prepare
      const svc = services();
      await addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:alice', now: NOW }, svc);
      // Act
      const r = await addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'encrypt-decrypt', actor: 'cli:bob', now: LATER }, svc);
      // Assess
      expect(r).toMatchObject({ outcome: 'updated', count: 1, consumer: { access: 'encrypt-decrypt', addedBy: 'cli:bob' } });
      expect(svc.events[1]).toEqual({ at: LATER.toISOString(), actor: 'cli:bob', action: 'consumer.access-changed', keyring: 'pii', details: { principalArn: ROLE, access: 'encrypt-decrypt', previousAccess: 'decrypt', consumers: 1 } });
    });

    it('throws ValidationError for a non-role principal or one outside the bound, and writes nothing', async () => {
      // Prepare
      const svc = services();
      // Act
      const user = addConsumer({ keyring: 'pii', principalArn: 'arn:aws:iam::111122223333:user/alice', access: 'decrypt', actor: 'cli:a', now: NOW }, svc);
      const outside = addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:a', now: NOW, accounts: ['444455556666'] }, svc);
      // Assess
      await expect(user).rejects.toThrow(ValidationError);
      await expect(outside).rejects.toThrow(ValidationError);
      expect(await svc.registry.get('pii')).toBeUndefined();
      expect(svc.events).toEqual([]);
    });

    it('throws UnknownKeyringError for a keyring without a catalog', async () => {
      // Act / Assess
      await expect(addConsumer({ keyring: 'ghost', principalArn: ROLE, access: 'decrypt', actor: 'cli:a', now: NOW }, services())).rejects.toThrow(UnknownKeyringError);
    });

    it('throws LimitExceededError past 1000 consumers', async () => {
      // Prepare
      const registry = new SqliteConsumerRegistry(':memory:');
      const full: ConsumerDocument = { schema: 1, keyring: 'pii', consumers: Array.from({ length: 1000 }, (_, i) => ({ principalArn: `arn:aws:iam::111122223333:role/r${i}`, access: 'decrypt' as const, addedAt: NOW.toISOString(), addedBy: 'cli:a' })) };
      await registry.put(full, null);
      // Act
      const r = addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:a', now: NOW }, services(registry));
      // Assess
      await expect(r).rejects.toThrow(LimitExceededError);
    });

    it('re-reads and re-decides after a lost race, keeping the other writer\'s consumer', async () => {
      // Prepare: another operator registers OTHER between this add's read and its write.
      const inner = new SqliteConsumerRegistry(':memory:');
      const rival = services(inner);
      let raced = false;
      const racing: ConsumerRegistry = {
        get: (k) => inner.get(k),
        list: () => inner.list(),
        put: async (doc, rev) => {
          if (!raced) {
            raced = true;
            await addConsumer({ keyring: 'pii', principalArn: OTHER, access: 'decrypt', actor: 'cli:bob', now: NOW }, rival);
          }
          return inner.put(doc, rev);
        },
      };
      // Act
      const r = await addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:alice', now: NOW }, services(racing));
      // Assess
      expect(r).toMatchObject({ outcome: 'added', count: 2 });
      expect((await inner.get('pii'))?.document.consumers.map((c) => c.principalArn)).toEqual([OTHER, ROLE]);
    });

    it('gives up with ConflictError when every attempt loses', async () => {
      // Prepare
      const inner = new SqliteConsumerRegistry(':memory:');
      const losing: ConsumerRegistry = { get: (k) => inner.get(k), list: () => inner.list(), put: async () => Promise.reject(new ConflictError('lost')) };
      // Act / Assess
      await expect(addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:a', now: NOW }, services(losing))).rejects.toThrow(ConflictError);
    });
  });

  describe('removeConsumer', () => {
    it('removes a consumer and audits it once; a second remove changes nothing', async () => {
      // Prepare
      const svc = services();
      await addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'encrypt-decrypt', actor: 'cli:alice', now: NOW }, svc);
      await addConsumer({ keyring: 'pii', principalArn: OTHER, access: 'decrypt', actor: 'cli:alice', now: NOW }, svc);
      // Act
      const first = await removeConsumer({ keyring: 'pii', principalArn: ROLE, actor: 'cli:bob', now: LATER }, svc);
      const again = await removeConsumer({ keyring: 'pii', principalArn: ROLE, actor: 'cli:bob', now: LATER }, svc);
      // Assess
      expect(first).toEqual({ keyring: 'pii', principalArn: ROLE, outcome: 'removed', count: 1 });
      expect(again).toEqual({ keyring: 'pii', principalArn: ROLE, outcome: 'unchanged', count: 1 });
      expect(svc.events.filter((e) => e.action === 'consumer.removed')).toEqual([
        { at: LATER.toISOString(), actor: 'cli:bob', action: 'consumer.removed', keyring: 'pii', details: { principalArn: ROLE, access: 'encrypt-decrypt', consumers: 1 } },
      ]);
    });

    it('changes nothing on a keyring without a registry document', async () => {
      // Prepare
      const svc = services();
      // Act
      const r = await removeConsumer({ keyring: 'pii', principalArn: ROLE, actor: 'cli:bob', now: LATER }, svc);
      // Assess
      expect(r.outcome).toBe('unchanged');
      expect(await svc.registry.get('pii')).toBeUndefined();
    });
  });

  describe('listConsumers', () => {
    it('lists one keyring, or every keyring with those without consumers empty', async () => {
      // Prepare
      const svc = services();
      await addConsumer({ keyring: 'pii', principalArn: ROLE, access: 'decrypt', actor: 'cli:alice', now: NOW }, svc);
      // Act
      const one = await listConsumers({ keyring: 'pii' }, svc);
      const all = await listConsumers({}, svc);
      // Assess
      expect(one).toEqual([{ keyring: 'pii', consumers: [expect.objectContaining({ principalArn: ROLE })] }]);
      expect(all.map((k) => [k.keyring, k.consumers.length])).toEqual([
        ['ops', 0],
        ['pii', 1],
      ]);
      await expect(listConsumers({ keyring: 'ghost' }, svc)).rejects.toThrow(UnknownKeyringError);
    });
  });
});
