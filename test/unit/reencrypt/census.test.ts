/**
 * The record census core (shared/reencrypt/census.ts): tallies, their validated sum, when a
 * census may be used, and the upper bound a census and its write marks imply.
 */
import fc from 'fast-check';
import { ValidationError } from '../../../shared/errors';
import type { TargetCensus } from '../../../shared/ports/record-census';
import { combine, eventsSince, marksSince, partOf, sumParts, tallyOf, unusableCensus, type CensusPlacement } from '../../../shared/reencrypt/census';
import { censusOf } from '../../support/census';
import { CENSUS_EVENTS_SETTLE_MS, CENSUS_MAX_AGE_MS, CENSUS_WRITE_MARGIN_MS } from '../../../shared/vocabulary/record-census';

const T0 = Date.parse('2027-03-01T12:00:00Z');
const target = { keyring: 'pii', bucket: 'records', prefix: 'pii/' };

/** A usable census of the test target (10 records on v2, made under v1) whose run started at `startedAt`. */
function censusAt(startedAt: number, over: Partial<TargetCensus> = {}): TargetCensus {
  return censusOf(target, startedAt, { '2': 10 }, { counts: { byVersion: new Map([[2, 10]]), byOrigin: new Map([[1, 10]]), unknown: 0 }, ...over });
}

const placement = fc.oneof(
  fc.constant<CensusPlacement>('absent'),
  fc.constant<CensusPlacement>('unknown'),
  fc.record({ version: fc.integer({ min: 1, max: 9 }), origin: fc.integer({ min: 1, max: 9 }) }),
);

describe('census tallies', () => {
  it('counts placed items by version and origin, unknown ones apart, absent ones not at all', () => {
    fc.assert(
      fc.property(fc.array(placement, { maxLength: 200 }), (items) => {
        const tally = tallyOf(items);
        const placed = items.filter((p): p is { version: number; origin: number } => typeof p === 'object');
        expect(Object.values(tally.byVersion).reduce((a, b) => a + b, 0)).toBe(placed.length);
        expect(Object.values(tally.byOrigin).reduce((a, b) => a + b, 0)).toBe(placed.length);
        expect(tally.unknown).toBe(items.filter((p) => p === 'unknown').length);
        for (const p of placed) expect(tally.byVersion[p.version]).toBe(placed.filter((q) => q.version === p.version).length);
      }),
    );
  });

  it('sums the batches of a run into the tally of all their items, whatever the split', () => {
    fc.assert(
      fc.property(fc.array(fc.array(placement, { maxLength: 30 }), { maxLength: 20 }), (batches) => {
        const summed = sumParts(batches.map(tallyOf));
        const whole = tallyOf(batches.flat());
        expect(partOf(summed)).toEqual({ byVersion: whole.byVersion, byOrigin: whole.byOrigin, unknown: whole.unknown });
      }),
    );
  });

  it.each([
    ['null', null],
    ['a missing unknown', { byVersion: {}, byOrigin: {} }],
    ['a negative count', { byVersion: { '2': -1 }, byOrigin: {}, unknown: 0 }],
    ['a fractional count', { byVersion: { '2': 1.5 }, byOrigin: {}, unknown: 0 }],
    ['a version that is not one', { byVersion: { '02': 1 }, byOrigin: {}, unknown: 0 }],
    ['an array of counts', { byVersion: [1], byOrigin: {}, unknown: 0 }],
  ])('refuses a part with %s', (_, part) => {
    expect(() => sumParts([tallyOf([{ version: 1, origin: 1 }]), part])).toThrow(ValidationError);
  });
});

describe('when a census may be used', () => {
  it('is usable when complete, young, and taken well after notifications were found on', () => {
    expect(unusableCensus(censusAt(T0), new Date(T0 + 3_600_000))).toBeUndefined();
  });

  it.each([
    ['none', undefined, T0],
    ['no-write-events', censusAt(T0, { writeEvents: false }), T0],
    ['no-write-events', censusAt(T0, { writeEventsSince: undefined }), T0],
    // Found on just before the run began: S3 may not have delivered yet.
    ['no-write-events', censusAt(T0, { writeEventsSince: new Date(T0 - CENSUS_EVENTS_SETTLE_MS + 1) }), T0],
    ['unknown-records', censusAt(T0, { counts: { byVersion: new Map(), byOrigin: new Map(), unknown: 1 } }), T0],
    ['too-old', censusAt(T0), T0 + CENSUS_MAX_AGE_MS + 1],
    ['from-the-future', censusAt(T0), T0 - CENSUS_WRITE_MARGIN_MS - 1],
  ] as const)('says %s', (why, census, now) => {
    expect(unusableCensus(census, new Date(now))).toBe(why);
  });

  it('carries the instant notifications were found on while they stay on, and restarts it after they were off', () => {
    const now = new Date(T0);
    const on = censusAt(T0 - 86_400_000);
    expect(eventsSince(on, true, now)).toEqual(on.writeEventsSince);
    expect(eventsSince(censusAt(T0 - 86_400_000, { writeEvents: false, writeEventsSince: undefined }), true, now)).toEqual(now);
    expect(eventsSince(undefined, true, now)).toEqual(now);
    expect(eventsSince(on, false, now)).toBeUndefined();
  });

  it('counts marks from before the census started (the margin), never only after', () => {
    expect(marksSince(censusAt(T0)).getTime()).toBe(T0 - CENSUS_WRITE_MARGIN_MS);
  });
});

describe('counts from a census and its marks', () => {
  it('never counts a version below what the census saw, and counts every marked write', () => {
    const counts = fc.dictionary(fc.integer({ min: 1, max: 9 }).map(String), fc.nat({ max: 1000 }));
    const write = fc.record({ at: fc.date(), version: fc.integer({ min: 1, max: 9 }), origin: fc.integer({ min: 1, max: 9 }) });
    fc.assert(
      fc.property(counts, fc.array(write, { maxLength: 50 }), (byVersion, writes) => {
        const census = censusAt(T0, { counts: sumParts([{ byVersion, byOrigin: byVersion, unknown: 0 }]) });
        const out = combine(census, writes);
        for (const [v, n] of census.counts.byVersion) expect(out.byVersion.get(v) ?? 0).toBeGreaterThanOrEqual(n);
        for (let v = 1; v <= 9; v++) {
          expect(out.byVersion.get(v) ?? 0).toBe((census.counts.byVersion.get(v) ?? 0) + writes.filter((w) => w.version === v).length);
          expect(out.byOrigin.get(v) ?? 0).toBe((census.counts.byOrigin.get(v) ?? 0) + writes.filter((w) => w.origin === v).length);
        }
      }),
    );
  });
});
