import {
  applyTransition,
  canDecrypt,
  createCatalog,
  factsNeeded,
  nextVersion,
  planTransitions,
  setEscrow,
  setHold,
  type LifecycleFacts,
  type Transition,
} from '../../../shared/catalog/lifecycle';
import { checkInvariants } from '../../../shared/catalog/invariants';
import type { Catalog, KeyringPolicy, VersionState } from '../../../shared/catalog/model';
import { FrozenError, IllegalTransitionError, UnknownVersionError, ValidationError } from '../../../shared/errors';
import { after, testKey } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');
// No quiet period and destruction opted in: the reference-count and escrow mechanics alone. The
// evidence rule (quiet period, unmanaged sources, opt-in) has its own describe block below.
const POLICY: KeyringPolicy = { rotateEverySeconds: 1000, graceSeconds: 100, propagationSeconds: 10, retentionSeconds: 500, quietSeconds: 0, destroyAfterRetention: true };
const NO_FACTS: LifecycleFacts = { references: new Map(), escrowVerified: new Set() };

function facts(refs: Record<number, number>, escrow: number[] = []): LifecycleFacts {
  return { references: new Map(Object.entries(refs).map(([k, v]) => [Number(k), v])), escrowVerified: new Set(escrow) };
}

function stateOf(catalog: Catalog, version: number): VersionState | undefined {
  return catalog.versions.find((v) => v.version === version)?.state;
}

/** v1 rotating since T0+1010, v2 active since T0+1010. */
function rotated(): Catalog {
  let c = createCatalog('ring', POLICY, testKey(1), T0);
  c = applyTransition(c, { kind: 'create-pending', version: 2, key: testKey(2) }, after(T0, 1000));
  return applyTransition(c, { kind: 'promote', version: 2, demoted: 1 }, after(T0, 1010));
}

/** v1 deprecated at T0+1110, then disabled at T0+1200. */
function disabled(): Catalog {
  let c = applyTransition(rotated(), { kind: 'deprecate', version: 1 }, after(T0, 1110));
  c = applyTransition(c, { kind: 'disable', version: 1 }, after(T0, 1200));
  return c;
}

describe('lifecycle', () => {
  describe('createCatalog', () => {
    it('makes version 1 active at once when a keyring is created', () => {
      // Act
      const catalog = createCatalog('payments', POLICY, testKey(1), T0);
      // Assess
      expect(catalog.versions).toEqual([
        { version: 1, state: 'active', ...testKey(1), createdAt: T0.toISOString(), activatedAt: T0.toISOString() },
      ]);
      expect(catalog.generation).toBe(1);
      expect(checkInvariants(catalog)).toEqual([]);
    });

    it.each([
      ['a bad name', () => createCatalog('Bad Name', POLICY, testKey(1), T0)],
      ['a bad policy', () => createCatalog('ring', { ...POLICY, graceSeconds: -1 }, testKey(1), T0)],
      ['an empty wrapped key', () => createCatalog('ring', POLICY, { wrappedKey: '', wrappingKeyId: 'k' }, T0)],
      ['a non-base64 wrapped key', () => createCatalog('ring', POLICY, { wrappedKey: 'not base64!', wrappingKeyId: 'k' }, T0)],
      ['no wrapping key id', () => createCatalog('ring', POLICY, { wrappedKey: 'AAAA', wrappingKeyId: '' }, T0)],
      ['an invalid time', () => createCatalog('ring', POLICY, testKey(1), new Date(Number.NaN))],
    ])('throws ValidationError on %s', (_label, act) => {
      // Act / Assess
      expect(act).toThrow(ValidationError);
    });
  });

  describe('planTransitions', () => {
    it('plans nothing for a fresh keyring', () => {
      // Prepare
      const catalog = createCatalog('ring', POLICY, testKey(1), T0);
      // Act / Assess
      expect(planTransitions(catalog, after(T0, 999), NO_FACTS)).toEqual([]);
    });

    it('requests the next version as pending when the active version reaches rotateEvery', () => {
      // Prepare
      const catalog = createCatalog('ring', POLICY, testKey(1), T0);
      // Act
      const plan = planTransitions(catalog, after(T0, 1000), NO_FACTS);
      // Assess
      expect(plan).toEqual([{ kind: 'create-pending', version: 2 }]);
    });

    it('does not request another version while one is pending', () => {
      // Prepare
      const catalog = applyTransition(createCatalog('ring', POLICY, testKey(1), T0), { kind: 'create-pending', version: 2, key: testKey(2) }, after(T0, 1000));
      // Act
      const plan = planTransitions(catalog, after(T0, 1005), NO_FACTS);
      // Assess
      expect(plan).toEqual([]);
    });

    it('promotes the pending version once the propagation window has passed', () => {
      // Prepare
      const catalog = applyTransition(createCatalog('ring', POLICY, testKey(1), T0), { kind: 'create-pending', version: 2, key: testKey(2) }, after(T0, 1000));
      // Act
      const early = planTransitions(catalog, after(T0, 1009), NO_FACTS);
      const due = planTransitions(catalog, after(T0, 1010), NO_FACTS);
      // Assess
      expect(early).toEqual([]);
      expect(due).toEqual([{ kind: 'promote', version: 2, demoted: 1 }]);
    });

    it('deprecates a rotating version once the grace period has passed', () => {
      // Prepare
      const catalog = rotated();
      // Act
      const early = planTransitions(catalog, after(T0, 1109), NO_FACTS);
      const due = planTransitions(catalog, after(T0, 1110), NO_FACTS);
      // Assess
      expect(early).toEqual([]);
      expect(due).toEqual([{ kind: 'deprecate', version: 1 }]);
    });

    it('disables a deprecated version only when it has zero references', () => {
      // Prepare
      const catalog = applyTransition(rotated(), { kind: 'deprecate', version: 1 }, after(T0, 1110));
      const now = after(T0, 1111);
      // Act
      const referenced = planTransitions(catalog, now, facts({ 1: 3 }));
      const unknown = planTransitions(catalog, now, NO_FACTS);
      const free = planTransitions(catalog, now, facts({ 1: 0 }));
      // Assess
      expect(referenced).toEqual([]);
      expect(unknown).toEqual([]);
      expect(free).toEqual([{ kind: 'disable', version: 1 }]);
    });

    it('disables a revoked version only when its sweep left zero references', () => {
      // Prepare
      const catalog = applyTransition(rotated(), { kind: 'revoke', version: 1, reason: 'leak', replacement: { version: 3, key: testKey(3) } }, after(T0, 1020));
      // Act
      const referenced = planTransitions(catalog, after(T0, 1021), facts({ 1: 1 }));
      const free = planTransitions(catalog, after(T0, 1021), facts({ 1: 0 }));
      // Assess
      expect(referenced).toEqual([]);
      expect(free).toEqual([{ kind: 'disable', version: 1 }]);
    });

    it('destroys a disabled version only after retention, with escrow verified and zero references', () => {
      // Prepare
      const catalog = disabled();
      const late = after(T0, 1700);
      // Act
      const tooEarly = planTransitions(catalog, after(T0, 1699), facts({ 1: 0 }, [1]));
      const noEscrow = planTransitions(catalog, late, facts({ 1: 0 }));
      const referenced = planTransitions(catalog, late, facts({ 1: 2 }, [1]));
      const due = planTransitions(catalog, late, facts({ 1: 0 }, [1]));
      // Assess
      expect(tooEarly).toEqual([]);
      expect(noEscrow).toEqual([]);
      expect(referenced).toEqual([]);
      expect(due).toEqual([{ kind: 'destroy', version: 1 }]);
    });

    it.each(['frozen', 'breaker'] as const)('plans nothing while %s, even when everything is due', (hold) => {
      // Prepare
      const catalog = setHold(disabled(), hold, { reason: 'incident', at: T0.toISOString(), by: 'op' }, after(T0, 1200));
      // Act
      const plan = planTransitions(catalog, after(T0, 100_000), facts({ 1: 0 }, [1]));
      // Assess
      expect(plan).toEqual([]);
    });
  });

  describe('factsNeeded', () => {
    it('asks for references of deprecated and revoked versions and escrow of disabled ones past retention', () => {
      // Prepare
      let catalog = applyTransition(disabled(), { kind: 'create-pending', version: 3, key: testKey(3) }, after(T0, 2010));
      catalog = applyTransition(catalog, { kind: 'promote', version: 3, demoted: 2 }, after(T0, 2020));
      catalog = applyTransition(catalog, { kind: 'deprecate', version: 2 }, after(T0, 2120));
      // Act
      const before = factsNeeded(catalog, after(T0, 1699));
      const pastRetention = factsNeeded(catalog, after(T0, 2200));
      // Assess
      expect(before).toEqual([{ version: 2, escrow: false }]);
      expect(pastRetention).toEqual([
        { version: 1, escrow: true },
        { version: 2, escrow: false },
      ]);
    });

    it('asks for nothing while paused', () => {
      // Prepare
      const catalog = setHold(disabled(), 'frozen', { reason: 'x', at: T0.toISOString(), by: 'op' }, T0);
      // Act / Assess
      expect(factsNeeded(catalog, after(T0, 100_000))).toEqual([]);
    });
  });

  describe('applyTransition', () => {
    it('adds a pending version with the next number when creating one', () => {
      // Prepare
      const catalog = createCatalog('ring', POLICY, testKey(1), T0);
      const at = after(T0, 1000);
      // Act
      const next = applyTransition(catalog, { kind: 'create-pending', version: 2, key: testKey(2) }, at);
      // Assess
      expect(next.versions[1]).toEqual({ version: 2, state: 'pending', ...testKey(2), createdAt: at.toISOString() });
      expect(next.updatedAt).toBe(at.toISOString());
      expect(catalog.versions).toHaveLength(1);
      expect(checkInvariants(next)).toEqual([]);
    });

    it('promotes pending to active and the old active to rotating in one step', () => {
      // Act
      const catalog = rotated();
      // Assess
      expect(catalog.versions.map((v) => [v.version, v.state])).toEqual([
        [1, 'rotating'],
        [2, 'active'],
      ]);
      expect(catalog.versions[0]?.rotatingAt).toBe(after(T0, 1010).toISOString());
      expect(catalog.versions[1]?.activatedAt).toBe(after(T0, 1010).toISOString());
      expect(checkInvariants(catalog)).toEqual([]);
    });

    it('removes the wrapped key when destroying', () => {
      // Act
      const next = applyTransition(disabled(), { kind: 'destroy', version: 1 }, after(T0, 1700));
      // Assess
      expect(next.versions[0]?.state).toBe('destroyed');
      expect(next.versions[0]).not.toHaveProperty('wrappedKey');
      expect(next.versions[0]?.destroyedAt).toBe(after(T0, 1700).toISOString());
      expect(nextVersion(next)).toBe(3);
      expect(checkInvariants(next)).toEqual([]);
    });

    it('revokes the active version and activates the replacement at once', () => {
      // Prepare
      const catalog = rotated();
      const at = after(T0, 1020);
      // Act
      const next = applyTransition(catalog, { kind: 'revoke', version: 2, reason: ' SEC-1 ', replacement: { version: 3, key: testKey(3) } }, at);
      // Assess
      expect(next.versions.map((v) => [v.version, v.state])).toEqual([
        [1, 'rotating'],
        [2, 'revoked'],
        [3, 'active'],
      ]);
      expect(next.versions[1]).toMatchObject({ revokedAt: at.toISOString(), revokedReason: 'SEC-1' });
      expect(checkInvariants(next)).toEqual([]);
    });

    it('revokes an old version, demotes the active one to rotating and retires a pending one', () => {
      // Prepare
      const catalog = applyTransition(rotated(), { kind: 'create-pending', version: 3, key: testKey(3) }, after(T0, 2010));
      // Act
      const next = applyTransition(catalog, { kind: 'revoke', version: 1, reason: 'leak', replacement: { version: 4, key: testKey(4) } }, after(T0, 2011));
      // Assess
      expect(next.versions.map((v) => [v.version, v.state])).toEqual([
        [1, 'revoked'],
        [2, 'rotating'],
        [3, 'revoked'],
        [4, 'active'],
      ]);
      expect(next.versions[2]?.revokedReason).toMatch(/superseded.*version 1/);
      expect(checkInvariants(next)).toEqual([]);
    });

    it('revokes while frozen or held by the breaker', () => {
      // Prepare
      let catalog = setHold(rotated(), 'frozen', { reason: 'x', at: T0.toISOString(), by: 'op' }, after(T0, 1010));
      catalog = setHold(catalog, 'breaker', { reason: 'y', at: T0.toISOString(), by: 'breaker' }, after(T0, 1010));
      // Act
      const next = applyTransition(catalog, { kind: 'revoke', version: 1, reason: 'leak', replacement: { version: 3, key: testKey(3) } }, after(T0, 1011));
      // Assess
      expect(stateOf(next, 1)).toBe('revoked');
      expect(stateOf(next, 3)).toBe('active');
    });

    it('revokes a disabled version, drops its disabledAt and disables it again once unreferenced', () => {
      // Prepare
      const catalog = disabled();
      // Act
      const revoked = applyTransition(catalog, { kind: 'revoke', version: 1, reason: 'old key found in a dump', replacement: { version: 3, key: testKey(3) } }, after(T0, 1300));
      const again = applyTransition(revoked, { kind: 'disable', version: 1 }, after(T0, 1400));
      // Assess
      expect(stateOf(revoked, 1)).toBe('revoked');
      expect(revoked.versions[0]?.disabledAt).toBeUndefined();
      expect(checkInvariants(revoked)).toEqual([]);
      expect(stateOf(again, 1)).toBe('disabled');
      expect(again.versions[0]?.disabledAt).toBe(after(T0, 1400).toISOString());
      expect(checkInvariants(again)).toEqual([]);
    });

    it('never moves a timestamp backwards when the clock lags the catalog', () => {
      // Prepare
      const catalog = rotated();
      // Act
      const next = applyTransition(catalog, { kind: 'deprecate', version: 1 }, T0);
      // Assess
      expect(next.versions[0]?.deprecatedAt).toBe(catalog.updatedAt);
      expect(checkInvariants(next)).toEqual([]);
    });

    const illegal: Array<[string, () => Catalog, Transition]> = [
      ['promote an active version', rotated, { kind: 'promote', version: 2, demoted: 1 }],
      ['demote a rotating version', () => applyTransition(rotated(), { kind: 'create-pending', version: 3, key: testKey(3) }, after(T0, 2010)), { kind: 'promote', version: 3, demoted: 1 }],
      ['deprecate the active version', rotated, { kind: 'deprecate', version: 2 }],
      ['disable a rotating version', rotated, { kind: 'disable', version: 1 }],
      ['disable the active version', rotated, { kind: 'disable', version: 2 }],
      ['destroy a rotating version', rotated, { kind: 'destroy', version: 1 }],
      ['destroy a revoked version', () => applyTransition(rotated(), { kind: 'revoke', version: 1, reason: 'r', replacement: { version: 3, key: testKey(3) } }, after(T0, 1011)), { kind: 'destroy', version: 1 }],
      ['create a second pending version', () => applyTransition(rotated(), { kind: 'create-pending', version: 3, key: testKey(3) }, after(T0, 2010)), { kind: 'create-pending', version: 4, key: testKey(4) }],
      ['reuse a version number', rotated, { kind: 'create-pending', version: 2, key: testKey(2) }],
      ['skip a version number', rotated, { kind: 'create-pending', version: 5, key: testKey(5) }],
      ['revoke with a reused replacement number', rotated, { kind: 'revoke', version: 1, reason: 'r', replacement: { version: 2, key: testKey(2) } }],
      ['revoke a destroyed version', () => applyTransition(disabled(), { kind: 'destroy', version: 1 }, after(T0, 1700)), { kind: 'revoke', version: 1, reason: 'r', replacement: { version: 3, key: testKey(3) } }],
      ['revoke a revoked version', () => applyTransition(rotated(), { kind: 'revoke', version: 1, reason: 'r', replacement: { version: 3, key: testKey(3) } }, after(T0, 1011)), { kind: 'revoke', version: 1, reason: 'again', replacement: { version: 4, key: testKey(4) } }],
    ];
    it.each(illegal)('throws IllegalTransitionError when asked to %s', (_label, build, transition) => {
      // Prepare
      const catalog = build();
      // Act / Assess
      expect(() => applyTransition(catalog, transition, after(T0, 5000))).toThrow(IllegalTransitionError);
    });

    it('throws UnknownVersionError for a version that does not exist', () => {
      // Act / Assess
      expect(() => applyTransition(rotated(), { kind: 'deprecate', version: 9 }, after(T0, 5000))).toThrow(UnknownVersionError);
      expect(() => applyTransition(rotated(), { kind: 'revoke', version: 9, reason: 'r', replacement: { version: 3, key: testKey(3) } }, after(T0, 5000))).toThrow(UnknownVersionError);
    });

    it('throws ValidationError on a revocation without a reason or with a bad key', () => {
      // Act / Assess
      expect(() => applyTransition(rotated(), { kind: 'revoke', version: 1, reason: '  ', replacement: { version: 3, key: testKey(3) } }, after(T0, 5000))).toThrow(ValidationError);
      expect(() => applyTransition(rotated(), { kind: 'revoke', version: 1, reason: 'r', replacement: { version: 3, key: { wrappedKey: '', wrappingKeyId: 'x' } } }, after(T0, 5000))).toThrow(ValidationError);
      expect(() => applyTransition(rotated(), { kind: 'create-pending', version: 3, key: { wrappedKey: '%%', wrappingKeyId: 'x' } }, after(T0, 5000))).toThrow(ValidationError);
    });

    it.each<Transition>([
      { kind: 'create-pending', version: 3, key: testKey(3) },
      { kind: 'deprecate', version: 1 },
    ])('throws FrozenError for an automatic $kind while frozen', (transition) => {
      // Prepare
      const catalog = setHold(rotated(), 'frozen', { reason: 'x', at: T0.toISOString(), by: 'op' }, after(T0, 1010));
      // Act / Assess
      expect(() => applyTransition(catalog, transition, after(T0, 5000))).toThrow(FrozenError);
    });
  });

  describe('setHold', () => {
    it('sets and clears a freeze without touching versions', () => {
      // Prepare
      const catalog = rotated();
      const info = { reason: 'incident 7', at: T0.toISOString(), by: 'cli:alice' };
      // Act
      const frozen = setHold(catalog, 'frozen', info, after(T0, 2000));
      const thawed = setHold(frozen, 'frozen', undefined, after(T0, 2001));
      // Assess
      expect(frozen.frozen).toEqual(info);
      expect(thawed).not.toHaveProperty('frozen');
      expect(thawed.versions).toEqual(catalog.versions);
    });
  });

  describe('setEscrow', () => {
    it('records escrow times on the version', () => {
      // Prepare
      const at = after(T0, 3000);
      // Act
      const next = setEscrow(rotated(), 1, { escrowedAt: at, verifiedAt: at }, at);
      // Assess
      expect(next.versions[0]).toMatchObject({ escrowedAt: at.toISOString(), escrowVerifiedAt: at.toISOString() });
    });

    it('throws UnknownVersionError for a missing version', () => {
      // Act / Assess
      expect(() => setEscrow(rotated(), 7, { escrowedAt: T0 }, T0)).toThrow(UnknownVersionError);
    });
  });

  describe('canDecrypt', () => {
    it.each<[VersionState, boolean, boolean]>([
      ['pending', true, true],
      ['active', true, true],
      ['rotating', true, true],
      ['deprecated', true, true],
      ['revoked', false, true],
      ['disabled', false, false],
      ['destroyed', false, false],
    ])('answers for %s: read %p, reencrypt %p', (state, read, reencrypt) => {
      // Act / Assess
      expect(canDecrypt(state, 'read')).toBe(read);
      expect(canDecrypt(state, 'reencrypt')).toBe(reencrypt);
    });
  });
});
