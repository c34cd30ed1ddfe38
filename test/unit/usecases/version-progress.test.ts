import fc from 'fast-check';
import type { Catalog, KeyVersion } from '../../../shared/catalog/model';
import { outlookOf, type LifecycleFacts, type OutlookHold, type VersionOutlook } from '../../../shared/catalog/version-outlook';
import { DEFAULT_TICK_INTERVAL_SECONDS, progressOf } from '../../../shared/usecases/version-progress';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const DAY = 86_400;
const NOW = new Date(T0 + 40 * DAY * 1000);

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
    generation: 3,
    policy: { rotateEverySeconds: 30 * DAY, graceSeconds: 7 * DAY, propagationSeconds: 600, retentionSeconds: 30 * DAY, quietSeconds: 7 * DAY, destroyAfterRetention: true },
    versions,
    createdAt: iso(0),
    updatedAt: iso(0),
    ...extra,
  };
}

/** Facts under which nothing but time holds a version back: no references, observed and quiet keys, escrow verified. */
function quietFacts(versions: number[]): LifecycleFacts {
  return {
    references: new Map(versions.map((v) => [v, 0])),
    escrowVerified: new Set(versions),
    keyUse: { lastUse: new Map(), observingSince: new Date(T0) },
  };
}

function outlookOfVersion(c: Catalog, facts: LifecycleFacts, v: number, now = NOW): VersionOutlook {
  const found = outlookOf(c, now, facts).find((o) => o.version === v);
  if (found === undefined) throw new Error(`no outlook for v${v}`);
  return found;
}

/** An outlook whose next step is due at `dueAt` and held by nothing. */
function dueOutlook(dueAt: Date, holds: OutlookHold[] = []): VersionOutlook {
  return { version: 1, state: 'active', next: 'rotate', dueAt, reasons: [], holds };
}

describe('version progress', () => {
  describe('progressOf: overdue', () => {
    it('is not overdue at exactly one tick interval late, and overdue one millisecond later', () => {
      // Prepare
      const dueAt = new Date(NOW.getTime() - DEFAULT_TICK_INTERVAL_SECONDS * 1000);
      const outlook = dueOutlook(dueAt);

      // Act
      const onTheEdge = progressOf(outlook, NOW);
      const late = progressOf(outlook, new Date(NOW.getTime() + 1));

      // Assess
      expect(onTheEdge).toEqual({ overdue: false, stuck: false, holds: [] });
      expect(late).toEqual({ overdue: true, stuck: false, holds: [] });
    });

    it('is overdue exactly when the instant passed by more than the given tick interval (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: -10 * DAY, max: 10 * DAY }), fc.integer({ min: 1, max: 6 * 3600 }), (lateBySeconds, interval) => {
          // Prepare
          const outlook = dueOutlook(new Date(NOW.getTime() - lateBySeconds * 1000));

          // Act
          const p = progressOf(outlook, NOW, interval);

          // Assess
          expect(p.overdue).toBe(lateBySeconds > interval);
        }),
      );
    });

    it('is never overdue without a next step or without an instant', () => {
      // Prepare
      const noNext: VersionOutlook = { version: 1, state: 'disabled', reasons: ['kept'], holds: [] };
      const noInstant: VersionOutlook = { version: 1, state: 'deprecated', next: 'disable', reasons: [], holds: [] };

      // Act / Assess
      expect(progressOf(noNext, NOW, 1).overdue).toBe(false);
      expect(progressOf(noInstant, NOW, 1).overdue).toBe(false);
    });

    it('reads a rotation left undone for two days past its time as overdue, from the real outlook', () => {
      // Prepare: v1 active since T0, rotation due at 30 d, now 40 d
      const c = catalog([version({ version: 1, state: 'active', activatedAt: iso(0) })]);

      // Act
      const p = progressOf(outlookOfVersion(c, quietFacts([1]), 1), NOW);

      // Assess
      expect(p).toEqual({ overdue: true, stuck: false, holds: [] });
    });
  });

  describe('progressOf: stuck', () => {
    // One deprecated version (stopped encrypting at 10 d), the facts changed one at a time.
    const deprecated = [version({ version: 1, state: 'deprecated', activatedAt: iso(0), rotatingAt: iso(10 * DAY), deprecatedAt: iso(17 * DAY) }), version({ version: 2, state: 'active', activatedAt: iso(10 * DAY) })];
    const disabled = [
      version({ version: 1, state: 'disabled', activatedAt: iso(0), rotatingAt: iso(1 * DAY), deprecatedAt: iso(2 * DAY), disabledAt: iso(3 * DAY) }),
      version({ version: 2, state: 'active', activatedAt: iso(1 * DAY) }),
    ];
    const cases: Array<[string, Catalog, LifecycleFacts, number, OutlookHold['kind']]> = [
      ['records still under the version', catalog(deprecated), { ...quietFacts([1, 2]), references: new Map([[1, 1204], [2, 0]]) }, 1, 'references'],
      ['references not counted', catalog(deprecated), { ...quietFacts([1, 2]), references: new Map([[2, 0]]) }, 1, 'uncounted'],
      ['a source that could not be counted', catalog(deprecated), { ...quietFacts([1, 2]), uncounted: ['cache'] }, 1, 'uncounted'],
      ['key use never observed', catalog(deprecated), { references: new Map([[1, 0], [2, 0]]), escrowVerified: new Set() }, 1, 'key-use-unobserved'],
      ['no escrow copy verified by a drill', catalog(disabled), { ...quietFacts([1, 2]), escrowVerified: new Set() }, 1, 'escrow'],
      ['a freeze', catalog(deprecated, { frozen: { reason: 'INC-7', at: iso(20 * DAY), by: 'cli:alice' } }), quietFacts([1, 2]), 1, 'frozen'],
      ['the circuit breaker', catalog(deprecated, { breaker: { reason: 'decrypt failures', at: iso(20 * DAY), by: 'breaker' } }), quietFacts([1, 2]), 1, 'breaker'],
      [
        'unmanaged holders still using the key',
        catalog(deprecated, { sources: { unmanaged: ['files'] } }),
        { ...quietFacts([1, 2]), keyUse: { lastUse: new Map([[1, { at: new Date(NOW.getTime() - 3600_000) }]]), observingSince: new Date(T0) } },
        1,
        'unmanaged',
      ],
    ];

    it.each(cases)('is stuck on %s (a hold time alone does not clear) and not overdue', (_name, c, facts, v, kind) => {
      // Prepare
      const outlook = outlookOfVersion(c, facts, v);

      // Act
      const p = progressOf(outlook, NOW);

      // Assess
      expect(p.stuck).toBe(true);
      expect(p.overdue).toBe(false);
      const hold = p.holds.find((h) => h.kind === kind);
      expect(hold).toMatchObject({ kind, clearsWithTime: false });
      expect(hold?.text.length).toBeGreaterThan(0);
    });

    it('counts the references in the hold it reports', () => {
      // Prepare
      const outlook = outlookOfVersion(catalog(deprecated), { ...quietFacts([1, 2]), references: new Map([[1, 1204], [2, 0]]) }, 1);

      // Act
      const p = progressOf(outlook, NOW);

      // Assess
      expect(p.holds).toEqual([{ kind: 'references', clearsWithTime: false, count: 1204, text: 'blocked: 1,204 references still under v1' }]);
    });
  });

  describe('progressOf: waiting on time', () => {
    it('is neither stuck nor overdue while only the quiet period runs, and gives its end as ISO', () => {
      // Prepare: the key was used one day ago, the quiet period is 7 d
      const c = catalog([version({ version: 1, state: 'deprecated', activatedAt: iso(0), rotatingAt: iso(10 * DAY), deprecatedAt: iso(17 * DAY) }), version({ version: 2, state: 'active', activatedAt: iso(10 * DAY) })]);
      const usedAt = new Date(NOW.getTime() - DAY * 1000);
      const facts: LifecycleFacts = { ...quietFacts([1, 2]), keyUse: { lastUse: new Map([[1, { at: usedAt }]]), observingSince: new Date(T0) } };

      // Act
      const p = progressOf(outlookOfVersion(c, facts, 1), NOW);

      // Assess
      expect(p.stuck).toBe(false);
      expect(p.overdue).toBe(false);
      expect(p.holds).toHaveLength(1);
      expect(p.holds[0]).toMatchObject({ kind: 'quiet', clearsWithTime: true, until: new Date(usedAt.getTime() + 7 * DAY * 1000).toISOString() });
    });

    it('is neither stuck nor overdue while retention runs', () => {
      // Prepare: disabled at 35 d, retention 30 d
      const c = catalog([
        version({ version: 1, state: 'disabled', activatedAt: iso(0), rotatingAt: iso(1 * DAY), deprecatedAt: iso(2 * DAY), disabledAt: iso(35 * DAY) }),
        version({ version: 2, state: 'active', activatedAt: iso(1 * DAY) }),
      ]);

      // Act
      const p = progressOf(outlookOfVersion(c, quietFacts([1, 2]), 1), NOW);

      // Assess
      expect({ stuck: p.stuck, overdue: p.overdue, kinds: p.holds.map((h) => h.kind) }).toEqual({ stuck: false, overdue: false, kinds: ['retention'] });
      expect(p.holds[0]?.until).toBe(iso(65 * DAY));
    });

    it('is not stuck on unmanaged holders whose key stayed quiet (they clear with time)', () => {
      // Prepare
      const c = catalog([version({ version: 1, state: 'deprecated', activatedAt: iso(0), rotatingAt: iso(35 * DAY), deprecatedAt: iso(39 * DAY) }), version({ version: 2, state: 'active', activatedAt: iso(35 * DAY) })], { sources: { unmanaged: ['files'] } });

      // Act
      const p = progressOf(outlookOfVersion(c, quietFacts([1, 2]), 1), NOW);

      // Assess
      expect(p.stuck).toBe(false);
      expect(p.holds.map((h) => [h.kind, h.clearsWithTime])).toEqual([
        ['quiet', true],
        ['unmanaged', true],
      ]);
    });

    it('is not stuck for a version with no next step, even with a hold listed', () => {
      // Prepare
      const outlook: VersionOutlook = { version: 1, state: 'destroyed', reasons: [], holds: [{ kind: 'escrow', clearsWithTime: false, text: 'blocked' }] };

      // Act / Assess
      expect(progressOf(outlook, NOW).stuck).toBe(false);
    });
  });
});
