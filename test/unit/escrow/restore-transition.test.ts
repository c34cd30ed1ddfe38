import { applyTransition, createCatalog } from '../../../shared/catalog/lifecycle';
import { restorePlan, restoreVersion, type RestoredKey } from '../../../shared/catalog/restore';
import { checkInvariants } from '../../../shared/catalog/invariants';
import { DEFAULT_POLICY } from '../../../shared/catalog/policy';
import { outlookOf } from '../../../shared/catalog/version-outlook';
import type { Catalog } from '../../../shared/catalog/model';
import { IllegalTransitionError, ValidationError } from '../../../shared/errors';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (hours: number): Date => new Date(T0 + hours * 3_600_000);
const key = (n: number): { wrappedKey: string; wrappingKeyId: string } => ({ wrappedKey: Buffer.from(`wrapped-${n}`).toString('base64'), wrappingKeyId: 'local:old' });
const RESTORED: RestoredKey = { wrappedKey: Buffer.from('rewrapped-1').toString('base64'), wrappingKeyId: 'local:current' };

/** A keyring whose v1 went the whole way to destroyed, v2 active (built through the state machine). */
function destroyedV1(): Catalog {
  let c = createCatalog('pii', DEFAULT_POLICY, key(1), at(0));
  c = applyTransition(c, { kind: 'create-pending', version: 2, key: key(2) }, at(1));
  c = applyTransition(c, { kind: 'promote', version: 2, demoted: 1 }, at(2));
  c = applyTransition(c, { kind: 'deprecate', version: 1 }, at(3));
  c = applyTransition(c, { kind: 'disable', version: 1 }, at(4));
  return applyTransition(c, { kind: 'destroy', version: 1 }, at(5));
}

function revokedV1(): Catalog {
  const c = createCatalog('pii', DEFAULT_POLICY, key(1), at(0));
  return applyTransition(c, { kind: 'revoke', version: 1, reason: 'SEC-1 exposed', replacement: { version: 2, key: key(2) } }, at(1));
}

describe('restore (shared/catalog/restore.ts)', () => {
  describe('restoreVersion', () => {
    it('puts a destroyed version back as deprecated with the new key and restoredAt, keeping its history', () => {
      // Prepare
      const catalog = destroyedV1();

      // Act
      const next = restoreVersion(catalog, { version: 1, key: RESTORED, now: at(10), escrowedAt: at(0).toISOString() });

      // Assess
      const v1 = next.versions.find((v) => v.version === 1);
      expect(v1).toMatchObject({ state: 'deprecated', ...RESTORED, restoredAt: at(10).toISOString(), createdAt: at(0).toISOString(), deprecatedAt: at(3).toISOString() });
      expect(v1?.destroyedAt).toBeUndefined();
      expect(v1?.disabledAt).toBeUndefined();
      expect(next.versions.find((v) => v.version === 2)?.state).toBe('active');
      expect(checkInvariants({ ...next, generation: next.generation + 1 })).toEqual([]);
      expect(catalog.versions.find((v) => v.version === 1)?.state).toBe('destroyed');
    });

    it('re-creates a version the catalog lost, dated by its escrow record', () => {
      // Prepare: a catalog that never heard of v1 (rebuilt after a loss), v2 active
      const rebuilt = destroyedV1();
      const catalog = { ...rebuilt, versions: rebuilt.versions.filter((v) => v.version !== 1) };

      // Act
      const next = restoreVersion(catalog, { version: 1, key: RESTORED, now: at(10), escrowedAt: at(0).toISOString() });

      // Assess
      expect(next.versions.map((v) => [v.version, v.state])).toEqual([
        [1, 'deprecated'],
        [2, 'active'],
      ]);
      expect(next.versions[0]).toMatchObject({ createdAt: at(0).toISOString(), escrowedAt: at(0).toISOString(), restoredAt: at(10).toISOString(), ...RESTORED });
      expect(checkInvariants({ ...next, generation: next.generation + 1 })).toEqual([]);
    });

    it('changes nothing when the version was restored already (a rerun after a crash)', () => {
      // Prepare
      const once = restoreVersion(destroyedV1(), { version: 1, key: RESTORED, now: at(10), escrowedAt: at(0).toISOString() });

      // Act
      const twice = restoreVersion(once, { version: 1, key: { ...RESTORED, wrappedKey: Buffer.from('other').toString('base64') }, now: at(11), escrowedAt: at(0).toISOString() });

      // Assess
      expect(twice).toBe(once);
    });

    it('restarts the quiet period at restoredAt: the restored key is disabled again only after a whole quiet period', () => {
      // Prepare: v1's key was last used long before it was destroyed; nothing references it now.
      const restored = restoreVersion(destroyedV1(), { version: 1, key: RESTORED, now: at(10), escrowedAt: at(0).toISOString() });
      const facts = { references: new Map([[1, 0], [2, 0]]), escrowVerified: new Set<number>(), keyUse: { observingSince: at(0), lastUse: new Map([[1, { at: at(3) }]]) } };
      const quietEnds = new Date(at(10).getTime() + DEFAULT_POLICY.quietSeconds * 1000);

      // Act
      const v1 = outlookOf(restored, at(11), facts).find((o) => o.version === 1);

      // Assess
      expect(v1).toMatchObject({ state: 'deprecated', next: 'disable', quietUntil: quietEnds, dueAt: quietEnds });
    });

    it('refuses a rerun once the restored version was disabled again, naming reenable', () => {
      // Prepare: restored, then retired once more by the lifecycle.
      const restored = restoreVersion(destroyedV1(), { version: 1, key: RESTORED, now: at(10), escrowedAt: at(0).toISOString() });
      const disabledAgain = applyTransition(restored, { kind: 'disable', version: 1 }, at(20));

      // Act / Assess
      expect(() => restoreVersion(disabledAgain, { version: 1, key: RESTORED, now: at(21), escrowedAt: at(0).toISOString() })).toThrow(IllegalTransitionError);
      expect(() => restorePlan(disabledAgain, 1)).toThrow(/is disabled and still has its key; nothing to restore \(use 'rekey reenable pii --version 1'\)/);
    });

    it('never moves timestamps backwards when the restorer clock lags the catalog', () => {
      // Act
      const next = restoreVersion(destroyedV1(), { version: 1, key: RESTORED, now: at(-100), escrowedAt: at(0).toISOString() });

      // Assess
      expect(next.updatedAt).toBe(at(5).toISOString());
      expect(next.versions[0]?.restoredAt).toBe(at(5).toISOString());
    });

    it('throws ValidationError for a key that is not base64 or lacks its wrapping key id', () => {
      // Prepare
      const catalog = destroyedV1();

      // Act / Assess
      expect(() => restoreVersion(catalog, { version: 1, key: { wrappedKey: 'not base64!', wrappingKeyId: 'k' }, now: at(10), escrowedAt: at(0).toISOString() })).toThrow(ValidationError);
      expect(() => restoreVersion(catalog, { version: 1, key: { ...RESTORED, wrappingKeyId: '' }, now: at(10), escrowedAt: at(0).toISOString() })).toThrow(ValidationError);
    });
  });

  describe('restorePlan', () => {
    it('throws IllegalTransitionError for a revoked version', () => {
      expect(() => restorePlan(revokedV1(), 1)).toThrow(IllegalTransitionError);
      expect(() => restorePlan(revokedV1(), 1)).toThrow(/revoked/);
    });

    it('throws IllegalTransitionError for a version that carries revokedAt in a later state', () => {
      // Prepare: revoked, then disabled (keeps revokedAt), then destroyed
      let c = revokedV1();
      c = applyTransition(c, { kind: 'disable', version: 1 }, at(2));
      c = applyTransition(c, { kind: 'destroy', version: 1 }, at(3));

      // Act / Assess
      expect(c.versions[0]).toMatchObject({ state: 'destroyed' });
      expect(c.versions[0]?.revokedAt).toBeDefined();
      expect(() => restorePlan(c, 1)).toThrow(/revoked/);
    });

    it('throws IllegalTransitionError for a version that still has its key, naming reenable for a disabled one', () => {
      // Prepare
      let c = destroyedV1();
      c = applyTransition(c, { kind: 'create-pending', version: 3, key: key(3) }, at(6));
      c = applyTransition(c, { kind: 'promote', version: 3, demoted: 2 }, at(7));
      c = applyTransition(c, { kind: 'deprecate', version: 2 }, at(8));
      c = applyTransition(c, { kind: 'disable', version: 2 }, at(9));

      // Act / Assess
      expect(() => restorePlan(c, 2)).toThrow(IllegalTransitionError);
      expect(() => restorePlan(c, 2)).toThrow(/rekey reenable pii --version 2/);
      expect(() => restorePlan(c, 3)).toThrow(/active and still has its key/);
    });

    it('refuses a missing version newer than the active one (versions are never reused)', () => {
      expect(() => restorePlan(destroyedV1(), 3)).toThrow(IllegalTransitionError);
    });

    it('names what it found: destroyed, missing, already restored', () => {
      // Prepare
      const destroyed = destroyedV1();
      const lost = { ...destroyed, versions: destroyed.versions.filter((v) => v.version !== 1) };
      const restored = restoreVersion(destroyed, { version: 1, key: RESTORED, now: at(10), escrowedAt: at(0).toISOString() });

      // Act / Assess
      expect(restorePlan(destroyed, 1).kind).toBe('destroyed');
      expect(restorePlan(lost, 1).kind).toBe('missing');
      expect(restorePlan(restored, 1).kind).toBe('already-restored');
      expect(() => restorePlan(destroyed, 0)).toThrow(ValidationError);
    });
  });
});
