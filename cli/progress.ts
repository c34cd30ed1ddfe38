/**
 * Progress of long commands (sweep, records import) on stderr. On a terminal: one line redrawn
 * in place that fits the terminal's width, with done/total, rate, elapsed time and ETA. Not on a
 * terminal (CI logs, a pipe): one plain line every few seconds and a final line, never a `\r`.
 * Counts include what earlier runs of a resumable command did, so a resumed sweep shows how far
 * the whole job is, not only this run.
 */
import { formatSpan } from '../shared/vocabulary/duration';

/** The stream progress is written to: stderr, or a test's capture. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** Items this run has to do, when known up front (an update may give it later). */
  readonly total?: number;
  /** Items done by earlier runs of the same job (a resumed sweep): shown once, added to the counts. */
  readonly already?: number;
  /** @default process.stderr */
  readonly stream?: ProgressStream;
  /**
   * Least time between two plain lines when the stream is not a terminal, in ms.
   * @default $REKEY_PROGRESS_INTERVAL_MS, else 5000
   */
  readonly intervalMs?: number;
  /** Time source in ms (tests). @default Date.now */
  readonly now?: () => number;
}

/** A running progress display. */
export interface Progress {
  /** This run's items done so far (and its total when it became known). */
  update(done: number, total?: number): void;
  /** Draws the last state and ends the line; `summary` is appended to it. */
  finish(summary?: string): void;
}

/** Plain-line interval when not on a terminal (CI logs). */
export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;
/** Least time between two redraws on a terminal. */
const REDRAW_MS = 100;
const BAR_MAX = 24;
const BAR_MIN = 8;

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function intervalFromEnv(): number {
  const raw = process.env.REKEY_PROGRESS_INTERVAL_MS;
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_PROGRESS_INTERVAL_MS;
}

function rateText(perSecond: number): string {
  return `${formatCount(perSecond >= 10 ? perSecond : Math.round(perSecond * 10) / 10)}/s`;
}

/** The pieces of one progress line, from which a line of any width is assembled. */
interface Snapshot {
  readonly label: string;
  readonly done: number;
  readonly total: number | undefined;
  readonly rate: number;
  readonly elapsedS: number;
  readonly etaS: number | undefined;
}

/**
 * One progress line at most `width` characters: the richest variant that fits (bar, counts,
 * rate, elapsed, ETA), dropping the least useful parts first, cut as a last resort.
 */
export function progressText(s: Snapshot, width: number): string {
  const pct = s.total !== undefined && s.total > 0 ? Math.min(100, Math.floor((s.done / s.total) * 100)) : s.total === 0 ? 100 : undefined;
  const counts = s.total !== undefined ? `${formatCount(s.done)}/${formatCount(s.total)}` : formatCount(s.done);
  const pctText = pct !== undefined ? ` ${pct}%` : '';
  const rate = rateText(s.rate);
  const elapsed = formatSpan(s.elapsedS);
  const eta = s.etaS !== undefined ? `ETA ${formatSpan(s.etaS)}` : 'ETA -';
  const tail = (parts: string[]): string => parts.join(' ');
  const variants: Array<(barWidth: number) => string> = [
    (b) => `${s.label} ${bar(pct, b)}${pctText} ${tail([counts, rate, elapsed, eta])}`,
    () => `${s.label}${pctText} ${tail([counts, rate, elapsed, eta])}`,
    () => `${s.label}${pctText} ${tail([counts, rate, eta])}`,
    () => `${s.label} ${tail([counts, eta])}`,
    () => `${s.label} ${counts}`,
    () => counts,
  ];
  // The bar takes what is left of the line, between BAR_MIN and BAR_MAX cells.
  const withBar = variants[0] as (b: number) => string;
  if (pct !== undefined) {
    const room = width - withBar(0).length;
    if (room >= BAR_MIN) return withBar(Math.min(BAR_MAX, room));
  }
  for (const v of variants.slice(1)) {
    const line = v(0);
    if (line.length <= width) return line;
  }
  return counts.slice(0, Math.max(1, width));
}

function bar(pct: number | undefined, width: number): string {
  const cells = Math.max(0, width - 2);
  const filled = pct === undefined ? 0 : Math.round((pct / 100) * cells);
  return `[${'#'.repeat(filled)}${'.'.repeat(cells - filled)}]`;
}

/**
 * Starts a progress display for `label` (e.g. `sweep pii v1`).
 *
 * @example
 * const p = startProgress('sweep pii v1', { total: 10_000, already: 1_200 });
 * p.update(500);
 * p.finish('done 8,800, failed 0');
 */
export function startProgress(label: string, opts: ProgressOptions = {}): Progress {
  const stream: ProgressStream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? intervalFromEnv();
  const already = opts.already ?? 0;
  const started = now();
  let total = opts.total;
  let done = 0;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let lastPlain = started;
  let finished = false;
  // Off a terminal, a job that ended before its first periodic line says nothing more: its
  // result is on stdout (or in the command's own summary), and CI logs stay one line per fact.
  let plainLines = 0;

  if (already > 0) stream.write(`${label}: resumed: ${formatCount(already)} done earlier\n`);

  const snapshot = (): Snapshot => {
    const elapsedS = Math.max(0, (now() - started) / 1000);
    const rate = elapsedS > 0 ? done / elapsedS : 0;
    const left = total !== undefined ? Math.max(0, total - done) : undefined;
    const etaS = left === undefined ? undefined : left === 0 ? 0 : rate > 0 ? left / rate : undefined;
    return { label, done: already + done, total: total !== undefined ? already + total : undefined, rate, elapsedS, etaS };
  };
  // One cell short of the width: writing the last column makes some terminals wrap.
  const width = (): number => Math.max(10, (stream.columns ?? 80) - 1);
  const draw = (): void => {
    stream.write(`\r${progressText(snapshot(), width())}\x1b[K`);
    lastDraw = now();
  };
  const plain = (): void => {
    stream.write(`${progressText(snapshot(), 200)}\n`);
    lastPlain = now();
    plainLines += 1;
  };

  return {
    update(n: number, t?: number): void {
      if (finished) return;
      done = n;
      if (t !== undefined) total = t;
      if (tty) {
        if (now() - lastDraw >= REDRAW_MS) draw();
      } else if (now() - lastPlain >= interval) plain();
    },
    finish(summary?: string): void {
      if (finished) return;
      finished = true;
      const line = progressText(snapshot(), tty ? width() : 200);
      const end = summary === undefined ? '' : `: ${summary}`;
      if (tty) stream.write(`\r${line}\x1b[K\n${end === '' ? '' : `${label}${end}\n`}`);
      else if (plainLines > 0 || already > 0) stream.write(`${line}${end}\n`);
    },
  };
}
