import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { KeyringService } from '../../../shared/catalog/keyring-service';
import type { Catalog, KeyVersion } from '../../../shared/catalog/model';
import { UnknownKeyringError } from '../../../shared/errors';
import { readKeyringPlan } from '../../../shared/usecases/keyring-plan';
import { MapFacts, MemoryAuditSink, MemoryKeyVault } from '../catalog/support/fakes';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const DAY = 86_400;
const NOW = new Date(T0 + 40 * DAY * 1000);

function iso(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

function version(v: Partial<KeyVersion> & Pick<KeyVersion, 'version' | 'state'>): KeyVersion {
  return { wrappingKeyId: 'memory:test', wrappedKey: Buffer.from(`wrapped-${v.version}`).toString('base64'), createdAt: iso(0), ...v };
}

function catalog(keyring: string, versions: KeyVersion[], extra: Partial<Catalog> = {}): Catalog {
  return {
    schema: 1,
    keyring,
    generation: 1,
    policy: { rotateEverySeconds: 90 * DAY, graceSeconds: 7 * DAY, propagationSeconds: 600, retentionSeconds: 30 * DAY, quietSeconds: 0, destroyAfterRetention: true },
    versions,
    createdAt: iso(0),
    updatedAt: iso(0),
    ...extra,
  };
}

/** The plan's real collaborators: the keyring service over a SQLite catalog in memory, facts from maps. */
async function planOf(catalogs: Catalog[], facts: MapFacts, keyring?: string) {
  const store = new SqliteCatalogStore(':memory:');
  for (const c of catalogs) await store.put(c, null);
  const keyrings = new KeyringService({ store, vault: new MemoryKeyVault(), audit: new MemoryAuditSink(), facts, clock: () => NOW });
  return readKeyringPlan(keyring === undefined ? {} : { keyring }, { keyrings, clock: () => NOW });
}

// v1 rotating since 35 d (grace 7 d: deprecate at 42 d), v2 active since 35 d (rotate at 125 d).
const rotating = [version({ version: 1, state: 'rotating', activatedAt: iso(0), rotatingAt: iso(35 * DAY) }), version({ version: 2, state: 'active', createdAt: iso(35 * DAY), activatedAt: iso(35 * DAY) })];

describe('keyring plan', () => {
  describe('readKeyringPlan: steps', () => {
    it('lists the next transitions in order with their instants, and promises no disable while records remain under v1', async () => {
      // Prepare
      const facts = new MapFacts(0);
      facts.setReferences('pii', 1, 1204);

      // Act
      const [plan] = await planOf([catalog('pii', rotating)], facts, 'pii');

      // Assess
      expect(plan?.at).toBe(NOW.toISOString());
      expect(plan?.paused).toBeUndefined();
      expect(plan?.steps.slice(0, 2)).toEqual([
        { at: iso(42 * DAY), kind: 'deprecate', version: 1 },
        { at: iso(125 * DAY), kind: 'create-pending', version: 3 },
      ]);
      expect(plan?.steps.some((s) => s.kind === 'disable' && s.version === 1)).toBe(false);
      expect(plan?.blocked).toEqual([]);
      expect(plan?.versions.map((v) => [v.version, v.state, v.next, v.dueAt])).toEqual([
        [1, 'rotating', 'deprecate', iso(42 * DAY)],
        [2, 'active', 'rotate', iso(125 * DAY)],
      ]);
    });

    it('schedules the disable right after the deprecation when nothing holds it back', async () => {
      // Prepare: no references
      const facts = new MapFacts(0);

      // Act
      const [plan] = await planOf([catalog('pii', rotating)], facts, 'pii');

      // Assess: quiet 0, no references → disabled at the tick that deprecates it
      const v1 = plan?.steps.filter((s) => s.version === 1).map((s) => [s.kind, s.at]);
      expect(v1).toEqual([
        ['deprecate', iso(42 * DAY)],
        ['disable', iso(42 * DAY)],
      ]);
    });
  });

  describe('readKeyringPlan: blocked steps with figures', () => {
    it('names the references that block a disable, with their count, as stuck', async () => {
      // Prepare: v1 deprecated, 1,204 records left under it
      const c = catalog('pii', [version({ version: 1, state: 'deprecated', activatedAt: iso(0), rotatingAt: iso(20 * DAY), deprecatedAt: iso(27 * DAY) }), version({ version: 2, state: 'active', createdAt: iso(20 * DAY), activatedAt: iso(20 * DAY) })]);
      const facts = new MapFacts(0);
      facts.setReferences('pii', 1, 1204);

      // Act
      const [plan] = await planOf([c], facts, 'pii');

      // Assess
      expect(plan?.blocked).toEqual([
        { kind: 'disable', version: 1, stuck: true, holds: [{ kind: 'references', clearsWithTime: false, count: 1204, text: 'blocked: 1,204 records still under v1' }] },
      ]);
      expect(plan?.versions[0]).toMatchObject({ version: 1, next: 'disable', stuck: true, overdue: false });
      expect(plan?.versions[0]).not.toHaveProperty('dueAt');
    });

    it('names the missing escrow copy that blocks a destroy', async () => {
      // Prepare: v1 disabled at 5 d, retention over at 35 d, no drill-verified escrow
      const c = catalog('pii', [
        version({ version: 1, state: 'disabled', activatedAt: iso(0), rotatingAt: iso(2 * DAY), deprecatedAt: iso(3 * DAY), disabledAt: iso(5 * DAY) }),
        version({ version: 2, state: 'active', createdAt: iso(2 * DAY), activatedAt: iso(2 * DAY) }),
      ]);

      // Act
      const [plan] = await planOf([c], new MapFacts(0), 'pii');

      // Assess
      expect(plan?.blocked).toHaveLength(1);
      expect(plan?.blocked[0]).toMatchObject({ kind: 'destroy', version: 1, stuck: true });
      expect(plan?.blocked[0]?.holds.map((h) => h.kind)).toEqual(['escrow']);
      expect(plan?.blocked[0]?.holds[0]?.text).toBe("blocked: no escrow copy of v1 verified by a drill ('rekey escrow verify')");
    });

    it('pauses a frozen keyring: no step is promised, every next step is blocked by the freeze with who and why', async () => {
      // Prepare
      const c = catalog('pii', rotating, { frozen: { reason: 'INC-7 investigation', at: iso(38 * DAY), by: 'cli:alice' } });

      // Act
      const [plan] = await planOf([c], new MapFacts(0), 'pii');

      // Assess
      expect(plan?.paused).toBe('frozen');
      expect(plan?.steps).toEqual([]);
      expect(plan?.blocked.map((b) => [b.kind, b.version, b.stuck])).toEqual([
        ['deprecate', 1, true],
        ['rotate', 2, true],
      ]);
      const hold = plan?.blocked[0]?.holds[0];
      expect(hold).toMatchObject({ kind: 'frozen', clearsWithTime: false });
      expect(hold?.text).toContain('by cli:alice: INC-7 investigation');
    });

    it('pauses a keyring held by the circuit breaker', async () => {
      // Prepare
      const c = catalog('pii', rotating, { breaker: { reason: 'decrypt failures above threshold', at: iso(38 * DAY), by: 'breaker' } });

      // Act
      const [plan] = await planOf([c], new MapFacts(0), 'pii');

      // Assess
      expect(plan?.paused).toBe('breaker');
      expect(plan?.steps).toEqual([]);
      expect(plan?.blocked.every((b) => b.holds[0]?.kind === 'breaker')).toBe(true);
    });

    it('waits out a quiet period without calling it blocked: the step keeps its instant', async () => {
      // Prepare: quiet 7 d, v1 key used 2 d ago
      const c = catalog('pii', [version({ version: 1, state: 'deprecated', activatedAt: iso(0), rotatingAt: iso(20 * DAY), deprecatedAt: iso(27 * DAY) }), version({ version: 2, state: 'active', createdAt: iso(20 * DAY), activatedAt: iso(20 * DAY) })], {
        policy: { rotateEverySeconds: 90 * DAY, graceSeconds: 7 * DAY, propagationSeconds: 600, retentionSeconds: 30 * DAY, quietSeconds: 7 * DAY, destroyAfterRetention: false },
      });
      const facts = new MapFacts(0, new Date(T0));
      facts.use('pii', 1, new Date(NOW.getTime() - 2 * DAY * 1000));

      // Act
      const [plan] = await planOf([c], facts, 'pii');

      // Assess
      expect(plan?.blocked).toEqual([]);
      expect(plan?.steps[0]).toEqual({ at: iso(45 * DAY), kind: 'disable', version: 1 });
      expect(plan?.versions[0]?.holds.map((h) => [h.kind, h.until])).toEqual([['quiet', iso(45 * DAY)]]);
      expect(plan?.versions[0]?.lastUsedAt).toBe(iso(38 * DAY));
    });
  });

  describe('readKeyringPlan: which keyrings', () => {
    it('plans every keyring in name order when none is named, and leaves destroyed versions out', async () => {
      // Prepare
      const ops = catalog('ops', [
        version({ version: 1, state: 'destroyed', activatedAt: iso(0), rotatingAt: iso(1 * DAY), deprecatedAt: iso(2 * DAY), disabledAt: iso(3 * DAY), destroyedAt: iso(34 * DAY) }),
        version({ version: 2, state: 'active', createdAt: iso(1 * DAY), activatedAt: iso(1 * DAY) }),
      ]);

      // Act
      const plans = await planOf([catalog('pii', rotating), ops], new MapFacts(0));

      // Assess
      expect(plans.map((p) => p.keyring)).toEqual(['ops', 'pii']);
      expect(plans[0]?.versions.map((v) => v.version)).toEqual([2]);
    });

    it('throws UnknownKeyringError for a keyring that does not exist', async () => {
      // Act / Assess
      await expect(planOf([catalog('pii', rotating)], new MapFacts(0), 'nope')).rejects.toThrow(UnknownKeyringError);
    });

    it('changes nothing: the catalog generation is the same after planning', async () => {
      // Prepare
      const store = new SqliteCatalogStore(':memory:');
      await store.put(catalog('pii', rotating), null);
      const keyrings = new KeyringService({ store, vault: new MemoryKeyVault(), audit: new MemoryAuditSink(), facts: new MapFacts(0), clock: () => NOW });
      const before = await store.get('pii');

      // Act
      await readKeyringPlan({ keyring: 'pii' }, { keyrings, clock: () => new Date(T0 + 400 * DAY * 1000) });

      // Assess
      expect((await store.get('pii'))?.etag).toBe(before?.etag);
    });
  });
});
