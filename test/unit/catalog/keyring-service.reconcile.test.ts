import { KeyringService } from '../../../shared/catalog/keyring-service';
import type { BreakerDecision } from '../../../shared/catalog/circuit-breaker';
import type { Catalog, VersionState } from '../../../shared/catalog/model';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { UnknownKeyringError, ValidationError } from '../../../shared/errors';
import type { CatalogStore } from '../../../shared/ports/catalog-store';
import { MapFacts, MemoryAuditSink, MemoryKeyVault, after } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');
// No quiet period: these tests are about how facts are gathered, not the evidence rule.
const POLICY = { rotateEverySeconds: 1000, graceSeconds: 100, propagationSeconds: 10, retentionSeconds: 500, quietSeconds: 0 };
const ACTOR = { actor: 'cli:test' };
const RESET: BreakerDecision = { action: 'reset', reason: 'decrypt failure rate fell back to 0.00% (0/500)' };
const TRIP: BreakerDecision = { action: 'trip', reason: 'decrypt failure rate 40.00% above 10.00% during rotation (40/100)' };

function states(catalog: Catalog): Array<[number, VersionState]> {
  return catalog.versions.map((v) => [v.version, v.state]);
}

/** A SQLite catalog store that counts reads and writes, and can let another writer in before a write. */
class CountingStore implements CatalogStore {
  public reads = 0;
  public writes = 0;
  public beforeWrite: (() => Promise<void>) | undefined;
  public constructor(public readonly inner: SqliteCatalogStore) {}
  public get(keyring: string) {
    this.reads += 1;
    return this.inner.get(keyring);
  }
  public list() {
    return this.inner.list();
  }
  public async put(catalog: Catalog, etag: string | null) {
    this.writes += 1;
    const interfere = this.beforeWrite;
    this.beforeWrite = undefined;
    if (interfere !== undefined) await interfere();
    return this.inner.put(catalog, etag);
  }
}

function setup() {
  const inner = new SqliteCatalogStore(':memory:');
  const store = new CountingStore(inner);
  const audit = new MemoryAuditSink();
  const facts = new MapFacts(0);
  const options = { vault: new MemoryKeyVault(), audit, facts, clock: () => T0 };
  return { inner, store, audit, facts, service: new KeyringService({ ...options, store }), other: new KeyringService({ ...options, store: inner }) };
}

/** Keyring `ring` with v2 pending past propagation and the breaker tripped. */
async function pendingAndTripped(service: KeyringService): Promise<void> {
  await service.createKeyring('ring', POLICY, ACTOR);
  await service.rotate('ring', { ...ACTOR, reason: 'test', now: T0 });
  await service.tripBreaker('ring', 'decrypt failures', { now: T0 });
}

describe('KeyringService.reconcile', () => {
  describe('breaker', () => {
    it('writes the reset and the transitions it releases in one compare-and-swap, audited as before', async () => {
      // Prepare
      const { service, store, audit, inner } = setup();
      await pendingAndTripped(service);
      const generation = (await inner.history('ring')).length;
      const [reads, writes, before] = [store.reads, store.writes, audit.events.length];
      // Act
      const summary = await service.reconcile({ keyring: 'ring', now: after(T0, 10), breaker: async () => RESET });
      // Assess
      expect(summary.keyrings[0]).toMatchObject({ keyring: 'ring', applied: [{ kind: 'promote', version: 2, demoted: 1 }], breaker: { action: 'reset', tripped: false } });
      expect({ reads: store.reads - reads, writes: store.writes - writes }).toEqual({ reads: 1, writes: 1 });
      expect((await inner.history('ring')).length).toBe(generation + 1);
      const stored = await service.get('ring');
      expect(stored.breaker).toBeUndefined();
      expect(states(stored)).toEqual([
        [1, 'rotating'],
        [2, 'active'],
      ]);
      expect(audit.events.slice(before).map((e) => [e.action, e.actor, e.details?.['generation']])).toEqual([
        ['breaker.reset', 'breaker', stored.generation],
        ['version.activated', 'scheduler', stored.generation],
      ]);
    });

    it('trips and pauses in the same decision: nothing else is planned and no fact is asked for', async () => {
      // Prepare
      const { service, store, audit, facts } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.rotate('ring', { ...ACTOR, reason: 'test', now: T0 });
      const [writes, calls] = [store.writes, facts.calls];
      // Act
      const summary = await service.reconcile({ keyring: 'ring', now: after(T0, 10), breaker: async () => TRIP });
      // Assess
      expect(summary.keyrings[0]).toMatchObject({ applied: [], paused: 'breaker', breaker: { action: 'trip', reason: TRIP.reason, tripped: true } });
      expect(store.writes - writes).toBe(1);
      expect(facts.calls).toBe(calls);
      expect((await service.get('ring')).breaker).toMatchObject({ reason: TRIP.reason, by: 'breaker', at: after(T0, 10).toISOString() });
      expect(audit.events.at(-1)).toMatchObject({ action: 'breaker.tripped', actor: 'breaker', reason: TRIP.reason });
    });

    it('keeps the breaker as it is without facts (undefined), and still pauses', async () => {
      // Prepare
      const { service, store } = setup();
      await pendingAndTripped(service);
      const writes = store.writes;
      // Act
      const summary = await service.reconcile({ keyring: 'ring', now: after(T0, 10), breaker: async () => undefined });
      // Assess
      expect(summary.keyrings[0]).toMatchObject({ applied: [], paused: 'breaker', breaker: { action: 'unknown', tripped: true } });
      expect(store.writes).toBe(writes);
    });

    it('re-reads and re-decides the breaker after losing the compare-and-swap, never overwriting the other write', async () => {
      // Prepare
      const { service, store, other, audit } = setup();
      await pendingAndTripped(service);
      const seen: number[] = [];
      store.beforeWrite = async () => {
        await other.freeze('ring', { reason: 'incident 7', actor: 'cli:alice', now: after(T0, 10) });
      };
      const [reads, writes] = [store.reads, store.writes];
      // Act
      const summary = await service.reconcile({
        keyring: 'ring',
        now: after(T0, 10),
        breaker: async (catalog) => {
          seen.push(catalog.generation);
          return RESET;
        },
      });
      // Assess
      expect({ reads: store.reads - reads, writes: store.writes - writes }).toEqual({ reads: 2, writes: 2 });
      const stored = await service.get('ring');
      expect(seen).toEqual([seen[0], seen[0]! + 1]);
      expect(stored.frozen).toMatchObject({ reason: 'incident 7' });
      expect(stored.breaker).toBeUndefined();
      // Frozen by the other writer: the reset lands, the promotion waits.
      expect(summary.keyrings[0]).toMatchObject({ applied: [], paused: 'frozen', breaker: { action: 'reset', tripped: false } });
      expect(states(stored)).toEqual([
        [1, 'active'],
        [2, 'pending'],
      ]);
      expect(audit.actions().filter((a) => a === 'breaker.reset')).toHaveLength(1);
    });
  });

  describe('facts', () => {
    it('asks for the reference counts once for every version that needs them', async () => {
      // Prepare
      const { service, facts } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      for (const v of [1, 2]) await service.revoke('ring', v, { ...ACTOR, reason: 'test', now: T0 });
      facts.setReferences('ring', 1, 0);
      facts.setReferences('ring', 2, 4);
      const calls = facts.calls;
      // Act
      const summary = await service.reconcile({ keyring: 'ring', now: after(T0, 1) });
      // Assess
      expect(facts.calls - calls).toBe(1);
      expect(summary.keyrings[0]?.applied).toEqual([{ kind: 'disable', version: 1 }]);
      expect(summary.keyrings[0]?.references?.records.get(2)).toBe(4);
      expect(states(summary.keyrings[0]!.catalog!)).toEqual([
        [1, 'disabled'],
        [2, 'revoked'],
        [3, 'active'],
      ]);
    });

    it('counts nothing when no transition needs it', async () => {
      // Prepare
      const { service, facts } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      const calls = facts.calls;
      // Act
      const summary = await service.reconcile({ keyring: 'ring', now: after(T0, 1) });
      // Assess
      expect(facts.calls).toBe(calls);
      expect(summary.keyrings[0]?.references).toBeUndefined();
    });
  });

  describe('keyring', () => {
    it('throws UnknownKeyringError for a named keyring that does not exist, after one read', async () => {
      // Prepare
      const { service, store } = setup();
      // Act / Assess
      await expect(service.reconcile({ keyring: 'nope' })).rejects.toThrow(UnknownKeyringError);
      expect(store.reads).toBe(1);
    });

    it('throws ValidationError on a bad name before reading anything', async () => {
      // Prepare
      const { service, store } = setup();
      // Act / Assess
      await expect(service.reconcile({ keyring: 'Payments' })).rejects.toThrow(ValidationError);
      expect(store.reads).toBe(0);
    });
  });
});
