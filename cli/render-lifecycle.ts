/**
 * Human and JSON output of `tick` and `revoke`: the reconciler's response as the summary the
 * CLI has always printed (`{ at, applied, failed, keyrings }`), and the revocation line.
 */
import type { RevocationResult } from '../shared/reencrypt';
import type { GracePeriodResponse } from '../shared/usecases/reconcile';
import type { KeyringPlan } from '../shared/usecases/keyring-plan';

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
    `revoked ${r.keyring} v${r.version}; active is now v${r.activeVersion ?? '?'}; cache entries purged: ${r.cacheEntriesPurged}; ` +
    `re-encrypted: ${r.sweep?.done ?? 0}; remaining: ${r.remaining}; v${r.version} is ${r.state}${r.complete ? '' : ' (rerun to finish)'}\n` +
    // What rekey cannot count: said every time, so a "complete" is never read as covering it.
    (r.unmanaged.length === 0
      ? ''
      : `not counted: envelopes in ${r.unmanaged.join(', ')} (declared unmanaged) still open with v${r.version}'s key; re-encrypt them (decrypt, then encrypt) and delete the old copies\n`)
  );
}

/** `rekey plan` for people: the upcoming steps with their instants, then each version's reasons. */
export function renderPlan(plans: readonly KeyringPlan[]): string {
  const out: string[] = [];
  for (const p of plans) {
    out.push(`keyring ${p.keyring} at ${p.at}${p.paused === undefined ? '' : ` (paused: ${p.paused})`}`);
    if (p.steps.length === 0) out.push('  no transition ahead on current facts');
    for (const s of p.steps) out.push(`  ${s.at}  ${s.kind} v${s.version}`);
    for (const v of p.versions) {
      out.push(`  v${v.version} ${v.state}${v.lastUsedAt === undefined ? '' : ` (last used ${v.lastUsedAt})`}`);
      for (const r of v.reasons) out.push(`      ${r}`);
    }
    out.push('');
  }
  return out.join('\n');
}
