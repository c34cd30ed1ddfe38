/**
 * The record census, pure: per-batch tallies a sweep run returns, their sum, and the counts a
 * census and the writes marked since it imply. The rule every function here keeps: when in
 * doubt, count more. A version's count only feeds "may this version stop decrypting?", where
 * counting a record twice delays a step and missing one strands data.
 */
import { ValidationError } from '../errors';
import type { CensusCounts, CensusWrite, TargetCensus } from '../ports/record-census';
import { CENSUS_EVENTS_SETTLE_MS, CENSUS_MAX_AGE_MS, CENSUS_WRITE_MARGIN_MS } from '../vocabulary/record-census';

/** A census tally as it travels in JSON (a batch's answer, the census document): version → records. */
export interface CensusPart {
  readonly byVersion: Readonly<Record<string, number>>;
  readonly byOrigin: Readonly<Record<string, number>>;
  readonly unknown: number;
}

/** What a sweep learned about one item, for the census. */
export type CensusPlacement = { readonly version: number; readonly origin: number } | 'absent' | 'unknown';

/** Largest version or count a part may carry (a forged or corrupt answer is refused, not summed). */
const MAX_VERSION = 9_999_999;
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/**
 * The tally of one batch: every placed item counted under its version and origin, items the
 * sweep could not place counted as unknown, absent ones (gone, another keyring's) not at all.
 *
 * @example
 * tallyOf([{ version: 3, origin: 1 }, 'absent', 'unknown']); // { byVersion: { '3': 1 }, byOrigin: { '1': 1 }, unknown: 1 }
 */
export function tallyOf(placements: readonly CensusPlacement[]): CensusPart {
  const byVersion: Record<string, number> = {};
  const byOrigin: Record<string, number> = {};
  let unknown = 0;
  for (const p of placements) {
    if (p === 'absent') continue;
    if (p === 'unknown') {
      unknown += 1;
      continue;
    }
    byVersion[p.version] = (byVersion[p.version] ?? 0) + 1;
    byOrigin[p.origin] = (byOrigin[p.origin] ?? 0) + 1;
  }
  return { byVersion, byOrigin, unknown };
}

/**
 * The sum of a run's parts, validated: a part that is not a tally is a ValidationError (the
 * run's census is then not taken at all).
 *
 * @example
 * sumParts([{ byVersion: { '2': 3 }, byOrigin: { '1': 3 }, unknown: 0 }]).byVersion.get(2); // 3
 * @throws ValidationError for a part that is not a census tally.
 */
export function sumParts(parts: readonly unknown[]): CensusCounts {
  const byVersion = new Map<number, number>();
  const byOrigin = new Map<number, number>();
  let unknown = 0;
  for (const part of parts) {
    const p = checkPart(part);
    addAll(byVersion, p.byVersion);
    addAll(byOrigin, p.byOrigin);
    unknown += p.unknown;
  }
  return { byVersion, byOrigin, unknown };
}

/**
 * Two tallies added.
 *
 * @example
 * addCounts(sumParts([a]), sumParts([b])); // sumParts([a, b])
 */
export function addCounts(a: CensusCounts, b: CensusCounts): CensusCounts {
  const byVersion = new Map(a.byVersion);
  const byOrigin = new Map(a.byOrigin);
  for (const [v, n] of b.byVersion) byVersion.set(v, (byVersion.get(v) ?? 0) + n);
  for (const [v, n] of b.byOrigin) byOrigin.set(v, (byOrigin.get(v) ?? 0) + n);
  return { byVersion, byOrigin, unknown: a.unknown + b.unknown };
}

/** The JSON form of counts (the census document's). */
export function partOf(counts: CensusCounts): CensusPart {
  return { byVersion: Object.fromEntries(counts.byVersion), byOrigin: Object.fromEntries(counts.byOrigin), unknown: counts.unknown };
}

/** Why a census cannot be used for counts; undefined when it can. */
export type CensusUnusable = 'none' | 'no-write-events' | 'unknown-records' | 'too-old' | 'from-the-future';

/**
 * Whether counts may come from this census at `now`: it must exist, come from a run that started
 * after the bucket was known to report writes (see TargetCensus.writeEventsSince), have placed every record, and be young enough that every write mark
 * made since is still kept.
 *
 * @example
 * unusableCensus(census, new Date()); // undefined, or 'no-write-events', ...
 */
export function unusableCensus(census: TargetCensus | undefined, now: Date): CensusUnusable | undefined {
  if (census === undefined) return 'none';
  if (!census.writeEvents || census.writeEventsSince === undefined) return 'no-write-events';
  if (census.startedAt.getTime() < census.writeEventsSince.getTime() + CENSUS_EVENTS_SETTLE_MS) return 'no-write-events';
  if (census.counts.unknown > 0) return 'unknown-records';
  const age = now.getTime() - census.startedAt.getTime();
  if (age > CENSUS_MAX_AGE_MS) return 'too-old';
  // A census stamped after now (a clock moved back, a forged document) would hide the writes
  // marked between now and its start.
  if (age < -CENSUS_WRITE_MARGIN_MS) return 'from-the-future';
  return undefined;
}

/** The instant from which write marks are added to a census (its start, less the margin). */
export function marksSince(census: TargetCensus): Date {
  return new Date(census.startedAt.getTime() - CENSUS_WRITE_MARGIN_MS);
}

/**
 * The counts a census and the writes marked since imply: every write adds its record under the
 * version and origin it carries, and nothing is subtracted (the object it replaced stays counted
 * where the census saw it), so each count is an upper bound until the next census, exact right
 * after one.
 *
 * @example
 * combine(census, [{ at, version: 1, origin: 1 }]).byVersion.get(1); // census's v1 count + 1
 */
export function combine(census: TargetCensus, writes: readonly Omit<CensusWrite, 'eventId'>[]): { byVersion: Map<number, number>; byOrigin: Map<number, number> } {
  const byVersion = new Map(census.counts.byVersion);
  const byOrigin = new Map(census.counts.byOrigin);
  for (const w of writes) {
    byVersion.set(w.version, (byVersion.get(w.version) ?? 0) + 1);
    byOrigin.set(w.origin, (byOrigin.get(w.origin) ?? 0) + 1);
  }
  return { byVersion, byOrigin };
}

function checkPart(part: unknown): CensusPart {
  if (typeof part !== 'object' || part === null) throw new ValidationError('census part must be an object');
  const p = part as Record<string, unknown>;
  const unknown = p.unknown;
  if (typeof unknown !== 'number' || !Number.isSafeInteger(unknown) || unknown < 0) throw new ValidationError('census part: unknown must be a count');
  return { byVersion: checkCounts(p.byVersion, 'byVersion'), byOrigin: checkCounts(p.byOrigin, 'byOrigin'), unknown };
}

function checkCounts(value: unknown, name: string): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(`census part: ${name} must be an object`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 10_000) throw new ValidationError(`census part: ${name} has too many versions`);
  for (const [k, n] of entries) {
    const v = Number(k);
    if (!/^[1-9]\d{0,6}$/.test(k) || v > MAX_VERSION) throw new ValidationError(`census part: ${name} keys must be versions`);
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_COUNT) throw new ValidationError(`census part: ${name} values must be counts`);
  }
  return value as Record<string, number>;
}

function addAll(into: Map<number, number>, counts: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(counts)) into.set(Number(k), (into.get(Number(k)) ?? 0) + n);
}

/**
 * The `writeEventsSince` of a census about to close: carried over from the previous census while
 * notifications stayed on, `now` when they were just found on, none when they are off.
 *
 * @example
 * eventsSince(previous, true, now); // previous.writeEventsSince ?? now
 */
export function eventsSince(previous: TargetCensus | undefined, writeEvents: boolean, now: Date): Date | undefined {
  if (!writeEvents) return undefined;
  if (previous?.writeEvents === true && previous.writeEventsSince !== undefined && previous.writeEventsSince.getTime() <= now.getTime()) return previous.writeEventsSince;
  return now;
}
