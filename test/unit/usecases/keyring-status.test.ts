import type { Catalog, KeyVersion } from '../../../shared/catalog/model';
import { keyringStatus, unmanagedProtection } from '../../../shared/usecases/keyring-status';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const DAY = 86_400;
const NOW = new Date(T0 + 100 * DAY * 1000);

function iso(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

function version(v: Partial<KeyVersion> & Pick<KeyVersion, 'version' | 'state'>): KeyVersion {
  return { wrappingKeyId: 'memory:test', wrappedKey: 'AA==', createdAt: iso(0), ...v };
}

function catalog(versions: KeyVersion[], extra: Partial<Catalog> = {}): Catalog {
  return {
    schema: 1,
    keyring: 'pii',
    generation: 9,
    policy: { rotateEverySeconds: 30 * DAY, graceSeconds: 7 * DAY, propagationSeconds: 600, retentionSeconds: 30 * DAY, quietSeconds: 3 * DAY, destroyAfterRetention: false },
    versions,
    createdAt: iso(0),
    updatedAt: iso(0),
    ...extra,
  };
}

const destroyed1 = version({ version: 1, state: 'destroyed', activatedAt: iso(0), rotatingAt: iso(1 * DAY), deprecatedAt: iso(2 * DAY), disabledAt: iso(3 * DAY), destroyedAt: iso(40 * DAY) });
const destroyed2 = version({ version: 2, state: 'destroyed', createdAt: iso(1 * DAY), activatedAt: iso(1 * DAY), rotatingAt: iso(5 * DAY), deprecatedAt: iso(6 * DAY), disabledAt: iso(7 * DAY), destroyedAt: iso(45 * DAY) });
const revokedThenDisabled = version({
  version: 3,
  state: 'disabled',
  createdAt: iso(5 * DAY),
  activatedAt: iso(5 * DAY),
  revokedAt: iso(60 * DAY),
  revokedReason: 'SEC-1234 key exposure',
  revokedBy: 'cli:alice',
  disabledAt: iso(70 * DAY),
});
const active4 = version({ version: 4, state: 'active', createdAt: iso(60 * DAY), activatedAt: iso(60 * DAY) });

describe('keyring status', () => {
  describe('keyringStatus: destroyed versions', () => {
    it('leaves destroyed versions out and counts them in hiddenDestroyed', () => {
      // Prepare
      const c = catalog([destroyed1, destroyed2, revokedThenDisabled, active4]);

      // Act
      const s = keyringStatus(c, new Map(), new Map(), { now: NOW });

      // Assess
      expect(s.versions.map((v) => v.version)).toEqual([3, 4]);
      expect(s.hiddenDestroyed).toBe(2);
    });

    it('lists every version with all, and then hides none', () => {
      // Prepare
      const c = catalog([destroyed1, destroyed2, revokedThenDisabled, active4]);

      // Act
      const s = keyringStatus(c, new Map(), new Map(), { now: NOW, all: true });

      // Assess
      expect(s.versions.map((v) => [v.version, v.state, v.since])).toEqual([
        [1, 'destroyed', iso(40 * DAY)],
        [2, 'destroyed', iso(45 * DAY)],
        [3, 'disabled', iso(70 * DAY)],
        [4, 'active', iso(60 * DAY)],
      ]);
      expect(s.hiddenDestroyed).toBe(0);
    });
  });

  describe('keyringStatus: revocation facts', () => {
    it('keeps when, why and by whom a version was revoked after it moved on to disabled', () => {
      // Prepare
      const c = catalog([revokedThenDisabled, active4]);

      // Act
      const s = keyringStatus(c, new Map([[3, 0]]), new Map(), { now: NOW });

      // Assess
      const v3 = s.versions.find((v) => v.version === 3);
      expect(v3?.state).toBe('disabled');
      expect(v3?.revoked).toEqual({ at: iso(60 * DAY), reason: 'SEC-1234 key exposure', by: 'cli:alice' });
    });

    it('keeps the revocation of a catalog written before its actor was recorded, without a by', () => {
      // Prepare
      const { revokedBy: _dropped, ...older } = revokedThenDisabled;
      const c = catalog([older, active4]);

      // Act
      const s = keyringStatus(c, new Map(), new Map(), { now: NOW });

      // Assess
      expect(s.versions[0]?.revoked).toEqual({ at: iso(60 * DAY), reason: 'SEC-1234 key exposure' });
    });

    it('says nothing of a revocation for a version never revoked', () => {
      // Prepare
      const c = catalog([active4]);

      // Act
      const s = keyringStatus(c, new Map(), new Map(), { now: NOW });

      // Assess
      expect(s.versions[0]).not.toHaveProperty('revoked');
    });
  });

  describe('keyringStatus: counts and the cache', () => {
    it('reports records and cache entries per version, and null cache entries when the cache was not counted', () => {
      // Prepare
      const c = catalog([revokedThenDisabled, active4]);

      // Act
      const counted = keyringStatus(c, new Map([[4, 6000]]), new Map([[4, 12]]), { now: NOW });
      const uncounted = keyringStatus(c, new Map([[4, 6000]]), new Map(), { now: NOW, uncounted: ['cache'] });

      // Assess
      expect(counted.cacheCounted).toBe(true);
      expect(counted.versions.map((v) => [v.version, v.records, v.cacheEntries])).toEqual([
        [3, 0, 0],
        [4, 6000, 12],
      ]);
      expect(uncounted.cacheCounted).toBe(false);
      expect(uncounted.versions.map((v) => v.cacheEntries)).toEqual([null, null]);
    });
  });

  describe('keyringStatus / unmanagedProtection: protection lines', () => {
    it('has no protection lines when no unmanaged holder is declared', () => {
      // Prepare
      const c = catalog([active4]);

      // Act
      const s = keyringStatus(c, new Map(), new Map(), { now: NOW });

      // Assess
      expect(s.unmanaged).toEqual([]);
      expect(s.protection).toEqual([]);
    });

    it("says how files made by 'rekey encrypt' are kept readable, with the effective quiet period", () => {
      // Prepare: a 3 d policy quiet period is raised to the 7 d minimum by the unmanaged holder
      const c = catalog([active4], { sources: { unmanaged: ['files'] } });

      // Act
      const s = keyringStatus(c, new Map(), new Map(), { now: NOW });

      // Assess
      expect(s.unmanaged).toEqual(['files']);
      expect(s.protection).toHaveLength(1);
      expect(s.protection[0]).toMatch(/^files: envelopes made by 'rekey encrypt' live outside the record store, so rekey cannot count them\./);
      expect(s.protection[0]).toContain('its key has gone unused for 7d');
      expect(s.protection[0]).toContain("fail to decrypt until 'rekey reenable'");
      expect(s.protection[0]).toContain("'rekey rewrap'");
    });

    it('names other unmanaged holders in one line, and adds the destruction line when destroy after retention is on', () => {
      // Prepare
      const c = catalog([active4], { sources: { unmanaged: ['backups', 'files', 'replica-db'] }, policy: { ...catalog([]).policy, destroyAfterRetention: true, quietSeconds: 10 * DAY } });

      // Act
      const lines = unmanagedProtection(c);

      // Assess
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^files: /);
      expect(lines[0]).toContain('unused for 10d');
      expect(lines[1]).toBe('backups, replica-db: declared unmanaged, not counted; an old version is disabled once its key has gone unused for 10d: re-encrypt what they hold before then.');
      expect(lines[2]).toMatch(/^destroy after retention is on: 30d after it is disabled, .* such data opens only after 'rekey escrow restore'\.$/);
    });

    it('says "it holds" for a single unmanaged holder other than files', () => {
      // Prepare
      const c = catalog([active4], { sources: { unmanaged: ['backups'] } });

      // Act
      const lines = unmanagedProtection(c);

      // Assess
      expect(lines).toEqual(['backups: declared unmanaged, not counted; an old version is disabled once its key has gone unused for 7d: re-encrypt what it holds before then.']);
    });
  });
});
