import { ValidationError } from '../shared/errors';
import { parseDuration } from '../shared/vocabulary/duration';

/** Parses repeated `--context k=v` options into a context object; rejects duplicates and empty keys. */
export function parseContext(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  // No prototype: `__proto__=A` on a plain object would set its prototype and drop the pair,
  // leaving the envelope unbound. Spreads and Object.keys keep such a key as an own property.
  const out = Object.create(null) as Record<string, string>;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ValidationError(`--context expects key=value, got '${pair.slice(0, 40)}'`);
    const key = pair.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(out, key)) throw new ValidationError(`--context key '${key}' given twice`);
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

/** Parses a positive integer option (versions, counts, rates). */
export function parsePositiveInt(value: string, name: string): number {
  if (!/^[0-9]{1,10}$/.test(value)) throw new ValidationError(`${name} must be a positive integer, got '${value.slice(0, 20)}'`);
  const n = Number(value);
  if (n < 1 || n > 0xffffffff) throw new ValidationError(`${name} must be between 1 and 4294967295`);
  return n;
}

/** A time with its zone: `Z` or `+hh:mm` after the time of day. */
const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Parses a time option (`--at`, `--now`): an ISO-8601 time with its zone
 * (`2027-01-31T12:00:00Z`, `2027-01-31T13:00+01:00`), or a duration after `base` (`+8d`,
 * `+1d12h`, `+PT10M`). A time without a zone is refused: a local-time reading would act hours
 * away from what the operator meant, on a lifecycle decision.
 *
 * @example
 * parseInstant('+8d', '--at', new Date('2027-01-01T00:00:00Z')); // 2027-01-09T00:00:00Z
 * @throws ValidationError naming the flag.
 */
export function parseInstant(value: string, name: string, base?: Date): Date {
  if (value.startsWith('+')) {
    if (base === undefined) throw new ValidationError(`${name} takes a time with its zone here, such as 2027-01-31T12:00:00Z`);
    return new Date(base.getTime() + parseDuration(value.slice(1), name) * 1000);
  }
  const d = new Date(value);
  if (!ZONED.test(value) || Number.isNaN(d.getTime())) {
    const hint = /^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(d.getTime()) ? ' (a time without a zone is refused: add Z for UTC)' : '';
    throw new ValidationError(`${name} must be an ISO-8601 time with its zone such as 2027-01-31T12:00:00Z, or a span from now such as +8d${hint}`);
  }
  return d;
}

/** Parses a duration option (`--grace 7d`, `1w`, `1d12h`, `P30D`), naming the flag in the error. */
export function parseDurationOption(value: string, name: string): number {
  return parseDuration(value, name);
}

/** Appends a repeatable option's value (commander collector). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
