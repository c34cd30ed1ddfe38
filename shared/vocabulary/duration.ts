import { ValidationError } from '../errors';

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;

// Durations beyond a century are typos (a missing unit letter in a script), not policies; the cap
// also keeps every `Date` computed from a catalog far inside the representable range.
const MAX_SECONDS = 100 * 365 * 86_400;

/**
 * Parses a duration such as `90d`, `7d`, `36h`, `10m` or `30s` into whole seconds.
 * One non-negative integer and one unit (`d`, `h`, `m`, `s`); anything else is refused.
 *
 * @example
 * parseDuration('7d'); // 604800
 * @throws ValidationError on an empty, malformed, fractional, negative or absurdly long duration.
 */
export function parseDuration(text: string): number {
  if (typeof text !== 'string') {
    throw new ValidationError('a duration must be a string such as 90d, 36h, 10m or 30s');
  }
  const match = /^(\d{1,12})([dhms])$/.exec(text.trim());
  if (match === null) {
    throw new ValidationError(`invalid duration '${text.slice(0, 32)}': expected an integer and a unit (d, h, m, s), e.g. 90d`);
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as Unit];
  if (seconds > MAX_SECONDS) {
    throw new ValidationError(`invalid duration '${text}': longer than 100 years`);
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

/** The longest duration a policy may hold, in seconds (100 years). */
export const MAX_DURATION_SECONDS = MAX_SECONDS;
