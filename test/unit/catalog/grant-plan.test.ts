import { planGrants, type ExistingGrant } from '../../../shared/catalog/grant-plan';

const APP = 'arn:aws:iam::111122223333:role/app';
const ESCROW = 'arn:aws:iam::111122223333:role/escrow';

function grant(id: string, grantee: string, version: number | string, keyring = 'pii', operations: string[] = ['Decrypt']): ExistingGrant {
  return { grantId: id, grantee, operations, contextEquals: { keyring, version: String(version) } };
}

describe('planGrants', () => {
  describe('creation', () => {
    it('grants every grantee every readable version when no grant exists', () => {
      // Prepare
      const versions = [
        { version: 1, state: 'deprecated' as const },
        { version: 2, state: 'active' as const },
        { version: 3, state: 'pending' as const },
      ];
      // Act
      const plan = planGrants('pii', versions, [APP, ESCROW], []);
      // Assess
      expect(plan.revoke).toEqual([]);
      expect(plan.create).toHaveLength(6);
      expect(plan.create).toEqual(expect.arrayContaining([{ grantee: APP, version: 3 }, { grantee: ESCROW, version: 1 }]));
    });

    it('creates nothing that already exists', () => {
      // Prepare
      const existing = [grant('g1', APP, 2)];
      // Act
      const plan = planGrants('pii', [{ version: 2, state: 'active' }], [APP], existing);
      // Assess
      expect(plan).toEqual({ revoke: [], create: [] });
    });
  });

  describe('revocation', () => {
    it.each(['revoked', 'disabled', 'destroyed'] as const)('revokes the grants of a %s version', (state) => {
      // Prepare
      const existing = [grant('g1', APP, 1), grant('g2', APP, 2)];
      // Act
      const plan = planGrants('pii', [{ version: 1, state }, { version: 2, state: 'active' }], [APP], existing);
      // Assess
      expect(plan).toEqual({ revoke: ['g1'], create: [] });
    });

    it('revokes a version named by a compromise event even while the catalog still reads active', () => {
      // Prepare
      const existing = [grant('g1', APP, 4), grant('g2', ESCROW, 4)];
      // Act
      const plan = planGrants('pii', [{ version: 4, state: 'active' }], [APP, ESCROW], existing, new Set([4]));
      // Assess
      expect([...plan.revoke].sort()).toEqual(['g1', 'g2']);
      expect(plan.create).toEqual([]);
    });

    it('revokes grants of removed grantees, duplicates and malformed grants, and leaves other keyrings alone', () => {
      // Prepare
      const existing = [
        grant('gone', 'arn:aws:iam::111122223333:role/old', 2),
        grant('keep', APP, 2),
        grant('dup', APP, 2),
        grant('wide', APP, 2, 'pii', ['Decrypt', 'Encrypt']),
        grant('other', APP, 2, 'ops'),
        { grantId: 'noctx', grantee: APP, operations: ['Decrypt'] },
      ];
      // Act
      const plan = planGrants('pii', [{ version: 2, state: 'active' }], [APP], existing);
      // Assess
      expect([...plan.revoke].sort()).toEqual(['dup', 'gone', 'wide']);
      expect(plan.create).toEqual([]);
    });

    it('revokes everything of the keyring when its catalog is gone', () => {
      // Prepare
      const existing = [grant('g1', APP, 1), grant('g2', ESCROW, 2)];
      // Act
      const plan = planGrants('pii', [], [APP, ESCROW], existing);
      // Assess
      expect(plan).toEqual({ revoke: ['g1', 'g2'], create: [] });
    });
  });
});
