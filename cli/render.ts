/**
 * Human output of the CLI: the status table with a bar per version (from the keyring status
 * use case), and the progress bar of long operations. JSON output is the same data, unformatted.
 */
import type { KeyringStatus } from '../shared/usecases/keyring-status';

const BAR_WIDTH = 30;

/** A proportional bar of `n` out of `total`, `width` characters at most. */
export function bar(n: number, total: number, width = BAR_WIDTH): string {
  if (total <= 0 || n <= 0) return '';
  return '#'.repeat(Math.max(1, Math.round((n / total) * width)));
}

/** Renders `rekey status` for people. */
export function renderStatus(keyrings: readonly KeyringStatus[]): string {
  const out: string[] = [];
  for (const k of keyrings) {
    const p = k.policy;
    out.push(
      `keyring ${k.keyring}  (rotate every ${p.rotateEvery}, grace ${p.grace}, propagation ${p.propagation}, retention ${p.retention}, ` +
        `quiet ${p.quiet}, destroy after retention: ${p.destroyAfterRetention ? 'yes' : 'no'}; generation ${k.generation})`,
    );
    if (k.unmanaged.length > 0) out.push(`  unmanaged data: ${k.unmanaged.join(', ')} (never disabled on counts alone)`);
    if (k.frozen) out.push(`  FROZEN since ${k.frozen.at} by ${k.frozen.by}: ${k.frozen.reason}`);
    if (k.breaker) out.push(`  CIRCUIT BREAKER open since ${k.breaker.at}: ${k.breaker.reason}`);
    const total = k.versions.reduce((s, v) => s + v.records, 0);
    out.push(`  ${'version'.padStart(7)}  ${'state'.padEnd(10)}  ${'since'.padEnd(24)}  ${'records'.padStart(9)}  ${'cache'.padStart(7)}  ${'last use'.padEnd(24)}  distribution`);
    for (const v of k.versions) {
      out.push(
        `  ${String(v.version).padStart(7)}  ${v.state.padEnd(10)}  ${v.since.padEnd(24)}  ${String(v.records).padStart(9)}  ${String(v.cacheEntries).padStart(7)}  ${(v.lastUsedAt ?? '-').padEnd(24)}  ${bar(v.records, total)}`,
      );
      for (const reason of v.reasons) out.push(`  ${''.padStart(7)}  ${reason}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** A one-line progress bar, redrawn in place on a terminal. */
export function progressLine(label: string, done: number, total: number): string {
  const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
  const filled = Math.round((pct / 100) * BAR_WIDTH);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct}% ${done}/${total}`;
}
