/**
 * Reading one keyring's reference counts: the number the lifecycle compares with zero before it
 * disables or destroys a version.
 */
import type { ReferenceCounts } from '../ports/facts-source';

/**
 * Records plus cache entries still under `version`.
 *
 * @example
 * referencesOf({ records: new Map([[1, 2]]), cacheEntries: new Map([[1, 1]]) }, 1); // 3
 */
export function referencesOf(counts: ReferenceCounts, version: number): number {
  return (counts.records.get(version) ?? 0) + (counts.cacheEntries?.get(version) ?? 0);
}
