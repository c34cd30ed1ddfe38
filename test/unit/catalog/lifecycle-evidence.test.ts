/**
 * The evidence rule of issue 11: a deprecated or revoked version is disabled only on zero
 * references from every declared source AND a quiet key; a keyring with unmanaged data is never
 * disabled on counts alone; destruction is opt-in and needs every piece of evidence; re-enable.
 */
import { applyTransition, createCatalog, factsNeeded, planTransitions, setSources, type LifecycleFacts } from '../../../shared/catalog/lifecycle';
import { checkInvariants } from '../../../shared/catalog/invariants';
import { forecastTransitions } from '../../../shared/catalog/forecast';
import { effectiveQuietSeconds, outlookOf } from '../../../shared/catalog/version-outlook';
import { UNMANAGED_MIN_QUIET_SECONDS } from '../../../shared/catalog/policy';
import type { Catalog, KeyringPolicy } from '../../../shared/catalog/model';
import { IllegalTransitionError, ValidationError } from '../../../shared/errors';
import { after, testKey } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const DAY = 86_400;
// Quiet 7 days, destruction off: the defaults that matter here, with short other periods.
const POLICY: KeyringPolicy = { rotateEverySeconds: 30 * DAY, graceSeconds: DAY, propagationSeconds: 600, retentionSeconds: 10 * DAY, quietSeconds: 7 * DAY, destroyAfterRetention: false };

/** v1 active at T0, v2 promoted at day 30 (+10 min), v1 deprecated at day 31 (+10 min). */
function deprecatedV1(policy: KeyringPolicy = POLICY): Catalog {
  let c = createCatalog('ring', policy, testKey(1), T0);
  c = applyTransition(c, { kind: 'create-pending', version: 2, key: testKey(2) }, after(T0, 30 * DAY));
  c = applyTransition(c, { kind: 'promote', version: 2, demoted: 1 }, after(T0, 30 * DAY + 600));
  return applyTransition(c, { kind: 'deprecate', version: 1 }, after(T0, 31 * DAY + 600));
}

const STOPPED = after(T0, 30 * DAY + 600);

/** Only what the evidence rule governs (far-future instants also make v2 rotate). */
function retirements(plan: readonly { kind: string; version: number }[]): Array<{ kind: string; version: number }> {
  return plan.filter((t) => t.kind === 'disable' || t.kind === 'destroy');
}

function facts(partial: Partial<LifecycleFacts> & { lastUse?: Record<number, Date>; since?: Date | null } = {}): LifecycleFacts {
  const { lastUse, since, ...rest } = partial;
  const observing = since === null ? {} : { observingSince: since ?? T0 };
  return {
    references: new Map([[1, 0], [2, 0]]),
    escrowVerified: new Set(),
    keyUse: { lastUse: new Map(Object.entries(lastUse ?? {}).map(([v, at]) => [Number(v), { at }])), ...observing },
    ...rest,
  };
}

describe('lifecycle evidence', () => {
  describe('planTransitions (disable)', () => {
    it('waits out the quiet period counted from when the version stopped encrypting', () => {
      // Prepare
      const catalog = deprecatedV1();
      // Act
      const early = retirements(planTransitions(catalog, after(STOPPED, 7 * DAY - 1), facts()));
      const due = retirements(planTransitions(catalog, after(STOPPED, 7 * DAY), facts()));
      // Assess
      expect(early).toEqual([]);
      expect(due).toEqual([{ kind: 'disable', version: 1 }]);
    });

    it('keeps a used version until its key has been quiet for the whole period after the last use', () => {
      // Prepare: the file under v1 was decrypted on day 40
      const catalog = deprecatedV1();
      const lastUse = after(T0, 40 * DAY);
      // Act
      const stillWarm = retirements(planTransitions(catalog, after(lastUse, 7 * DAY - 60), facts({ lastUse: { 1: lastUse } })));
      const quiet = retirements(planTransitions(catalog, after(lastUse, 7 * DAY), facts({ lastUse: { 1: lastUse } })));
      // Assess
      expect(stillWarm).toEqual([]);
      expect(quiet).toEqual([{ kind: 'disable', version: 1 }]);
    });

    it('counts silence only from when observation began', () => {
      // Prepare: the key-use log was installed on day 60 (an upgraded home)
      const catalog = deprecatedV1();
      const since = after(T0, 60 * DAY);
      // Act
      const plan = retirements(planTransitions(catalog, after(since, 7 * DAY - 1), facts({ since })));
      const later = retirements(planTransitions(catalog, after(since, 7 * DAY), facts({ since })));
      // Assess
      expect(plan).toEqual([]);
      expect(later).toEqual([{ kind: 'disable', version: 1 }]);
    });

    it('never disables while key use is unknown and a quiet period applies', () => {
      // Prepare
      const catalog = deprecatedV1();
      const noLog: LifecycleFacts = { references: new Map([[1, 0]]), escrowVerified: new Set() };
      // Act
      const withoutLog = retirements(planTransitions(catalog, after(T0, 3650 * DAY), noLog));
      const withoutStart = retirements(planTransitions(catalog, after(T0, 3650 * DAY), facts({ since: null })));
      // Assess
      expect(withoutLog).toEqual([]);
      expect(withoutStart).toEqual([]);
    });

    it('blocks on a declared source that could not be counted, and on any reference', () => {
      // Prepare
      const catalog = deprecatedV1();
      const late = after(T0, 365 * DAY);
      // Act
      const uncounted = retirements(planTransitions(catalog, late, facts({ uncounted: ['cache'] })));
      const referenced = retirements(planTransitions(catalog, late, facts({ references: new Map([[1, 1]]) })));
      const notCounted = retirements(planTransitions(catalog, late, facts({ references: new Map() })));
      // Assess
      expect(uncounted).toEqual([]);
      expect(referenced).toEqual([]);
      expect(notCounted).toEqual([]);
    });

    it('never disables a keyring with unmanaged data on counts alone, even with a zero quiet period', () => {
      // Prepare
      const zeroQuiet = { ...POLICY, quietSeconds: 0 };
      const counted = deprecatedV1(zeroQuiet);
      const files = setSources(counted, ['files'], after(T0, 31 * DAY + 600));
      const late = after(T0, 365 * DAY);
      const noLog: LifecycleFacts = { references: new Map([[1, 0]]), escrowVerified: new Set() };
      // Act
      const countsOnly = retirements(planTransitions(counted, after(T0, 31 * DAY + 601), noLog));
      const unmanagedNoLog = retirements(planTransitions(files, late, noLog));
      const unmanagedEarly = retirements(planTransitions(files, after(STOPPED, UNMANAGED_MIN_QUIET_SECONDS - 1), facts()));
      const unmanagedQuiet = retirements(planTransitions(files, after(STOPPED, UNMANAGED_MIN_QUIET_SECONDS), facts()));
      // Assess
      expect(effectiveQuietSeconds(files)).toBe(UNMANAGED_MIN_QUIET_SECONDS);
      expect(countsOnly).toEqual([{ kind: 'disable', version: 1 }]);
      expect(unmanagedNoLog).toEqual([]);
      expect(unmanagedEarly).toEqual([]);
      expect(unmanagedQuiet).toEqual([{ kind: 'disable', version: 1 }]);
    });

    it('holds a revoked version to the same evidence (its re-encryption reads are uses)', () => {
      // Prepare
      let catalog = createCatalog('ring', POLICY, testKey(1), T0);
      catalog = applyTransition(catalog, { kind: 'revoke', version: 1, reason: 'leak', replacement: { version: 2, key: testKey(2) } }, after(T0, DAY));
      const swept = after(T0, 2 * DAY);
      // Act
      const right = retirements(planTransitions(catalog, after(swept, 1), facts({ lastUse: { 1: swept } })));
      const quiet = retirements(planTransitions(catalog, after(swept, 7 * DAY), facts({ lastUse: { 1: swept } })));
      // Assess
      expect(right).toEqual([]);
      expect(quiet).toEqual([{ kind: 'disable', version: 1 }]);
    });
  });

  describe('planTransitions (destroy)', () => {
    function disabledV1(policy: KeyringPolicy): Catalog {
      return applyTransition(deprecatedV1(policy), { kind: 'disable', version: 1 }, after(STOPPED, 7 * DAY));
    }
    const DISABLED = after(STOPPED, 7 * DAY);

    it('never destroys by default, whatever the evidence', () => {
      // Prepare
      const catalog = disabledV1(POLICY);
      const all = facts({ escrowVerified: new Set([1]) });
      // Act
      const plan = retirements(planTransitions(catalog, after(T0, 3650 * DAY), all));
      const needed = factsNeeded(catalog, after(T0, 3650 * DAY));
      // Assess
      expect(plan).toEqual([]);
      expect(needed).toEqual([]);
      expect(outlookOf(catalog, after(T0, 3650 * DAY), all)[0]?.reasons).toEqual(['kept: destroy disabled by policy (destroyAfterRetention is off)']);
    });

    it('destroys after opt-in only with retention, zero references, a quiet key and a verified escrow', () => {
      // Prepare
      const catalog = disabledV1({ ...POLICY, destroyAfterRetention: true });
      const late = after(DISABLED, 10 * DAY);
      const used = after(DISABLED, 5 * DAY);
      // Act
      const early = retirements(planTransitions(catalog, after(DISABLED, 10 * DAY - 1), facts({ escrowVerified: new Set([1]) })));
      const noEscrow = retirements(planTransitions(catalog, late, facts()));
      const referenced = retirements(planTransitions(catalog, late, facts({ escrowVerified: new Set([1]), references: new Map([[1, 2]]) })));
      const warm = retirements(planTransitions(catalog, late, facts({ escrowVerified: new Set([1]), lastUse: { 1: used } })));
      const due = retirements(planTransitions(catalog, late, facts({ escrowVerified: new Set([1]) })));
      // Assess
      expect([early, noEscrow, referenced, warm]).toEqual([[], [], [], []]);
      expect(due).toEqual([{ kind: 'destroy', version: 1 }]);
    });
  });

  describe('outlookOf (reasons)', () => {
    it('says why a version waits and when it would move on', () => {
      // Prepare
      const catalog = setSources(deprecatedV1(), ['files'], after(T0, 31 * DAY + 600));
      const now = after(T0, 40 * DAY);
      const used = after(now, -2 * 3600);
      const counted = facts({
        lastUse: { 1: used },
        references: new Map([[1, 3], [2, 0]]),
        counts: { records: new Map([[1, 3]]), cacheEntries: new Map() },
      });
      // Act
      const [v1] = outlookOf(catalog, now, counted);
      const [quietV1] = outlookOf(catalog, now, facts({ lastUse: { 1: used } }));
      // Assess
      expect(v1?.reasons).toEqual([
        'waiting: 3 record(s) in the record store',
        'waiting: key used 2h ago, quiet period 7d',
        "held: unmanaged data 'files'; disabled only after 7d without use",
      ]);
      expect(v1?.dueAt).toBeUndefined();
      expect(quietV1?.dueAt).toEqual(after(used, 7 * DAY));
      expect(quietV1?.reasons.at(-1)).toBe(`would disable at ${after(used, 7 * DAY).toISOString()}`);
    });

    it('promises no instant while paused', () => {
      // Prepare
      const catalog = { ...deprecatedV1(), frozen: { reason: 'incident', at: T0.toISOString(), by: 'op' } };
      // Act
      const [v1] = outlookOf(catalog, after(T0, 365 * DAY), facts());
      // Assess
      expect(v1?.dueAt).toBeUndefined();
      expect(v1?.reasons[0]).toBe('paused: keyring is frozen');
    });
  });

  describe('forecastTransitions', () => {
    it('lists the next steps with the instant each becomes due, cascading', () => {
      // Prepare: v2 pending since day 30; nothing referenced; quiet 7d
      let catalog = createCatalog('ring', POLICY, testKey(1), T0);
      catalog = applyTransition(catalog, { kind: 'create-pending', version: 2, key: testKey(2) }, after(T0, 30 * DAY));
      // Act
      const steps = forecastTransitions(catalog, after(T0, 30 * DAY), facts(), { maxSteps: 3 });
      // Assess
      expect(steps.map((s) => [s.at.toISOString(), s.transition.kind, s.transition.version])).toEqual([
        [after(T0, 30 * DAY + 600).toISOString(), 'promote', 2],
        [after(T0, 31 * DAY + 600).toISOString(), 'deprecate', 1],
        [after(T0, 37 * DAY + 600).toISOString(), 'disable', 1],
      ]);
    });

    it('lists nothing beyond a step a fact blocks', () => {
      // Prepare
      const catalog = deprecatedV1();
      // Act
      const steps = forecastTransitions(catalog, after(T0, 32 * DAY), facts({ references: new Map([[1, 5], [2, 0]]) }), { horizonSeconds: 40 * DAY });
      // Assess: v2's rotation on day 60 and its retirement, never v1's disable
      expect(steps.map((s) => `${s.transition.kind} v${s.transition.version}`)).toEqual(['create-pending v3', 'promote v3', 'deprecate v2', 'disable v2']);
    });
  });

  describe('applyTransition (reenable)', () => {
    it('turns a disabled version back into deprecated with reenabledAt, and restarts its quiet period', () => {
      // Prepare
      const disabled = applyTransition(deprecatedV1(), { kind: 'disable', version: 1 }, after(T0, 40 * DAY));
      const at = after(T0, 50 * DAY);
      // Act
      const back = applyTransition(disabled, { kind: 'reenable', version: 1 }, at);
      // Assess
      const v1 = back.versions[0];
      expect(v1).toMatchObject({ state: 'deprecated', reenabledAt: at.toISOString() });
      expect(v1?.disabledAt).toBeUndefined();
      expect(checkInvariants(back)).toEqual([]);
      expect(retirements(planTransitions(back, after(at, 7 * DAY - 1), facts()))).toEqual([]);
      expect(retirements(planTransitions(back, after(at, 7 * DAY), facts()))).toEqual([{ kind: 'disable', version: 1 }]);
    });

    it('refuses a version that was revoked, and one that is not disabled', () => {
      // Prepare
      let revoked = createCatalog('ring', { ...POLICY, quietSeconds: 0 }, testKey(1), T0);
      revoked = applyTransition(revoked, { kind: 'revoke', version: 1, reason: 'leak', replacement: { version: 2, key: testKey(2) } }, after(T0, DAY));
      revoked = applyTransition(revoked, { kind: 'disable', version: 1 }, after(T0, 2 * DAY));
      // Act / Assess
      expect(() => applyTransition(revoked, { kind: 'reenable', version: 1 }, after(T0, 3 * DAY))).toThrow(IllegalTransitionError);
      expect(() => applyTransition(revoked, { kind: 'reenable', version: 1 }, after(T0, 3 * DAY))).toThrow(/revoked/);
      expect(() => applyTransition(deprecatedV1(), { kind: 'reenable', version: 1 }, after(T0, 40 * DAY))).toThrow(/it is deprecated/);
    });
  });

  describe('setSources', () => {
    it('normalizes the names and removes the declaration when empty', () => {
      // Prepare
      const catalog = deprecatedV1();
      // Act
      const set = setSources(catalog, ['files', ' backups', 'files'], after(T0, 32 * DAY));
      const cleared = setSources(set, [], after(T0, 33 * DAY));
      // Assess
      expect(set.sources).toEqual({ unmanaged: ['backups', 'files'] });
      expect(cleared.sources).toBeUndefined();
      expect(() => setSources(catalog, ['Files!'], T0)).toThrow(ValidationError);
    });
  });
});
