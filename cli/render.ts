/**
 * Human output of the CLI: the status table with a bar per version (from the keyring status
 * use case), fitted to 80 columns, and the progress bar of long operations. JSON output is the
 * same data, unformatted.
 */
import { formatInstant } from '../shared/catalog/version-outlook';
import type { KeyringStatus } from '../shared/usecases/keyring-status';
import { formatSpan } from '../shared/vocabulary/duration';

const BAR_WIDTH = 30;

/** A proportional bar of `n` out of `total`, `width` characters at most. */
export function bar(n: number, total: number, width = BAR_WIDTH): string {
  if (total <= 0 || n <= 0) return '';
  return '#'.repeat(Math.max(1, Math.round((n / total) * width)));
}

/** The width `status` fits in: a classic terminal. */
export const STATUS_WIDTH = 80;

const STATUS_BAR_WIDTH = 20;

const PAUSES: ReadonlySet<string> = new Set(['frozen', 'breaker']);

/**
 * Renders `rekey status` for people, every line at most {@link STATUS_WIDTH} characters: per
 * keyring its policy, holds, what its unmanaged holders mean for their data, then a row per
 * version (state, since, records, cache entries, a bar of the records) with its next transition
 * and its time from `now` (the status's own clock), OVERDUE/STUCK flags, the revocation facts, and what holds it back.
 */
export function renderStatus(keyrings: readonly KeyringStatus[], now: Date = new Date()): string {
  const out: string[] = [];
  const put = (text: string, indent = 2, hanging = indent + 2): void => {
    out.push(...wrapText(text, STATUS_WIDTH, indent, hanging));
  };
  for (const k of keyrings) {
    const p = k.policy;
    out.push(...wrapText(`keyring ${k.keyring} (generation ${k.generation})`, STATUS_WIDTH, 0, 2));
    put(`policy: rotate every ${p.rotateEvery}, grace ${p.grace}, propagation ${p.propagation}, retention ${p.retention}, quiet ${p.quiet}, destroy after retention: ${p.destroyAfterRetention ? 'yes' : 'no'}`);
    if (k.frozen) put(`FROZEN since ${instant(k.frozen.at)} by ${k.frozen.by}: ${k.frozen.reason}`);
    if (k.breaker) put(`CIRCUIT BREAKER open since ${instant(k.breaker.at)}: ${k.breaker.reason}`);
    for (const line of k.protection) put(line);
    if (!k.cacheCounted) put('cache: unavailable (Redis did not answer)');
    const total = k.versions.reduce((s, v) => s + v.records, 0);
    out.push(`  ${'ver'.padStart(3)}  ${'state'.padEnd(10)}  ${'since'.padEnd(17)}  ${'records'.padStart(9)}  ${'cache'.padStart(7)}  distribution`);
    for (const v of k.versions) {
      out.push(
        `  ${String(v.version).padStart(3)}  ${v.state.padEnd(10)}  ${instant(v.since).padEnd(17)}  ${String(v.records).padStart(9)}  ${(v.cacheEntries === null ? 'n/a' : String(v.cacheEntries)).padStart(7)}  ${bar(v.records, total, STATUS_BAR_WIDTH)}`.trimEnd(),
      );
      const next = nextText(v, now.getTime());
      if (next !== undefined) put(next, 7, 9);
      if (v.lastUsedAt !== undefined) put(`last use: ${instant(v.lastUsedAt)}`, 7, 9);
      if (v.revoked !== undefined) put(`revoked ${instant(v.revoked.at)}${v.revoked.by === undefined ? '' : ` by ${v.revoked.by}`}: ${v.revoked.reason}`, 7, 9);
      // The holds say the same as the reasons with their figures; a version without any keeps its
      // reason. A pause is said once, on the keyring's FROZEN / CIRCUIT BREAKER line.
      const holds = v.holds.filter((h) => !PAUSES.has(h.kind));
      for (const line of holds.length > 0 ? holds.map((h) => h.text) : v.holds.length > 0 ? [] : withoutDueLines(v.reasons, next)) put(line, 7, 9);
    }
    if (k.hiddenDestroyed > 0) put(`(${k.hiddenDestroyed} destroyed version${k.hiddenDestroyed === 1 ? '' : 's'} hidden; --all shows ${k.hiddenDestroyed === 1 ? 'it' : 'them'})`);
    out.push('');
  }
  return out.join('\n');
}

/** "next: deprecate in 3d 4h (2030-02-07 00:12Z)", "next: disable due now, OVERDUE by 2h", "next: disable blocked, STUCK". */
function nextText(v: KeyringStatus['versions'][number], now: number): string | undefined {
  if (v.next === undefined) return undefined;
  const pause = v.holds.find((h) => PAUSES.has(h.kind));
  if (pause !== undefined) return `next: ${v.next} paused (${pause.kind === 'frozen' ? 'keyring frozen' : 'circuit breaker open'})`;
  if (v.dueAt === undefined) return `next: ${v.next} blocked${v.stuck ? ', STUCK' : ''}`;
  const due = Date.parse(v.dueAt) - now;
  if (due > 0) return `next: ${v.next} in ${formatSpan(due / 1000)} (${instant(v.dueAt)})`;
  return `next: ${v.next} due now${v.overdue ? `, OVERDUE by ${formatSpan(-due / 1000)} (no tick applied it)` : ''}`;
}

/** An ISO instant to the minute, for a table cell: `2030-01-08 10:00Z`. */
/**
 * The reasons minus "deprecation due at <instant>": the next line already says when, in a
 * shorter form; a reason that explains (kept, waiting, blocked) stays.
 */
export function withoutDueLines(reasons: readonly string[], next: string | undefined): readonly string[] {
  return next === undefined ? reasons : reasons.filter((r) => !/ due at \d{4}-\d{2}-\d{2}T\S+$/.test(r));
}

/** An ISO instant as `2030-01-02 00:11Z` (minutes, UTC), or the text itself when it is not one. */
export function instant(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : formatInstant(new Date(t));
}

/**
 * Word-wraps `text` to `width` columns: the first line indented by `indent`, the others by
 * `hanging`; a word longer than a line (an operator's unbroken reason) is cut.
 *
 * @example
 * wrapText('a b c', 3, 0, 0); // ['a b', 'c']
 */
export function wrapText(text: string, width: number, indent: number, hanging: number): string[] {
  const lines: string[] = [];
  let line = ' '.repeat(indent);
  let empty = true;
  const room = (): number => width - line.length;
  for (const raw of text.split(/\s+/).filter((w) => w.length > 0)) {
    let word = raw;
    if (!empty && word.length + 1 > room()) {
      lines.push(line);
      line = ' '.repeat(hanging);
      empty = true;
    }
    while (word.length > room() - (empty ? 0 : 1)) {
      const cut = Math.max(1, room() - (empty ? 0 : 1));
      line += (empty ? '' : ' ') + word.slice(0, cut);
      word = word.slice(cut);
      lines.push(line);
      line = ' '.repeat(hanging);
      empty = true;
    }
    if (word.length > 0) {
      line += (empty ? '' : ' ') + word;
      empty = false;
    }
  }
  if (!empty || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}

/** A one-line progress bar, redrawn in place on a terminal. */
export function progressLine(label: string, done: number, total: number): string {
  const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
  const filled = Math.round((pct / 100) * BAR_WIDTH);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct}% ${done}/${total}`;
}
