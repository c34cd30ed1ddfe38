/**
 * EventBridge Scheduler schedule expressions, as "Schedule types in EventBridge Scheduler"
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html) documents them:
 * - `rate(value unit)`, unit minute | minutes | hour | hours | day | days. A rate schedule starts at
 *   its StartDate; without one it "starts invoking the target immediately" (at creation) and then
 *   runs at the fixed rate until its EndDate.
 * - `cron(minutes hours day-of-month month day-of-week year)`: `,` `-` `*` `/` everywhere,
 *   `?` `L` `W` in day-of-month, `?` `L` `#` in day-of-week (1-7 = SUN-SAT, or SUN..SAT),
 *   months 1-12 or JAN..DEC; day-of-month and day-of-week cannot both be given (one is `?`).
 * - `at(yyyy-mm-ddThh:mm:ss)`: one invocation.
 * Cron and at are evaluated in ScheduleExpressionTimezone (UTC by default).
 * Simplification: a wall time that does not exist in the zone (DST gap) maps to the instant the
 * zone's offset arithmetic gives; the docs' DST skip/shift rules are not modelled.
 */

const MINUTE = 60_000;
const UNIT_MS: Readonly<Record<string, number>> = { minute: MINUTE, minutes: MINUTE, hour: 60 * MINUTE, hours: 60 * MINUTE, day: 1440 * MINUTE, days: 1440 * MINUTE };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Day-of-month / day-of-week special forms. */
type DaySpec =
  | { readonly kind: 'any' }
  | { readonly kind: 'set'; readonly values: ReadonlySet<number> }
  | { readonly kind: 'last' }
  | { readonly kind: 'lastWeekday' }
  | { readonly kind: 'nearestWeekday'; readonly day: number }
  | { readonly kind: 'lastDow'; readonly dow: number }
  | { readonly kind: 'nthDow'; readonly dow: number; readonly n: number };

/** A parsed schedule expression. */
export type ScheduleExpression =
  | { readonly kind: 'rate'; readonly everyMs: number }
  | {
      readonly kind: 'cron';
      readonly minutes: ReadonlySet<number>;
      readonly hours: ReadonlySet<number>;
      readonly dom: DaySpec;
      readonly months: ReadonlySet<number>;
      readonly dow: DaySpec;
      readonly years: ReadonlySet<number>;
    }
  | { readonly kind: 'at'; readonly local: readonly [number, number, number, number, number, number] };

/** When a schedule may run (CreateSchedule StartDate, EndDate, ScheduleExpressionTimezone). */
export interface ScheduleWindow {
  /** Milliseconds; a rate schedule's first occurrence. */
  readonly startDate?: number;
  readonly endDate?: number;
  /** IANA zone; `UTC` when absent. */
  readonly timezone?: string;
}

function field(text: string, min: number, max: number, names?: readonly string[], namesBase = 1): Set<number> {
  const out = new Set<number>();
  const value = (t: string): number => {
    const upper = t.toUpperCase();
    const named = names?.indexOf(upper) ?? -1;
    const n = named >= 0 ? named + namesBase : Number(t);
    if (!Number.isInteger(n) || n < min || n > max) throw new SyntaxError(`cron value ${t} outside ${min}-${max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new SyntaxError(`bad cron step in ${part}`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      [lo, hi] = [value(a), value(b)];
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function domSpec(text: string): DaySpec {
  if (text === '?') return { kind: 'any' };
  if (text === 'L') return { kind: 'last' };
  if (text === 'LW') return { kind: 'lastWeekday' };
  const w = /^(\d{1,2})W$/.exec(text);
  if (w) return { kind: 'nearestWeekday', day: Number(w[1]) };
  return { kind: 'set', values: field(text, 1, 31) };
}

function dowSpec(text: string): DaySpec {
  if (text === '?') return { kind: 'any' };
  const dayNumber = (t: string): number => {
    const named = DAYS.indexOf(t.toUpperCase());
    return named >= 0 ? named + 1 : Number(t);
  };
  const last = /^(\w+)L$/.exec(text);
  if (text === 'L') return { kind: 'set', values: new Set([7]) };
  if (last?.[1]) return { kind: 'lastDow', dow: dayNumber(last[1]) };
  const nth = /^(\w+)#([1-5])$/.exec(text);
  if (nth?.[1]) return { kind: 'nthDow', dow: dayNumber(nth[1]), n: Number(nth[2]) };
  return { kind: 'set', values: field(text, 1, 7, DAYS) };
}

/** Parses `rate(...)`, `cron(...)` or `at(...)`; throws SyntaxError on anything else. */
export function parseScheduleExpression(expression: string): ScheduleExpression {
  const rate = /^rate\((\d+)\s+(minutes?|hours?|days?)\)$/.exec(expression.trim());
  if (rate) {
    const n = Number(rate[1]);
    if (n < 1) throw new SyntaxError('a rate value must be a positive number');
    return { kind: 'rate', everyMs: n * (UNIT_MS[rate[2] ?? ''] ?? MINUTE) };
  }
  const at = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression.trim());
  if (at) {
    const [y, mo, d, h, mi, s] = at.slice(1).map(Number) as [number, number, number, number, number, number];
    return { kind: 'at', local: [y, mo, d, h, mi, s] };
  }
  const cron = /^cron\((.*)\)$/.exec(expression.trim());
  if (cron?.[1] !== undefined) {
    const parts = cron[1].trim().split(/\s+/);
    if (parts.length !== 6) throw new SyntaxError('a cron expression has six fields');
    const [mi = '', h = '', dom = '', mo = '', dow = '', y = ''] = parts;
    if ((dom === '?') === (dow === '?')) throw new SyntaxError('exactly one of day-of-month and day-of-week must be ?');
    return {
      kind: 'cron',
      minutes: field(mi, 0, 59),
      hours: field(h, 0, 23),
      dom: domSpec(dom),
      months: field(mo, 1, 12, MONTHS),
      dow: dowSpec(dow),
      years: field(y, 1970, 2199),
    };
  }
  throw new SyntaxError(`not a schedule expression: ${expression}`);
}

/** Offset (ms) of `zone` from UTC at instant `ms`. */
function zoneOffset(ms: number, zone: string): number {
  if (zone === 'UTC') return 0;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(ms));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - Math.floor(ms / 1000) * 1000;
}

/** The instant of a wall-clock time in `zone`. */
export function zonedTime(zone: string, y: number, mo: number, d: number, h: number, mi: number, s = 0): number {
  const guess = Date.UTC(y, mo - 1, d, h, mi, s);
  const first = guess - zoneOffset(guess, zone);
  return guess - zoneOffset(first, zone);
}

function daysInMonth(y: number, mo: number): number {
  return new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

function dayMatches(spec: DaySpec, y: number, mo: number, d: number, isDow: boolean): boolean {
  const dow = new Date(Date.UTC(y, mo - 1, d)).getUTCDay() + 1;
  const last = daysInMonth(y, mo);
  switch (spec.kind) {
    case 'any':
      return true;
    case 'set':
      return spec.values.has(isDow ? dow : d);
    case 'last':
      return d === last;
    case 'lastWeekday': {
      const lastDow = new Date(Date.UTC(y, mo - 1, last)).getUTCDay();
      const target = lastDow === 6 ? last - 1 : lastDow === 0 ? last - 2 : last;
      return d === target;
    }
    case 'nearestWeekday': {
      const day = Math.min(spec.day, last);
      const wd = new Date(Date.UTC(y, mo - 1, day)).getUTCDay();
      let target = day;
      if (wd === 6) target = day === 1 ? 3 : day - 1;
      else if (wd === 0) target = day === last ? day - 2 : day + 1;
      return d === target;
    }
    case 'lastDow':
      return dow === spec.dow && d + 7 > last;
    case 'nthDow':
      return dow === spec.dow && Math.ceil(d / 7) === spec.n;
  }
}

/**
 * Occurrences of a schedule with `from < t <= to`, ascending.
 * `anchor` is when a rate schedule without StartDate was created (its first occurrence).
 */
export function occurrencesBetween(expr: ScheduleExpression, window: ScheduleWindow, anchor: number, from: number, to: number): number[] {
  const lo = Math.max(from, (window.startDate ?? Number.NEGATIVE_INFINITY) - 1);
  const hi = Math.min(to, window.endDate ?? Number.POSITIVE_INFINITY);
  if (hi <= lo) return [];
  const zone = window.timezone ?? 'UTC';
  if (expr.kind === 'rate') {
    const start = window.startDate ?? anchor;
    const k = Math.max(0, Math.floor((lo - start) / expr.everyMs) + 1);
    const out: number[] = [];
    for (let t = start + k * expr.everyMs; t <= hi; t += expr.everyMs) if (t > lo) out.push(t);
    return out;
  }
  if (expr.kind === 'at') {
    const [y, mo, d, h, mi, s] = expr.local;
    const t = zonedTime(zone, y, mo, d, h, mi, s);
    return t > lo && t <= hi ? [t] : [];
  }
  const out: number[] = [];
  // Walk the zone's calendar days covering (lo, hi], a day either side for offsets.
  const startDay = Math.floor((lo + zoneOffset(lo, zone)) / 86_400_000) - 1;
  const endDay = Math.floor((hi + zoneOffset(hi, zone)) / 86_400_000) + 1;
  for (let day = startDay; day <= endDay; day++) {
    const date = new Date(day * 86_400_000);
    const [y, mo, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    if (!expr.years.has(y) || !expr.months.has(mo)) continue;
    if (!dayMatches(expr.dom, y, mo, d, false) || !dayMatches(expr.dow, y, mo, d, true)) continue;
    for (const h of [...expr.hours].sort((a, b) => a - b)) {
      for (const mi of [...expr.minutes].sort((a, b) => a - b)) {
        const t = zonedTime(zone, y, mo, d, h, mi);
        if (t > lo && t <= hi) out.push(t);
      }
    }
  }
  return out.sort((a, b) => a - b);
}
