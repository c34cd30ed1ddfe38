import { applyTransition, createCatalog } from '../../../shared/catalog/lifecycle';
import { checkInvariants } from '../../../shared/catalog/invariants';
import type { Catalog, KeyVersion } from '../../../shared/catalog/model';
import { DEFAULT_POLICY } from '../../../shared/catalog/policy';
import { after, testKey } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');

/** v1 rotating, v2 active, v3 pending. */
function sound(): Catalog {
  let c = createCatalog('ring', DEFAULT_POLICY, testKey(1), T0);
  c = applyTransition(c, { kind: 'create-pending', version: 2, key: testKey(2) }, after(T0, 100));
  c = applyTransition(c, { kind: 'promote', version: 2, demoted: 1 }, after(T0, 200));
  return applyTransition(c, { kind: 'create-pending', version: 3, key: testKey(3) }, after(T0, 300));
}

function withVersions(c: Catalog, edit: (versions: KeyVersion[]) => KeyVersion[]): Catalog {
  return { ...c, versions: edit([...c.versions]) };
}

function patch(c: Catalog, version: number, change: Partial<KeyVersion> & Record<string, unknown>): Catalog {
  return withVersions(c, (vs) => vs.map((v) => (v.version === version ? ({ ...v, ...change } as KeyVersion) : v)));
}

describe('invariants', () => {
  describe('checkInvariants', () => {
    it('returns no problem for a sound catalog', () => {
      // Act / Assess
      expect(checkInvariants(sound())).toEqual([]);
    });

    it.each<[string, (c: Catalog) => Catalog, RegExp]>([
      ['no active version', (c) => patch(c, 2, { state: 'rotating', rotatingAt: after(T0, 300).toISOString() }), /exactly one active version expected, found 0/],
      ['two active versions', (c) => patch(c, 1, { state: 'active', rotatingAt: undefined }), /exactly one active version expected, found 2/],
      ['two pending versions', (c) => withVersions(c, (vs) => [...vs, { version: 4, state: 'pending', ...testKey(4), createdAt: after(T0, 300).toISOString() }]), /at most one pending/],
      ['duplicate versions', (c) => withVersions(c, (vs) => [vs[0]!, vs[0]!, vs[1]!]), /unique and ascending/],
      ['versions out of order', (c) => withVersions(c, (vs) => [vs[1]!, vs[0]!, vs[2]!]), /unique and ascending/],
      ['a version numbered 0', (c) => patch(c, 1, { version: 0 }), /not a positive integer/],
      ['a rotating version newer than the active one', (c) => withVersions(c, (vs) => [vs[0]!, vs[1]!, { ...vs[2]!, state: 'rotating', activatedAt: vs[2]!.createdAt, rotatingAt: vs[2]!.createdAt }]), /newer than the active version/],
      ['a destroyed version keeping its key', (c) => patch(c, 1, { state: 'destroyed', disabledAt: after(T0, 250).toISOString(), destroyedAt: after(T0, 260).toISOString() }), /still holds its wrapped key/],
      ['a live version without its key', (c) => patch(c, 2, { wrappedKey: undefined }), /has no wrapped key/],
      ['a version without wrapping key id', (c) => patch(c, 2, { wrappingKeyId: '' }), /no wrapping key id/],
      ['an active version without activatedAt', (c) => patch(c, 2, { activatedAt: undefined }), /lacks activatedAt/],
      ['a pending version with activatedAt', (c) => patch(c, 3, { activatedAt: after(T0, 300).toISOString() }), /must not have activatedAt/],
      ['timestamps out of lifecycle order', (c) => patch(c, 1, { rotatingAt: after(T0, -10).toISOString() }), /rotatingAt is before activatedAt/],
      ['a timestamp after updatedAt', (c) => patch(c, 3, { createdAt: after(T0, 9999).toISOString() }), /after the catalog's updatedAt/],
      ['a timestamp that is not a time', (c) => patch(c, 1, { rotatingAt: 'yesterday' }), /not an ISO-8601 time/],
      ['a revoked version without reason', (c) => patch(c, 1, { state: 'revoked', revokedAt: after(T0, 250).toISOString() }), /lacks revokedReason/],
      ['a revocation before creation', (c) => patch(c, 1, { state: 'revoked', revokedAt: after(T0, -5).toISOString(), revokedReason: 'x' }), /revokedAt is outside/],
      ['an unknown state', (c) => patch(c, 1, { state: 'lost' as never }), /unknown state/],
      ['a bad keyring name', (c) => ({ ...c, keyring: 'Bad' }), /invalid keyring name/],
      ['a bad policy', (c) => ({ ...c, policy: { ...c.policy, graceSeconds: -1 } }), /invalid policy/],
      ['generation 0', (c) => ({ ...c, generation: 0 }), /generation must be a positive integer/],
      ['created after updated', (c) => ({ ...c, createdAt: after(T0, 99_999).toISOString() }), /createdAt is after updatedAt/],
      ['another schema', (c) => ({ ...c, schema: 2 as never }), /unsupported schema/],
    ])('reports %s', (_label, corrupt, expected) => {
      // Prepare
      const catalog = corrupt(sound());
      // Act
      const problems = checkInvariants(catalog);
      // Assess
      expect(problems.join('\n')).toMatch(expected);
    });
  });
});
