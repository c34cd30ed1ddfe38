/**
 * Output of `escrow archive`, `escrow verify` and `escrow restore`: the escrow use case's
 * response as the lines and the drill report (`{ checkedAt, ok, results }`) the CLI has always
 * printed.
 */
import type { EscrowResponse } from '../shared/usecases/escrow';

/** One version's line of the drill report. */
export interface DrillCheckView {
  readonly keyring: string;
  readonly version: number;
  readonly ok: boolean;
  readonly reason?: string;
  readonly detail?: string;
  readonly offlineCopy?: boolean;
  /** How the version was proven: `kcv`, `canary` (archived before KCVs), `integrity` (revoked: copy not opened). */
  readonly check?: string;
}

/** What `escrow verify --json` prints. */
export interface DrillReportView {
  readonly checkedAt: string;
  readonly ok: boolean;
  readonly results: readonly DrillCheckView[];
}

const SKIP_TEXT: Readonly<Record<'escrowed' | 'unreadable' | 'revoked', string>> = {
  escrowed: 'already archived',
  unreadable: 'not archived (revoked or disabled before its first archive)',
  revoked: 'not archived (revoked: its key is never restored)',
};

/** One line per live version: archived now, or already archived (or why it was not). */
export function renderArchive(response: EscrowResponse): string {
  const lines: string[] = [];
  for (const r of response.results) {
    if (r.status !== 'done') continue;
    const rows: Array<[number, string]> = [
      ...r.versions.map((v): [number, string] => [v.version, v.created === true ? 'archived' : 'already archived']),
      ...(r.skipped ?? []).map((s): [number, string] => [s.version, SKIP_TEXT[s.reason]]),
    ];
    for (const [version, what] of rows.sort((a, b) => a[0] - b[0])) lines.push(`${r.keyring} v${version}: ${what}\n`);
  }
  return lines.join('');
}

/** The drill report over every keyring drilled (`now` when none was). */
export function drillReport(response: EscrowResponse, now: Date): DrillReportView {
  const results: DrillCheckView[] = [];
  let checkedAt: string | undefined;
  for (const r of response.results) {
    if (r.status !== 'done') continue;
    checkedAt ??= r.checkedAt;
    // The order of the fields is the escrow service's check: keyring first.
    for (const { created: _created, restored: _restored, from: _from, ...check } of r.versions) results.push({ keyring: r.keyring, ...check });
  }
  return { checkedAt: checkedAt ?? now.toISOString(), ok: results.every((c) => c.ok), results };
}

const CHECK_TEXT: Readonly<Record<string, string>> = {
  kcv: '',
  canary: ' (archived before key check values: proven by its canary)',
  integrity: ' (revoked: record intact, key not opened)',
};

/** One line per version drilled. */
export function renderDrill(report: DrillReportView): string {
  return report.results.map((r) => `${r.keyring} v${r.version}: ${r.ok ? `ok${CHECK_TEXT[r.check ?? 'kcv'] ?? ''}` : `FAILED (${r.reason ?? 'unknown'})`}\n`).join('');
}

/** The line of `escrow restore`: restored now (from what), or restored already. */
export function renderRestore(response: EscrowResponse): string {
  const lines: string[] = [];
  for (const r of response.results) {
    if (r.status !== 'done') continue;
    for (const v of r.versions) {
      lines.push(
        v.restored === true
          ? `${r.keyring} v${v.version}: restored from escrow (was ${v.from ?? 'destroyed'}); now deprecated, its data decrypts again\n`
          : `${r.keyring} v${v.version}: already restored\n`,
      );
    }
  }
  return lines.join('');
}
