import { ValidationError } from '../errors';

const UNIT_SECONDS = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;

// Durations beyond a century are typos (a missing unit letter in a script), not policies; the cap
// also keeps every `Date` computed from a catalog far inside the representable range.
const MAX_SECONDS = 100 * 365 * 86_400;

const EXAMPLES = 'e.g. 90d, 1w, 1d12h, 10m or ISO 8601 P30D, PT10M';

/** `1w2d3h`: one or more integer-and-unit parts, each unit at most once and largest first. */
const COMPACT = /^(?:(\d{1,12})w)?(?:(\d{1,12})d)?(?:(\d{1,12})h)?(?:(\d{1,12})m)?(?:(\d{1,12})s)?$/;
/** ISO 8601 durations of weeks, days and time (`P1W`, `P30D`, `P1DT12H`, `PT10M`). Years and months have no fixed length and are refused. */
const ISO = /^P(?:(\d{1,12})W)?(?:(\d{1,12})D)?(?:T(?:(\d{1,12})H)?(?:(\d{1,12})M)?(?:(\d{1,12})S)?)?$/;

/**
 * Parses a duration into whole seconds: `90d`, `7d`, `36h`, `10m`, `30s`, compound `1w`,
 * `1d12h`, or ISO 8601 `P30D`, `P1W`, `PT10M`, `P1DT12H`. Years and months are refused (a month
 * has no fixed length). `name` (a flag such as `--grace`) is named in the error.
 *
 * @example
 * parseDuration('7d'); // 604800
 * parseDuration('1d12h'); // 129600
 * parseDuration('P30D'); // 2592000
 * @throws ValidationError on an empty, malformed, fractional, negative or absurdly long duration.
 */
export function parseDuration(text: string, name?: string): number {
  const what = name === undefined ? 'duration' : `${name}`;
  if (typeof text !== 'string') {
    throw new ValidationError(`${what} must be a duration string, ${EXAMPLES}`);
  }
  const t = text.trim();
  const shown = text.slice(0, 32);
  if (/^P/i.test(t) && /[YM]/i.test(t.split(/T/i)[0] ?? '')) {
    throw new ValidationError(`invalid ${what} '${shown}': years and months have no fixed length; use days or weeks (${EXAMPLES})`);
  }
  const iso = ISO.exec(t.toUpperCase());
  const compact = iso === null ? COMPACT.exec(t) : null;
  const parts = iso !== null ? [iso[1], iso[2], iso[3], iso[4], iso[5]] : compact !== null ? [compact[1], compact[2], compact[3], compact[4], compact[5]] : null;
  if (parts === null || parts.every((p) => p === undefined)) {
    throw new ValidationError(`invalid ${what} '${shown}': expected integers with units (w, d, h, m, s), ${EXAMPLES}`);
  }
  const units: Unit[] = ['w', 'd', 'h', 'm', 's'];
  let seconds = 0;
  parts.forEach((p, i) => {
    if (p !== undefined) seconds += Number(p) * UNIT_SECONDS[units[i] as Unit];
  });
  if (seconds > MAX_SECONDS) {
    throw new ValidationError(`invalid ${what} '${shown}': longer than 100 years`);
  }
  return seconds;
}

/**
 * Formats whole seconds with the largest unit that divides them exactly, so that
 * `parseDuration(formatDuration(s)) === s` for every valid `s`.
 *
 * @example
 * formatDuration(7_776_000); // '90d'
 * @throws ValidationError when `seconds` is not a non-negative safe integer.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new ValidationError('a duration must be a non-negative whole number of seconds');
  }
  for (const unit of ['d', 'h', 'm'] as const) {
    const size = UNIT_SECONDS[unit];
    if (seconds > 0 && seconds % size === 0) {
      return `${seconds / size}${unit}`;
    }
  }
  return `${seconds}s`;
}

/**
 * Formats a span for people: the two largest non-zero units, e.g. `3d 4h`, `12m 5s`, `0s`.
 * Negative spans are formatted by magnitude (the caller says "ago" or "overdue").
 *
 * @example
 * formatSpan(93_600); // '1d 2h'
 */
export function formatSpan(seconds: number): string {
  let rest = Math.floor(Math.abs(seconds));
  const out: string[] = [];
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_SECONDS[unit];
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 && out.length < 2) out.push(`${n}${unit}`);
    else if (out.length > 0) break;
  }
  return out.length === 0 ? '0s' : out.join(' ');
}

/** The longest duration a policy may hold, in seconds (100 years). */
export const MAX_DURATION_SECONDS = MAX_SECONDS;
