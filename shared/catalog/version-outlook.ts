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
  const pending = catalog.versions.find((v) => v.state === 'pending');
  const active = catalog.versions.find((v) => v.state === 'active');
  return catalog.versions.map((v) => {
    const outlook = versionOutlook(catalog, v, now, facts, { pending, active });
    if (paused === undefined || outlook.next === undefined) return outlook;
    // A pause promises nothing: the step stays named, its instant does not.
    const { dueAt: _held, ...rest } = outlook;
    return { ...rest, reasons: [`paused: keyring is ${paused}`, ...outlook.reasons] };
  });
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
  const base = { version: v.version, state: v.state, ...lastUseOf(facts, v.version) };
  switch (v.state) {
    case 'active': {
      if (n.pending !== undefined) return { ...base, reasons: [`encrypts; v${n.pending.version} is propagating`] };
      const at = plus(v.activatedAt ?? v.createdAt, policy.rotateEverySeconds);
      return { ...base, next: 'rotate', dueAt: at, reasons: [dueText('rotation', at, now)] };
    }
    case 'pending': {
      if (n.active === undefined) return { ...base, reasons: ['waiting: the keyring has no active version'] };
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
  base: Pick<VersionOutlook, 'version' | 'state' | 'lastUse'>,
  next: 'disable' | 'destroy',
  notBefore: Date | undefined,
): VersionOutlook {
  const blockers: string[] = [];
  const waits: string[] = [];
  const refs = facts.references.get(v.version);
  if (refs === undefined) {
    blockers.push('waiting: references not counted');
  } else if (refs > 0) {
    blockers.push(`waiting: ${referenceText(facts.counts, v.version, refs)}`);
  }
  for (const source of facts.uncounted ?? []) blockers.push(`waiting: ${source} could not be counted`);
  if (next === 'destroy' && !facts.escrowVerified.has(v.version)) blockers.push('waiting: no escrow copy verified by a drill');

  const quiet = effectiveQuietSeconds(catalog);
  const unmanaged = unmanagedSources(catalog);
  let quietUntil: Date | undefined;
  if (quiet > 0) {
    if (facts.keyUse?.observingSince === undefined) {
      blockers.push(`waiting: key use not observed; quiet period ${fmt(quiet)}`);
    } else {
      quietUntil = new Date(quietFrom(v, facts.keyUse) + quiet * 1000);
      const last = facts.keyUse.lastUse.get(v.version);
      if (quietUntil.getTime() > now.getTime()) {
        waits.push(last === undefined ? `waiting: quiet period ${fmt(quiet)} runs until ${quietUntil.toISOString()}` : `waiting: key used ${ago(now, last.at)} ago, quiet period ${fmt(quiet)}`);
      }
    }
  }
  if (unmanaged.length > 0) {
    const names = unmanaged.map((s) => `'${s}'`).join(', ');
    waits.push(`held: unmanaged data ${names}; ${next === 'disable' ? 'disabled' : 'destroyed'} only after ${fmt(quiet)} without use`);
  }
  if (notBefore !== undefined && notBefore.getTime() > now.getTime()) waits.push(`waiting: retention until ${notBefore.toISOString()}`);

  const quietAt = quietUntil ?? (quiet === 0 ? stoppedAt(v) : undefined);
  const times = [quietAt, notBefore].filter((t): t is Date => t !== undefined);
  const dueAt = blockers.length > 0 || quietAt === undefined ? undefined : new Date(Math.max(...times.map((t) => t.getTime())));
  const verdict = dueAt === undefined ? [] : [dueAt.getTime() <= now.getTime() ? `${next} due now` : `would ${next} at ${dueAt.toISOString()}`];
  return {
    ...base,
    next,
    ...(dueAt === undefined ? {} : { dueAt }),
    reasons: [...blockers, ...waits, ...verdict],
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
