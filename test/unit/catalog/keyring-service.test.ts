import { KeyringService } from '../../../shared/catalog/keyring-service';
import { checkInvariants } from '../../../shared/catalog/invariants';
import type { Catalog, VersionState } from '../../../shared/catalog/model';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import {
  AlreadyExistsError,
  BackendError,
  ConflictError,
  FrozenError,
  IllegalTransitionError,
  UnknownKeyringError,
  UnknownVersionError,
  ValidationError,
} from '../../../shared/errors';
import type { CatalogStore } from '../../../shared/ports/catalog-store';
import type { KeyVault } from '../../../shared/ports/key-vault';
import { MapFacts, MemoryAuditSink, MemoryKeyVault, after } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const POLICY = { rotateEverySeconds: 1000, graceSeconds: 100, propagationSeconds: 10, retentionSeconds: 500 };
const ACTOR = { actor: 'cli:test' };

function states(catalog: Catalog): Array<[number, VersionState]> {
  return catalog.versions.map((v) => [v.version, v.state]);
}

function setup(overrides: { store?: CatalogStore; vault?: KeyVault; maxAttempts?: number; wrappingKeyIdFor?: (k: string) => string | undefined } = {}) {
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

describe('KeyringService', () => {
  describe('constructor', () => {
    it('throws ValidationError on a non-positive maxAttempts', () => {
      // Act / Assess
      expect(() => setup({ maxAttempts: 0 })).toThrow(ValidationError);
    });
  });

  describe('createKeyring', () => {
    it('stores version 1 active, wrapped under exactly { keyring, version }, and zeroes the plaintext', async () => {
      // Prepare
      const { service, vault, store, audit } = setup();
      // Act
      const catalog = await service.createKeyring('payments', POLICY, ACTOR);
      // Assess
      expect(states(catalog)).toEqual([[1, 'active']]);
      expect(vault.generated).toEqual([{ keyring: 'payments', version: '1' }]);
      expect(vault.handedOut[0]?.equals(Buffer.alloc(32))).toBe(true);
      const stored = await store.get('payments');
      const wrapped = Buffer.from(stored!.catalog.versions[0]!.wrappedKey!, 'base64');
      await expect(vault.unwrap(wrapped, { keyring: 'payments', version: '1' })).resolves.toHaveLength(32);
      await expect(vault.unwrap(wrapped, { keyring: 'payments', version: '2' })).rejects.toThrow();
      expect(audit.events).toEqual([expect.objectContaining({ action: 'keyring.created', keyring: 'payments', version: 1, actor: 'cli:test' })]);
    });

    it('uses the default policy when none is given and the wrapping key chosen for the keyring', async () => {
      // Prepare
      const { service } = setup({ wrappingKeyIdFor: (k) => `arn:test:${k}` });
      // Act
      const catalog = await service.createKeyring('orders', undefined, ACTOR);
      // Assess
      expect(catalog.policy).toEqual({ rotateEverySeconds: 7_776_000, graceSeconds: 604_800, propagationSeconds: 600, retentionSeconds: 2_592_000 });
      expect(catalog.versions[0]?.wrappingKeyId).toBe('arn:test:orders');
    });

    it('throws AlreadyExistsError when the keyring exists, and changes nothing', async () => {
      // Prepare
      const { service, store } = setup();
      await service.createKeyring('payments', POLICY, ACTOR);
      const before = await store.get('payments');
      // Act / Assess
      await expect(service.createKeyring('payments', POLICY, ACTOR)).rejects.toThrow(AlreadyExistsError);
      expect(await store.get('payments')).toEqual(before);
    });

    it('throws AlreadyExistsError when another writer creates it first', async () => {
      // Prepare
      const { service, store } = setup();
      const racing: CatalogStore = {
        get: (k) => store.get(k),
        list: () => store.list(),
        put: async (c, e) => {
          await store.put({ ...c, policy: { ...c.policy, graceSeconds: 1 } }, null);
          return store.put(c, e);
        },
      };
      const { service: loser } = setup({ store: racing });
      // Act / Assess
      await expect(loser.createKeyring('payments', POLICY, ACTOR)).rejects.toThrow(AlreadyExistsError);
      expect((await service.get('payments')).policy.graceSeconds).toBe(1);
    });

    it.each<[string, string, unknown, string]>([
      ['a bad name', 'Bad Name', POLICY, 'cli:test'],
      ['a bad policy', 'ring', { ...POLICY, graceSeconds: -1 }, 'cli:test'],
      ['an unknown policy field', 'ring', { rotate: 5 }, 'cli:test'],
      ['an empty actor', 'ring', POLICY, ' '],
    ])('throws ValidationError on %s without calling the vault', async (_label, name, policy, actor) => {
      // Prepare
      const { service, vault, store } = setup();
      // Act / Assess
      await expect(service.createKeyring(name, policy as never, { actor })).rejects.toThrow(ValidationError);
      expect(vault.generated).toEqual([]);
      expect(await store.list()).toEqual([]);
    });
  });

  describe('get', () => {
    it('throws UnknownKeyringError when the keyring does not exist', async () => {
      // Prepare
      const { service } = setup();
      // Act / Assess
      await expect(service.get('nope')).rejects.toThrow(UnknownKeyringError);
    });
  });

  describe('list', () => {
    it('returns every catalog sorted by name', async () => {
      // Prepare
      const { service } = setup();
      await service.createKeyring('zeta', POLICY, ACTOR);
      await service.createKeyring('alpha', POLICY, ACTOR);
      // Act
      const catalogs = await service.list();
      // Assess
      expect(catalogs.map((c) => c.keyring)).toEqual(['alpha', 'zeta']);
    });
  });

  describe('rotate', () => {
    it('adds the next version as pending, wrapped under its own context', async () => {
      // Prepare
      const { service, vault, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      // Act
      const result = await service.rotate('ring', { actor: 'cli:bob', reason: 'quarterly', now: after(T0, 5) });
      // Assess
      expect(result.created).toBe(true);
      expect(result.pending).toMatchObject({ version: 2, state: 'pending', createdAt: after(T0, 5).toISOString() });
      expect(states(result.catalog)).toEqual([
        [1, 'active'],
        [2, 'pending'],
      ]);
      expect(vault.generated[1]).toEqual({ keyring: 'ring', version: '2' });
      expect(audit.events.at(-1)).toMatchObject({ action: 'version.created', version: 2, reason: 'quarterly', actor: 'cli:bob' });
    });

    it('returns the existing pending version without writing when one exists', async () => {
      // Prepare
      const { service, vault, store } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.rotate('ring', { ...ACTOR, reason: 'r' });
      const before = await store.get('ring');
      // Act
      const again = await service.rotate('ring', { ...ACTOR, reason: 'r' });
      // Assess
      expect(again.created).toBe(false);
      expect(again.pending.version).toBe(2);
      expect(vault.generated).toHaveLength(2);
      expect((await store.get('ring'))?.etag).toBe(before?.etag);
    });

    it('creates exactly one version when two rotations race', async () => {
      // Prepare
      const { service, vault } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      // Act
      const results = await Promise.all([service.rotate('ring', { ...ACTOR, reason: 'a' }), service.rotate('ring', { ...ACTOR, reason: 'b' })]);
      // Assess
      expect(results.map((r) => r.created).sort()).toEqual([false, true]);
      expect(states(await service.get('ring'))).toEqual([
        [1, 'active'],
        [2, 'pending'],
      ]);
      expect(vault.generated.length).toBeGreaterThanOrEqual(2);
    });

    it('throws FrozenError while frozen, without asking the vault for a key', async () => {
      // Prepare
      const { service, vault } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.freeze('ring', { reason: 'incident', ...ACTOR });
      // Act / Assess
      await expect(service.rotate('ring', { ...ACTOR, reason: 'r' })).rejects.toThrow(FrozenError);
      expect(vault.generated).toHaveLength(1);
    });

    it('throws UnknownKeyringError for a missing keyring and ValidationError without a reason', async () => {
      // Prepare
      const { service } = setup();
      // Act / Assess
      await expect(service.rotate('nope', { ...ACTOR, reason: 'r' })).rejects.toThrow(UnknownKeyringError);
      await expect(service.rotate('nope', { ...ACTOR, reason: '' })).rejects.toThrow(ValidationError);
    });
  });

  describe('tick', () => {
    it('walks a version through the whole lifecycle as time passes', async () => {
      // Prepare
      const { service, facts, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      facts.setReferences('ring', 1, 0);
      facts.setEscrow('ring', 1, true);
      const tickAt = async (s: number) => (await service.tick({ now: after(T0, s) })).keyrings[0]!.applied.map((t) => t.kind);
      // Act
      const steps = [await tickAt(999), await tickAt(1000), await tickAt(1009), await tickAt(1010), await tickAt(1110), await tickAt(1609), await tickAt(1610)];
      // Assess
      expect(steps).toEqual([[], ['create-pending'], [], ['promote'], ['deprecate', 'disable'], [], ['destroy']]);
      const catalog = await service.get('ring');
      expect(states(catalog)).toEqual([
        [1, 'destroyed'],
        [2, 'active'],
      ]);
      expect(catalog.versions[0]).not.toHaveProperty('wrappedKey');
      expect(checkInvariants(catalog)).toEqual([]);
      expect(audit.events.filter((e) => e.actor === 'scheduler').map((e) => `${e.action}:${e.version}`)).toEqual([
        'version.created:2',
        'version.activated:2',
        'version.deprecated:1',
        'version.disabled:1',
        'version.destroyed:1',
      ]);
    });

    it('keeps a referenced version deprecated and an unescrowed one disabled', async () => {
      // Prepare
      const { service, facts } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.tick({ now: after(T0, 1000) });
      await service.tick({ now: after(T0, 1010) });
      facts.setReferences('ring', 1, 3);
      // Act
      await service.tick({ now: after(T0, 1110) });
      const referenced = states(await service.get('ring'));
      facts.setReferences('ring', 1, 0);
      await service.tick({ now: after(T0, 1111) });
      await service.tick({ now: after(T0, 99_999) });
      const unescrowed = states(await service.get('ring'));
      // Assess
      expect(referenced[0]).toEqual([1, 'deprecated']);
      expect(unescrowed[0]).toEqual([1, 'disabled']);
    });

    it('changes nothing when run twice at the same time', async () => {
      // Prepare
      const { service, store } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.tick({ now: after(T0, 1000) });
      const before = await store.get('ring');
      // Act
      const second = await service.tick({ now: after(T0, 1000) });
      // Assess
      expect(second.applied).toBe(0);
      expect((await store.get('ring'))?.etag).toBe(before?.etag);
    });

    it('pauses every automatic transition while frozen and resumes after unfreeze', async () => {
      // Prepare
      const { service } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.freeze('ring', { reason: 'incident', ...ACTOR });
      // Act
      const frozen = await service.tick({ now: after(T0, 5000) });
      await service.unfreeze('ring', ACTOR);
      const thawed = await service.tick({ now: after(T0, 5000) });
      // Assess
      expect(frozen.keyrings[0]).toEqual({ keyring: 'ring', applied: [], paused: 'frozen' });
      expect(thawed.keyrings[0]?.applied).toEqual([{ kind: 'create-pending', version: 2 }]);
    });

    it('pauses while the breaker is tripped', async () => {
      // Prepare
      const { service } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.tripBreaker('ring', 'decrypt failures 12%');
      // Act
      const held = await service.tick({ now: after(T0, 5000) });
      await service.resetBreaker('ring');
      const released = await service.tick({ now: after(T0, 5000) });
      // Assess
      expect(held.keyrings[0]?.paused).toBe('breaker');
      expect(released.applied).toBe(1);
    });

    it('throws UnknownKeyringError for a named keyring that does not exist', async () => {
      // Prepare
      const { service } = setup();
      // Act / Assess
      await expect(service.tick({ keyring: 'nope' })).rejects.toThrow(UnknownKeyringError);
    });

    it('reconciles only the named keyring', async () => {
      // Prepare
      const { service } = setup();
      await service.createKeyring('a', POLICY, ACTOR);
      await service.createKeyring('b', POLICY, ACTOR);
      // Act
      const summary = await service.tick({ keyring: 'b', now: after(T0, 1000) });
      // Assess
      expect(summary.keyrings.map((k) => k.keyring)).toEqual(['b']);
      expect(states(await service.get('a'))).toEqual([[1, 'active']]);
    });

    it('reports a failing keyring and still reconciles the others', async () => {
      // Prepare
      const { service, vault, store } = setup();
      await service.createKeyring('a', POLICY, ACTOR);
      await service.createKeyring('b', POLICY, ACTOR);
      const failing: KeyVault = {
        kind: 'failing',
        generateKey: async (ctx, id) => {
          if (ctx['keyring'] === 'a') throw new BackendError('vault unreachable');
          return vault.generateKey(ctx, id);
        },
        unwrap: (w, c) => vault.unwrap(w, c),
        wrap: (p, c) => vault.wrap(p, c),
      };
      const { service: partial } = setup({ store, vault: failing });
      // Act
      const summary = await partial.tick({ now: after(T0, 1000) });
      // Assess
      expect(summary.failed).toBe(1);
      expect(summary.keyrings[0]).toMatchObject({ keyring: 'a', applied: [], error: { code: 'BACKEND', retryable: true } });
      expect(summary.keyrings[1]?.applied).toEqual([{ kind: 'create-pending', version: 2 }]);
      expect(states(await service.get('a'))).toEqual([[1, 'active']]);
    });

    it('recovers from a crash between key generation and the write by re-planning', async () => {
      // Prepare
      const { service, store, vault } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      let crash = true;
      const crashing: CatalogStore = {
        get: (k) => store.get(k),
        list: () => store.list(),
        put: async (c, e) => {
          if (crash) {
            crash = false;
            throw new BackendError('process died');
          }
          return store.put(c, e);
        },
      };
      const { service: dying } = setup({ store: crashing, vault });
      // Act
      const crashed = await dying.tick({ now: after(T0, 1000) });
      const afterCrash = states(await service.get('ring'));
      const rerun = await dying.tick({ now: after(T0, 1001) });
      // Assess
      expect(crashed.failed).toBe(1);
      expect(afterCrash).toEqual([[1, 'active']]);
      expect(rerun.keyrings[0]?.applied).toEqual([{ kind: 'create-pending', version: 2 }]);
      expect(vault.generated.filter((c) => c['version'] === '2')).toHaveLength(2);
      expect(states(await service.get('ring'))).toEqual([
        [1, 'active'],
        [2, 'pending'],
      ]);
    });

    it('re-plans after losing a compare-and-swap and creates one version only', async () => {
      // Prepare
      const { service, store, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      let interfere = true;
      const racing: CatalogStore = {
        get: (k) => store.get(k),
        list: () => store.list(),
        put: async (c, e) => {
          if (interfere) {
            interfere = false;
            await service.rotate('ring', { actor: 'cli:other', reason: 'manual', now: after(T0, 1000) });
          }
          return store.put(c, e);
        },
      };
      const { service: loser, audit: loserAudit } = setup({ store: racing });
      // Act
      const summary = await loser.tick({ now: after(T0, 1000) });
      // Assess
      expect(summary.keyrings[0]?.applied).toEqual([]);
      expect(states(await service.get('ring'))).toEqual([
        [1, 'active'],
        [2, 'pending'],
      ]);
      expect(audit.actions().filter((a) => a === 'version.created')).toHaveLength(1);
      expect(loserAudit.events).toEqual([]);
    });

    it('reports ConflictError when every attempt loses', async () => {
      // Prepare
      const { service, store } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      const alwaysLosing: CatalogStore = {
        get: (k) => store.get(k),
        list: () => store.list(),
        put: async () => {
          throw new ConflictError('lost');
        },
      };
      const { service: loser } = setup({ store: alwaysLosing, maxAttempts: 3 });
      // Act
      const summary = await loser.tick({ now: after(T0, 1000) });
      // Assess
      expect(summary.keyrings[0]?.error).toMatchObject({ code: 'CONFLICT', retryable: true });
    });

    it('records the reference count and never key material in audit events', async () => {
      // Prepare
      const { service, facts, audit, store } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      facts.setReferences('ring', 1, 0);
      await service.tick({ now: after(T0, 1000) });
      await service.tick({ now: after(T0, 1010) });
      // Act
      await service.tick({ now: after(T0, 1110) });
      // Assess
      const history = await store.history('ring');
      const keys = history.flatMap((h) => h.catalog.versions.map((v) => v.wrappedKey)).filter((k): k is string => k !== undefined);
      const serialized = JSON.stringify(audit.events);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(serialized).not.toContain(key);
      expect(audit.events.find((e) => e.action === 'version.disabled')?.details).toEqual({ references: 0, generation: 4 });
    });
  });

  describe('revoke', () => {
    it('revokes the active version and activates a fresh one in one write', async () => {
      // Prepare
      const { service, store, audit, vault } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      const generation = (await store.history('ring')).length;
      // Act
      const result = await service.revoke('ring', 1, { reason: 'SEC-9', actor: 'cli:sec', now: after(T0, 50) });
      // Assess
      expect(result.created).toBe(true);
      expect(result.replacement).toMatchObject({ version: 2, state: 'active', activatedAt: after(T0, 50).toISOString() });
      expect(states(result.catalog)).toEqual([
        [1, 'revoked'],
        [2, 'active'],
      ]);
      expect(result.catalog.versions[0]).toMatchObject({ revokedAt: after(T0, 50).toISOString(), revokedReason: 'SEC-9' });
      expect((await store.history('ring')).length).toBe(generation + 1);
      expect(vault.generated.at(-1)).toEqual({ keyring: 'ring', version: '2' });
      expect(audit.events.slice(-2).map((e) => [e.action, e.version, e.reason])).toEqual([
        ['version.revoked', 1, 'SEC-9'],
        ['version.activated', 2, 'SEC-9'],
      ]);
    });

    it('demotes the active version and retires the pending one when revoking an older version', async () => {
      // Prepare
      const { service, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.tick({ now: after(T0, 1000) });
      await service.tick({ now: after(T0, 1010) });
      await service.rotate('ring', { ...ACTOR, reason: 'early', now: after(T0, 1020) });
      // Act
      const result = await service.revoke('ring', 1, { reason: 'leak', ...ACTOR, now: after(T0, 1030) });
      // Assess
      expect(states(result.catalog)).toEqual([
        [1, 'revoked'],
        [2, 'rotating'],
        [3, 'revoked'],
        [4, 'active'],
      ]);
      expect(audit.events.slice(-3).map((e) => `${e.action}:${e.version}`)).toEqual(['version.revoked:1', 'version.revoked:3', 'version.activated:4']);
      expect(audit.events.at(-1)?.details).toEqual({ emergency: true, demoted: 2, generation: 5 });
    });

    it('is idempotent: revoking a revoked version writes nothing and creates no version', async () => {
      // Prepare
      const { service, store, vault } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.revoke('ring', 1, { reason: 'leak', ...ACTOR });
      const before = await store.get('ring');
      const generated = vault.generated.length;
      // Act
      const again = await service.revoke('ring', 1, { reason: 'leak', ...ACTOR });
      // Assess
      expect(again.created).toBe(false);
      expect(again.replacement).toBeUndefined();
      expect((await store.get('ring'))?.etag).toBe(before?.etag);
      expect(vault.generated).toHaveLength(generated);
    });

    it('revokes while frozen and while the breaker is tripped', async () => {
      // Prepare
      const { service } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.freeze('ring', { reason: 'incident', ...ACTOR });
      await service.tripBreaker('ring', 'failures');
      // Act
      const result = await service.revoke('ring', 1, { reason: 'leak', ...ACTOR });
      // Assess
      expect(states(result.catalog)).toEqual([
        [1, 'revoked'],
        [2, 'active'],
      ]);
      expect(result.catalog.frozen).toBeDefined();
    });

    it('throws IllegalTransitionError for a destroyed version, UnknownVersionError for a missing one', async () => {
      // Prepare
      const { service, facts } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      facts.setReferences('ring', 1, 0);
      facts.setEscrow('ring', 1, true);
      for (const s of [1000, 1010, 1110, 1610]) await service.tick({ now: after(T0, s) });
      // Act / Assess
      await expect(service.revoke('ring', 1, { reason: 'r', ...ACTOR })).rejects.toThrow(IllegalTransitionError);
      await expect(service.revoke('ring', 9, { reason: 'r', ...ACTOR })).rejects.toThrow(UnknownVersionError);
    });

    it.each([
      ['an empty reason', 1, ''],
      ['version 0', 0, 'r'],
      ['a fractional version', 1.5, 'r'],
    ])('throws ValidationError on %s', async (_label, version, reason) => {
      // Prepare
      const { service } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      // Act / Assess
      await expect(service.revoke('ring', version, { reason, ...ACTOR })).rejects.toThrow(ValidationError);
    });

    it('disables the revoked version once a tick sees zero references', async () => {
      // Prepare
      const { service, facts } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.revoke('ring', 1, { reason: 'leak', ...ACTOR, now: after(T0, 10) });
      await service.tick({ now: after(T0, 11) });
      const referenced = states(await service.get('ring'));
      facts.setReferences('ring', 1, 0);
      // Act
      await service.tick({ now: after(T0, 12) });
      // Assess
      expect(referenced[0]).toEqual([1, 'revoked']);
      expect(states(await service.get('ring'))[0]).toEqual([1, 'disabled']);
    });
  });

  describe('freeze', () => {
    it('records who froze and why, once', async () => {
      // Prepare
      const { service, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      // Act
      const frozen = await service.freeze('ring', { reason: 'incident 4', actor: 'cli:alice', now: after(T0, 1) });
      await service.freeze('ring', { reason: 'other', actor: 'cli:bob' });
      // Assess
      expect(frozen.frozen).toEqual({ reason: 'incident 4', at: after(T0, 1).toISOString(), by: 'cli:alice' });
      expect((await service.get('ring')).frozen?.by).toBe('cli:alice');
      expect(audit.actions().filter((a) => a === 'keyring.frozen')).toHaveLength(1);
    });

    it('throws ValidationError without a reason and UnknownKeyringError for a missing keyring', async () => {
      // Prepare
      const { service } = setup();
      // Act / Assess
      await expect(service.freeze('ring', { reason: '', ...ACTOR })).rejects.toThrow(ValidationError);
      await expect(service.freeze('ring', { reason: 'x', ...ACTOR })).rejects.toThrow(UnknownKeyringError);
    });
  });

  describe('unfreeze', () => {
    it('lifts a freeze and is a no-op when not frozen', async () => {
      // Prepare
      const { service, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.freeze('ring', { reason: 'x', ...ACTOR });
      // Act
      const thawed = await service.unfreeze('ring', ACTOR);
      await service.unfreeze('ring', ACTOR);
      // Assess
      expect(thawed.frozen).toBeUndefined();
      expect(audit.actions().filter((a) => a === 'keyring.unfrozen')).toHaveLength(1);
    });
  });

  describe('tripBreaker', () => {
    it('sets the breaker independently of a freeze', async () => {
      // Prepare
      const { service, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      // Act
      const held = await service.tripBreaker('ring', 'decrypt failures above 5%');
      // Assess
      expect(held.breaker).toMatchObject({ reason: 'decrypt failures above 5%', by: 'breaker' });
      expect(held.frozen).toBeUndefined();
      expect(audit.events.at(-1)).toMatchObject({ action: 'breaker.tripped', actor: 'breaker' });
    });
  });

  describe('resetBreaker', () => {
    it('clears the breaker', async () => {
      // Prepare
      const { service, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      await service.tripBreaker('ring', 'failures');
      // Act
      const released = await service.resetBreaker('ring', { actor: 'cli:alice' });
      // Assess
      expect(released.breaker).toBeUndefined();
      expect(audit.events.at(-1)).toMatchObject({ action: 'breaker.reset', actor: 'cli:alice' });
    });
  });

  describe('recordEscrow', () => {
    it('records escrow and verification times on the version', async () => {
      // Prepare
      const { service, audit } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      // Act
      const catalog = await service.recordEscrow('ring', 1, { escrowedAt: after(T0, 1), verifiedAt: after(T0, 2) });
      // Assess
      expect(catalog.versions[0]).toMatchObject({ escrowedAt: after(T0, 1).toISOString(), escrowVerifiedAt: after(T0, 2).toISOString() });
      expect(audit.events.at(-1)).toMatchObject({ action: 'version.escrow-recorded', version: 1, actor: 'escrow' });
    });

    it('records escrowedAt = now when no time is given', async () => {
      // Prepare
      const { service, setNow } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      setNow(after(T0, 77));
      // Act
      const catalog = await service.recordEscrow('ring', 1);
      // Assess
      expect(catalog.versions[0]?.escrowedAt).toBe(after(T0, 77).toISOString());
      expect(catalog.versions[0]?.escrowVerifiedAt).toBeUndefined();
    });

    it('throws UnknownVersionError for a missing version and ValidationError for an invalid time', async () => {
      // Prepare
      const { service } = setup();
      await service.createKeyring('ring', POLICY, ACTOR);
      // Act / Assess
      await expect(service.recordEscrow('ring', 4)).rejects.toThrow(UnknownVersionError);
      await expect(service.recordEscrow('ring', 1, { verifiedAt: new Date(Number.NaN) })).rejects.toThrow(ValidationError);
    });
  });
});
