/**
 * Human and JSON output of `tick`, `revoke` and `sweep`: the reconciler's response as the summary
 * the CLI has always printed (`{ at, applied, failed, keyrings }`), the revocation line, and the
 * documented `--json` views of a revocation and a sweep (no run ids or limiter internals).
 */
import type { RevocationPending, RevocationResult, SweepMode, SweepResult } from '../shared/reencrypt';
import type { GracePeriodResponse } from '../shared/usecases/reconcile';
import type { KeyringPlan } from '../shared/usecases/keyring-plan';
import { formatSpan } from '../shared/vocabulary/duration';
import { instant, withoutDueLines } from './render';

/** One keyring's line of `tick`. */
export interface TickKeyring {
  readonly keyring: string;
  readonly applied: readonly { readonly kind: string; readonly version: number }[];
  readonly paused?: 'frozen' | 'breaker';
  readonly error?: { readonly code: string; readonly message: string; readonly retryable: boolean };
}

/** What `tick --json` prints. */
export interface TickSummaryView {
  readonly at: string;
  readonly keyrings: readonly TickKeyring[];
  /** Transitions applied over all keyrings. */
  readonly applied: number;
  /** Keyrings that failed. */
  readonly failed: number;
}

/** The tick summary of a reconciler response. */
export function tickSummary(response: GracePeriodResponse): TickSummaryView {
  const keyrings = response.results.map(({ keyring, applied, paused, error }): TickKeyring => ({
    keyring,
    applied,
    ...(paused === undefined ? {} : { paused }),
    ...(error === undefined ? {} : { error }),
  }));
  return {
    at: response.at,
    keyrings,
    applied: keyrings.reduce((n, k) => n + k.applied.length, 0),
    failed: keyrings.filter((k) => k.error !== undefined).length,
  };
}

/** One line per keyring: what was applied, why nothing was, or why it failed. */
export function renderTick(summary: TickSummaryView): string {
  return summary.keyrings
    .map((k) => {
      const what = k.applied.map((t) => `${t.kind} v${t.version}`).join(', ') || (k.paused ? `paused (${k.paused})` : 'nothing due');
      return `${k.keyring}: ${k.error ? `failed: ${k.error.message}` : what}\n`;
    })
    .join('');
}

/** The one line `revoke` prints. */
export function renderRevocation(r: RevocationResult): string {
  return (
    `revoked ${r.keyring} v${r.version}; active is now v${r.activeVersion ?? '?'}; cache entries purged: ${r.cachePurgeFailed ? 'failed (cache unavailable)' : r.cacheEntriesPurged}; ` +
    `re-encrypted: ${r.sweep?.done ?? 0}; remaining: ${r.remaining}; v${r.version} is ${r.state}${r.complete ? '' : ' (rerun to finish)'}\n` +
    // What rekey cannot count: said every time, so a "complete" is never read as covering it.
    (r.unmanaged.length === 0
      ? ''
      : `not counted: envelopes in ${r.unmanaged.join(', ')} (declared unmanaged) whose data key v${r.version} created: those still under v${r.version} no longer decrypt; re-encrypt (decrypt, then encrypt) those re-wrapped to a later version, and delete the old copies\n`)
  );
}

/**
 * `rekey plan` for people: the upcoming steps with their instants (and how far off they are),
 * the steps no instant can be promised for with what blocks them, then each version with its
 * holds (their figures) or, when nothing holds it, its reason.
 */
export function renderPlan(plans: readonly KeyringPlan[]): string {
  const out: string[] = [];
  for (const p of plans) {
    const now = Date.parse(p.at);
    out.push(`keyring ${p.keyring} at ${instant(p.at)}${p.paused === undefined ? '' : ` (paused: ${p.paused})`}`);
    if (p.steps.length === 0) out.push('  no transition ahead on current facts');
    for (const s of p.steps) {
      const wait = Date.parse(s.at) - now;
      out.push(`  ${instant(s.at)}  ${s.kind} v${s.version}${wait > 0 ? `  (in ${formatSpan(wait / 1000)})` : '  (due now)'}`);
    }
    for (const b of p.blocked) {
      out.push(`  ${b.kind} v${b.version}: no time can be promised${b.stuck ? ' (STUCK: time alone will not clear it)' : ''}`);
      for (const h of b.holds) out.push(`      ${h.text}`);
    }
    for (const v of p.versions) {
      const flags = [v.overdue ? 'OVERDUE' : '', v.stuck ? 'STUCK' : ''].filter((f) => f !== '').join(', ');
      out.push(`  v${v.version} ${v.state}${v.lastUsedAt === undefined ? '' : ` (last used ${instant(v.lastUsedAt)})`}${flags === '' ? '' : `  ${flags}`}`);
      // A blocked version's holds are listed once, under its step above.
      const blocked = p.blocked.some((b) => b.version === v.version);
      const lines = blocked ? [`${v.next ?? 'next step'} blocked (see above)`] : v.holds.length > 0 ? v.holds.map((h) => h.text) : withoutDueLines(v.reasons, v.next);
      for (const r of lines) out.push(`      ${r}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** A record a sweep could not move, in `--json` views: its id and why (never its data). */
export interface SweepFailureView {
  readonly id: string;
  readonly reason: string;
}

/**
 * One version's sweep, as `sweep --json` prints it (an array of these) and as `revoke --json`
 * nests it under `sweep`.
 */
export interface SweepView {
  readonly keyring: string;
  readonly version: number;
  /** `rewrap` (header only) or `reencrypt` (fresh data keys; also a rewrap run that found the version revoked). */
  readonly mode: SweepMode;
  /** The active version the records were moved to, when there was one. */
  readonly toVersion?: number;
  /** Records moved by this run. */
  readonly done: number;
  /** Records changed concurrently (a newer write won, or the record had moved already). */
  readonly skipped: number;
  /** Records that could not be moved (exact). */
  readonly failedCount: number;
  /** Which ones and why (at most the first thousand). */
  readonly failed: readonly SweepFailureView[];
  /** Records still under the version after the run. */
  readonly remaining: number;
  /** This run continued an earlier, interrupted one from its checkpoint. */
  readonly resumed: boolean;
  /** An earlier run had finished and nothing was left: nothing was done. */
  readonly alreadyComplete: boolean;
}

/** The `--json` view of one version's sweep. */
export function sweepView(r: SweepResult): SweepView {
  return {
    keyring: r.keyring,
    version: r.version,
    mode: r.mode,
    ...(r.toVersion === undefined ? {} : { toVersion: r.toVersion }),
    done: r.done,
    skipped: r.skipped,
    failedCount: r.failedCount,
    failed: r.failed.map((f) => ({ id: f.id, reason: f.reason })),
    remaining: r.remaining,
    resumed: r.resumed,
    alreadyComplete: r.alreadyComplete,
  };
}

/** An old copy (noncurrent object version) still under the revoked version. */
export interface RemainingCopyView {
  readonly id: string;
  readonly copyId: string;
  readonly reason: string;
}

/** What `revoke --json` prints. */
export interface RevocationView {
  readonly keyring: string;
  readonly version: number;
  /** The active version after the revocation. */
  readonly activeVersion?: number;
  /** True when this run revoked the version (false: a rerun finishing an earlier revocation). */
  readonly revokedNow: boolean;
  /** The version's state now: `revoked`, or `disabled` once the lifecycle disabled it. */
  readonly state: string;
  /** Nothing the version's key opens remains (counted after `settlesAt`) and its cache entries are purged. */
  readonly complete: boolean;
  /** Why it is not complete: `records-remain`, `copies-remain` or `settling`. */
  readonly pending?: RevocationPending;
  /** When a zero count becomes final (the revocation time plus the catalog cache lifetime). */
  readonly settlesAt: string;
  readonly cacheEntriesPurged: number;
  /** True when the cache did not answer: its entries under the version remain to be purged by a rerun. */
  readonly cachePurgeFailed: boolean;
  /** Records whose data key the version may have wrapped, still there after this run. */
  readonly remaining: number;
  /** Of those, records still under the version itself. */
  readonly underVersion: number;
  /** The re-encryption of this run. */
  readonly sweep?: SweepView;
  /** Old copies under the version: deleted now, still there (exact count), and which (at most a thousand). */
  readonly copies?: { readonly deleted: number; readonly remainingCount: number; readonly remaining: readonly RemainingCopyView[] };
  /** Declared holders of envelopes rekey cannot count or re-encrypt (`keyring sources --unmanaged`). */
  readonly unmanaged: readonly string[];
}

/** The `--json` view of a revocation run. */
export function revocationView(r: RevocationResult): RevocationView {
  return {
    keyring: r.keyring,
    version: r.version,
    ...(r.activeVersion === undefined ? {} : { activeVersion: r.activeVersion }),
    revokedNow: r.revokedNow,
    state: r.state,
    complete: r.complete,
    ...(r.pending === undefined ? {} : { pending: r.pending }),
    settlesAt: r.settlesAt,
    cacheEntriesPurged: r.cacheEntriesPurged,
    cachePurgeFailed: r.cachePurgeFailed,
    remaining: r.remaining,
    underVersion: r.underVersion,
    ...(r.sweep === undefined ? {} : { sweep: sweepView(r.sweep) }),
    ...(r.copies === undefined
      ? {}
      : { copies: { deleted: r.copies.deleted, remainingCount: r.copies.remainingCount, remaining: r.copies.remaining.map((c) => ({ id: c.id, copyId: c.copyId, reason: c.reason })) } }),
    unmanaged: [...r.unmanaged],
  };
}
