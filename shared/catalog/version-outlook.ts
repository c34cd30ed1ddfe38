/**
 * Where each version of a keyring is heading, and why it is or is not moving on: the one pure
 * evaluation behind the planner (planTransitions takes the versions whose next step is due),
 * `rekey status` (the reason per version) and `rekey plan` (when each step becomes due).
 *
 * The evidence rule (issue 11, "never strand"): a deprecated or revoked version is disabled only
 * when every declared data source reports zero references (a source that could not be counted
 * is unknown and blocks) AND its key went unused for the quiet period, counted from the latest
 * of its last observed use, when it stopped encrypting, when it was re-enabled or restored, and
 * when observation began (silence before anyone listened proves nothing). A keyring with
 * unmanaged sources is never disabled on counts alone: its quiet period is at least
 * UNMANAGED_MIN_QUIET_SECONDS, so key-use evidence is always required. A disabled version is
 * destroyed only when the keyring opted in, after retention, with zero references, the quiet
 * period and a drill-verified escrow copy.
 */
import type { KeyUse } from '../ports/key-use-log';
import type { KeyUseObservation, ReferenceCounts } from '../ports/facts-source';
import type { Catalog, KeyVersion, VersionState } from './model';
import { UNMANAGED_MIN_QUIET_SECONDS } from './policy';
import { unmanagedSources } from './sources';

/** Observed use of the version keys of one keyring (from a KeyUseLog). */
export type KeyUseFacts = KeyUseObservation;

/**
 * What the planner knows about the world outside the catalog, gathered beforehand by the
 * service. A version missing from `references` is treated as still referenced: unknown facts
 * never allow a version to be disabled or destroyed.
 */
export interface LifecycleFacts {
  /** Records plus cache entries still referencing each version. */
  readonly references: ReadonlyMap<number, number>;
  /** Versions whose escrow copy has been verified by a restore drill. */
  readonly escrowVerified: ReadonlySet<number>;
  /**
   * Observed key use; undefined when no key-use log answered. Then any quiet period above zero
   * is unmet: the version waits rather than being disabled on counts alone.
   */
  readonly keyUse?: KeyUseFacts;
  /** Declared sources that could not be counted this time (e.g. an unreachable cache): they block. */
  readonly uncounted?: readonly string[];
  /** The counts behind `references`, per source, so reasons can say where references are. */
  readonly counts?: ReferenceCounts;
}

/** The next automatic step of one version. */
export type NextStep = 'rotate' | 'promote' | 'deprecate' | 'disable' | 'destroy';

/** What holds a version's next step back. */
export type HoldKind = 'references' | 'uncounted' | 'escrow' | 'key-use-unobserved' | 'quiet' | 'unmanaged' | 'retention' | 'frozen' | 'breaker' | 'no-active';

/**
 * One fact holding a version's next step back, with its figure, for `plan` and `status`.
 * `clearsWithTime` is false when waiting alone never clears it (references stay until swept,
 * an escrow copy until a drill verifies it, a breaker until an operator resets it): such a
 * version is stuck.
 */
export interface OutlookHold {
  readonly kind: HoldKind;
  readonly clearsWithTime: boolean;
  /** When the hold ends on current facts, for holds that end by time. */
  readonly until?: Date;
  /** The figure behind the hold (references counted), when it has one. */
  readonly count?: number;
  /** For people: "blocked: 1,204 records still under v2". Names no key material. */
  readonly text: string;
}

/** One version's outlook at an instant. */
export interface VersionOutlook {
  readonly version: number;
  readonly state: VersionState;
  /** The next automatic step, if the lifecycle has one for this version. */
  readonly next?: NextStep;
  /**
   * When `next` is due given these facts (at or before `now`: due now). Undefined while a fact
   * blocks it (references, an uncounted source, unknown key use, no verified escrow, a pause):
   * no instant can be promised then.
   */
  readonly dueAt?: Date;
  /** Why it is or is not moving on, most important first, for people. Names no key material. */
  readonly reasons: readonly string[];
  /** The last observed use of the version key, when known. */
  readonly lastUse?: KeyUse;
  /** When the version's key will have been quiet long enough (deprecated, revoked, disabled). */
  readonly quietUntil?: Date;
  /** The facts holding `next` back, most important first (empty: nothing but its time). */
  readonly holds: readonly OutlookHold[];
}

/**
 * The quiet period that applies to a keyring: its policy's, raised to
 * UNMANAGED_MIN_QUIET_SECONDS when it declares unmanaged sources.
 *
 * @example
 * effectiveQuietSeconds({ ...catalog, sources: { unmanaged: ['files'] } }); // >= 7 days
 */
export function effectiveQuietSeconds(catalog: Pick<Catalog, 'policy' | 'sources'>): number {
  const quiet = catalog.policy.quietSeconds;
  return unmanagedSources(catalog).length > 0 ? Math.max(quiet, UNMANAGED_MIN_QUIET_SECONDS) : quiet;
}

/**
 * The outlook of every version of `catalog` at `now`. Pure: no I/O, no clock.
 *
 * @example
 * const outlooks = outlookOf(catalog, now, { references, escrowVerified, keyUse });
 * outlooks.filter((o) => o.dueAt !== undefined && o.dueAt <= now); // what a tick would do
 */
export function outlookOf(catalog: Catalog, now: Date, facts: LifecycleFacts): VersionOutlook[] {
  const paused = catalog.frozen !== undefined ? 'frozen' : catalog.breaker !== undefined ? 'held by the circuit breaker' : undefined;
  const pause = pauseHold(catalog);
  const pending = catalog.versions.find((v) => v.state === 'pending');
  const active = catalog.versions.find((v) => v.state === 'active');
  return catalog.versions.map((v) => {
    const outlook = versionOutlook(catalog, v, now, facts, { pending, active });
    if (paused === undefined || outlook.next === undefined) return outlook;
    // A pause promises nothing: the step stays named, its instant does not.
    const { dueAt: _held, ...rest } = outlook;
    return { ...rest, reasons: [`paused: keyring is ${paused}`, ...outlook.reasons], holds: pause === undefined ? outlook.holds : [pause, ...outlook.holds] };
  });
}

/** The freeze or breaker hold of a paused keyring: neither lifts by itself. */
function pauseHold(catalog: Catalog): OutlookHold | undefined {
  const hold = catalog.frozen ?? catalog.breaker;
  if (hold === undefined) return undefined;
  const kind = catalog.frozen !== undefined ? 'frozen' : 'breaker';
  const what = kind === 'frozen' ? "frozen ('rekey unfreeze' resumes)" : 'held by the circuit breaker';
  return { kind, clearsWithTime: false, text: `paused: keyring ${what} since ${formatInstant(new Date(hold.at))} by ${hold.by}: ${hold.reason}` };
}

/**
 * An instant for people, to the minute, in UTC: `2030-01-08 10:00Z`.
 *
 * @example
 * formatInstant(new Date('2030-01-08T10:00:59.000Z')); // '2030-01-08 10:00Z'
 */
export function formatInstant(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** True when `o.next` is due at `now`. */
export function isDueNow(o: VersionOutlook, now: Date): boolean {
  return o.next !== undefined && o.dueAt !== undefined && o.dueAt.getTime() <= now.getTime();
}

interface Neighbours {
  readonly pending: KeyVersion | undefined;
  readonly active: KeyVersion | undefined;
}

function versionOutlook(catalog: Catalog, v: KeyVersion, now: Date, facts: LifecycleFacts, n: Neighbours): VersionOutlook {
  const { policy } = catalog;
  const base = { version: v.version, state: v.state, holds: [] as readonly OutlookHold[], ...lastUseOf(facts, v.version) };
  switch (v.state) {
    case 'active': {
      if (n.pending !== undefined) return { ...base, reasons: [`encrypts; v${n.pending.version} is propagating`] };
      const at = plus(v.activatedAt ?? v.createdAt, policy.rotateEverySeconds);
      return { ...base, next: 'rotate', dueAt: at, reasons: [dueText('rotation', at, now)] };
    }
    case 'pending': {
      if (n.active === undefined) {
        return { ...base, reasons: ['waiting: the keyring has no active version'], holds: [{ kind: 'no-active', clearsWithTime: false, text: 'blocked: the keyring has no active version' }] };
      }
      const at = plus(v.createdAt, policy.propagationSeconds);
      return { ...base, next: 'promote', dueAt: at, reasons: [dueText('activation', at, now)] };
    }
    case 'rotating': {
      const at = plus(v.rotatingAt ?? v.createdAt, policy.graceSeconds);
      return { ...base, next: 'deprecate', dueAt: at, reasons: [dueText('deprecation', at, now)] };
    }
    case 'deprecated':
    case 'revoked':
      return evidenceOutlook(catalog, v, now, facts, base, 'disable', undefined);
    case 'disabled': {
      if (!policy.destroyAfterRetention) {
        return { ...base, reasons: ['kept: destroy disabled by policy (destroyAfterRetention is off)'] };
      }
      const retainedUntil = plus(v.disabledAt ?? v.createdAt, policy.retentionSeconds);
      return evidenceOutlook(catalog, v, now, facts, base, 'destroy', retainedUntil);
    }
    case 'destroyed':
      return { ...base, reasons: [`destroyed at ${v.destroyedAt ?? '?'}`] };
    default:
      return { ...base, reasons: [] };
  }
}

/** Disable or destroy: the evidence rule, with the earliest instant it can hold. */
function evidenceOutlook(
  catalog: Catalog,
  v: KeyVersion,
  now: Date,
  facts: LifecycleFacts,
  base: Pick<VersionOutlook, 'version' | 'state' | 'lastUse' | 'holds'>,
  next: 'disable' | 'destroy',
  notBefore: Date | undefined,
): VersionOutlook {
  const blockers: string[] = [];
  const waits: string[] = [];
  const holds: OutlookHold[] = [];
  const refs = facts.references.get(v.version);
  if (refs === undefined) {
    blockers.push('waiting: references not counted');
    holds.push({ kind: 'uncounted', clearsWithTime: false, text: `blocked: references to v${v.version} not counted` });
  } else if (refs > 0) {
    blockers.push(`waiting: ${referenceText(facts.counts, v.version, refs)}`);
    holds.push({ kind: 'references', clearsWithTime: false, count: refs, text: `blocked: ${referenceFigure(facts.counts, v.version, refs)} still under v${v.version}` });
  }
  for (const source of facts.uncounted ?? []) {
    blockers.push(`waiting: ${source} could not be counted`);
    holds.push({ kind: 'uncounted', clearsWithTime: false, text: `blocked: ${source} could not be counted` });
  }
  if (next === 'destroy' && !facts.escrowVerified.has(v.version)) {
    blockers.push('waiting: no escrow copy verified by a drill');
    holds.push({ kind: 'escrow', clearsWithTime: false, text: `blocked: no escrow copy of v${v.version} verified by a drill ('rekey escrow verify')` });
  }

  const quiet = effectiveQuietSeconds(catalog);
  const unmanaged = unmanagedSources(catalog);
  let quietUntil: Date | undefined;
  let usedWithinQuiet = false;
  if (quiet > 0) {
    if (facts.keyUse?.observingSince === undefined) {
      blockers.push(`waiting: key use not observed; quiet period ${fmt(quiet)}`);
      holds.push({ kind: 'key-use-unobserved', clearsWithTime: false, text: `blocked: key use not observed, so the quiet period ${fmt(quiet)} cannot be proven` });
    } else {
      quietUntil = new Date(quietFrom(v, facts.keyUse) + quiet * 1000);
      const last = facts.keyUse.lastUse.get(v.version);
      if (quietUntil.getTime() > now.getTime()) {
        waits.push(last === undefined ? `waiting: quiet period ${fmt(quiet)} runs until ${quietUntil.toISOString()}` : `waiting: key used ${ago(now, last.at)} ago, quiet period ${fmt(quiet)}`);
        usedWithinQuiet = last !== undefined && last.at.getTime() + quiet * 1000 > now.getTime();
        const used = last === undefined ? '' : `key used ${ago(now, last.at)} ago; `;
        holds.push({ kind: 'quiet', clearsWithTime: true, until: quietUntil, text: `waiting: ${used}quiet period ${fmt(quiet)} until ${formatInstant(quietUntil)}` });
      }
    }
  }
  if (unmanaged.length > 0) {
    const names = unmanaged.map((s) => `'${s}'`).join(', ');
    waits.push(`held: unmanaged data ${names}; ${next === 'disable' ? 'disabled' : 'destroyed'} only after ${fmt(quiet)} without use`);
    // Uncounted holders still reading the key: the wait ends only when they stop (or re-wrap).
    holds.push({
      kind: 'unmanaged',
      clearsWithTime: !usedWithinQuiet,
      text: `held: unmanaged data ${names} not counted; ${next === 'disable' ? 'disabled' : 'destroyed'} only after ${fmt(quiet)} without key use`,
    });
  }
  if (notBefore !== undefined && notBefore.getTime() > now.getTime()) {
    waits.push(`waiting: retention until ${notBefore.toISOString()}`);
    holds.push({ kind: 'retention', clearsWithTime: true, until: notBefore, text: `waiting: retention ${fmt(catalog.policy.retentionSeconds)} until ${formatInstant(notBefore)}` });
  }

  const quietAt = quietUntil ?? (quiet === 0 ? stoppedAt(v) : undefined);
  const times = [quietAt, notBefore].filter((t): t is Date => t !== undefined);
  const dueAt = blockers.length > 0 || quietAt === undefined ? undefined : new Date(Math.max(...times.map((t) => t.getTime())));
  const verdict = dueAt === undefined ? [] : [dueAt.getTime() <= now.getTime() ? `${next} due now` : `would ${next} at ${dueAt.toISOString()}`];
  return {
    ...base,
    next,
    ...(dueAt === undefined ? {} : { dueAt }),
    reasons: [...blockers, ...waits, ...verdict],
    holds,
    ...(quietUntil === undefined ? {} : { quietUntil }),
  };
}

/** When the version's silence starts to count: the latest of every event that could mean use. */
function quietFrom(v: KeyVersion, keyUse: KeyUseFacts): number {
  const candidates = [stoppedAt(v).getTime(), keyUse.observingSince?.getTime() ?? 0, keyUse.lastUse.get(v.version)?.at.getTime() ?? 0];
  for (const stamp of [v.reenabledAt, v.restoredAt]) if (stamp !== undefined) candidates.push(Date.parse(stamp));
  return Math.max(...candidates);
}

/** When the version stopped encrypting (or was retired without ever encrypting). */
function stoppedAt(v: KeyVersion): Date {
  return new Date(v.rotatingAt ?? v.revokedAt ?? v.createdAt);
}

function lastUseOf(facts: LifecycleFacts, version: number): { lastUse?: KeyUse } {
  const use = facts.keyUse?.lastUse.get(version);
  return use === undefined ? {} : { lastUse: use };
}

function referenceText(counts: ReferenceCounts | undefined, version: number, total: number): string {
  if (counts === undefined) return `${total} reference(s)`;
  const parts: string[] = [];
  const records = counts.records.get(version) ?? 0;
  const cache = counts.cacheEntries?.get(version) ?? 0;
  if (records > 0) parts.push(`${records} record(s) in the record store`);
  if (cache > 0) parts.push(`${cache} cache entr${cache === 1 ? 'y' : 'ies'}`);
  return parts.length === 0 ? `${total} reference(s)` : parts.join(', ');
}

function referenceFigure(counts: ReferenceCounts | undefined, version: number, total: number): string {
  const n = (k: number): string => k.toLocaleString('en-US');
  if (counts === undefined) return `${n(total)} reference${total === 1 ? '' : 's'}`;
  const records = counts.records.get(version) ?? 0;
  const cache = counts.cacheEntries?.get(version) ?? 0;
  const parts: string[] = [];
  if (records > 0) parts.push(`${n(records)} record${records === 1 ? '' : 's'}`);
  if (cache > 0) parts.push(`${n(cache)} cache entr${cache === 1 ? 'y' : 'ies'}`);
  return parts.length === 0 ? `${n(total)} reference${total === 1 ? '' : 's'}` : parts.join(' and ');
}

function dueText(what: string, at: Date, now: Date): string {
  return at.getTime() <= now.getTime() ? `${what} due now` : `${what} due at ${at.toISOString()}`;
}

function plus(iso: string, seconds: number): Date {
  return new Date(Date.parse(iso) + seconds * 1000);
}

function fmt(seconds: number): string {
  return formatApprox(seconds);
}

function ago(now: Date, then: Date): string {
  return formatApprox(Math.max(0, Math.floor((now.getTime() - then.getTime()) / 1000)));
}

/** Seconds in the largest whole unit (d, h, m, s), rounded down: "2h", "7d". */
export function formatApprox(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
  }
  return `${seconds}s`;
}
