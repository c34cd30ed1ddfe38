/**
 * A record census for tests (shared/ports/record-census.ts): complete, closed a minute after its
 * run started, on a bucket whose notifications were found on a day before, so usable unless a
 * test changes that.
 */
import type { TargetCensus } from '../../shared/ports/record-census';

/**
 * A usable census of `target` whose run started at `startedAt`, with the same counts by version and by origin.
 *
 * @example
 * censusOf({ keyring: 'pii', bucket: 'b', prefix: 'p/' }, Date.now(), { '2': 10 }, { writeEvents: false });
 */
export function censusOf(target: TargetCensus['target'], startedAt: number, byVersion: Record<string, number>, over: Partial<TargetCensus> = {}): TargetCensus {
  const counts = new Map(Object.entries(byVersion).map(([v, n]) => [Number(v), n]));
  return {
    target,
    startedAt: new Date(startedAt),
    closedAt: new Date(startedAt + 60_000),
    writeEvents: true,
    writeEventsSince: new Date(startedAt - 86_400_000),
    counts: { byVersion: counts, byOrigin: new Map(counts), unknown: 0 },
    ...over,
  };
}
