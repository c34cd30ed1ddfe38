import { ValidationError } from '../shared/errors';

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

/** Parses an ISO-8601 instant (for `--at` / `--now`). */
export function parseInstant(value: string, name: string): Date {
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new ValidationError(`${name} must be an ISO-8601 time such as 2027-01-31T12:00:00Z`);
  }
  return d;
}

/** Appends a repeatable option's value (commander collector). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
