import { checkInvariants } from '../../../shared/catalog/invariants';
import { BackendError, ConflictError, UnknownKeyringError } from '../../../shared/errors';
import type { CatalogStore } from '../../../shared/ports/catalog-store';
import type { KeyVault } from '../../../shared/ports/key-vault';
import { after } from './support/fakes';

import { ACTOR, POLICY, T0, setup, states } from './support/keyring-setup';

describe('KeyringService', () => {
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
});
