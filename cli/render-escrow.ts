/**
 * Output of `escrow archive` and `escrow verify`: the escrow use case's response as the lines
 * and the drill report (`{ checkedAt, ok, results }`) the CLI has always printed.
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
}

/** What `escrow verify --json` prints. */
export interface DrillReportView {
  readonly checkedAt: string;
  readonly ok: boolean;
  readonly results: readonly DrillCheckView[];
}

/** One line per live version: archived now, or already archived (or why it was not). */
export function renderArchive(response: EscrowResponse): string {
  const lines: string[] = [];
  for (const r of response.results) {
    if (r.status !== 'done') continue;
    const rows: Array<[number, string]> = [
      ...r.versions.map((v): [number, string] => [v.version, v.created === true ? 'archived' : 'already archived']),
      ...(r.skipped ?? []).map((s): [number, string] => [s.version, s.reason === 'escrowed' ? 'already archived' : 'not archived (revoked or disabled before its first archive)']),
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
    for (const { created: _created, ...check } of r.versions) results.push({ keyring: r.keyring, ...check });
  }
  return { checkedAt: checkedAt ?? now.toISOString(), ok: results.every((c) => c.ok), results };
}

/** One line per version drilled. */
export function renderDrill(report: DrillReportView): string {
  return report.results.map((r) => `${r.keyring} v${r.version}: ${r.ok ? 'ok' : `FAILED (${r.reason ?? 'unknown'})`}\n`).join('');
}
