import { AlreadyExistsError, FrozenError, IllegalTransitionError, UnknownKeyringError, UnknownVersionError, ValidationError } from '../../../shared/errors';
import type { CatalogStore } from '../../../shared/ports/catalog-store';
import { after } from './support/fakes';

import { ACTOR, POLICY, T0, setup, states } from './support/keyring-setup';

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
      expect(catalog.policy).toEqual({
        rotateEverySeconds: 7_776_000,
        graceSeconds: 604_800,
        propagationSeconds: 600,
        retentionSeconds: 2_592_000,
        quietSeconds: 604_800,
        destroyAfterRetention: false,
      });
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
      const again = await service.freeze('ring', { reason: 'other', actor: 'cli:bob' });
      // Assess
      expect(frozen.catalog.frozen).toEqual({ reason: 'incident 4', at: after(T0, 1).toISOString(), by: 'cli:alice' });
      expect(frozen.changed).toBe(true);
      expect(again).toMatchObject({ changed: false, reason: 'incident 4', since: after(T0, 1).toISOString(), by: 'cli:alice' });
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
      const again = await service.unfreeze('ring', ACTOR);
      // Assess
      expect(thawed.catalog.frozen).toBeUndefined();
      expect([thawed.changed, again.changed]).toEqual([true, false]);
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
