/**
 * Human output of the CLI: the status table with a bar per version, and the progress bar of
 * long operations. JSON output is the same data, unformatted.
 */
import type { Catalog, KeyVersion } from '../shared/catalog';
import { formatDuration } from '../shared/catalog';

/** One version's row of `rekey status`. */
export interface VersionStatus {
  readonly version: number;
  readonly state: string;
  readonly since: string;
  readonly records: number;
  readonly cacheEntries: number;
}

/** One keyring's block of `rekey status`. */
export interface KeyringStatus {
  readonly keyring: string;
  readonly generation: number;
  readonly policy: { rotateEvery: string; grace: string; propagation: string; retention: string };
  readonly frozen?: { reason: string; at: string; by: string };
  readonly breaker?: { reason: string; at: string; by: string };
  readonly versions: readonly VersionStatus[];
}

/** The time a version entered its current state. */
export function stateSince(v: KeyVersion): string {
  const byState: Record<string, string | undefined> = {
    pending: v.createdAt,
    active: v.activatedAt,
    rotating: v.rotatingAt,
    deprecated: v.deprecatedAt,
    disabled: v.disabledAt,
    destroyed: v.destroyedAt,
    revoked: v.revokedAt,
  };
  return byState[v.state] ?? v.createdAt;
}

/** Builds the status of one keyring from its catalog and reference counts. */
export function keyringStatus(catalog: Catalog, records: ReadonlyMap<number, number>, cache: ReadonlyMap<number, number>): KeyringStatus {
  return {
    keyring: catalog.keyring,
    generation: catalog.generation,
    policy: {
      rotateEvery: formatDuration(catalog.policy.rotateEverySeconds),
      grace: formatDuration(catalog.policy.graceSeconds),
      propagation: formatDuration(catalog.policy.propagationSeconds),
      retention: formatDuration(catalog.policy.retentionSeconds),
    },
    ...(catalog.frozen ? { frozen: { ...catalog.frozen } } : {}),
    ...(catalog.breaker ? { breaker: { ...catalog.breaker } } : {}),
    versions: catalog.versions.map((v) => ({
      version: v.version,
      state: v.state,
      since: stateSince(v),
      records: records.get(v.version) ?? 0,
      cacheEntries: cache.get(v.version) ?? 0,
    })),
  };
}

const BAR_WIDTH = 30;

/** A proportional bar of `n` out of `total`, `width` characters at most. */
export function bar(n: number, total: number, width = BAR_WIDTH): string {
  if (total <= 0 || n <= 0) return '';
  return '#'.repeat(Math.max(1, Math.round((n / total) * width)));
}

/** Renders `rekey status` for people. */
export function renderStatus(keyrings: readonly KeyringStatus[]): string {
  const out: string[] = [];
  for (const k of keyrings) {
    const p = k.policy;
    out.push(`keyring ${k.keyring}  (rotate every ${p.rotateEvery}, grace ${p.grace}, propagation ${p.propagation}, retention ${p.retention}; generation ${k.generation})`);
    if (k.frozen) out.push(`  FROZEN since ${k.frozen.at} by ${k.frozen.by}: ${k.frozen.reason}`);
    if (k.breaker) out.push(`  CIRCUIT BREAKER open since ${k.breaker.at}: ${k.breaker.reason}`);
    const total = k.versions.reduce((s, v) => s + v.records, 0);
    out.push(`  ${'version'.padStart(7)}  ${'state'.padEnd(10)}  ${'since'.padEnd(24)}  ${'records'.padStart(9)}  ${'cache'.padStart(7)}  distribution`);
    for (const v of k.versions) {
      out.push(
        `  ${String(v.version).padStart(7)}  ${v.state.padEnd(10)}  ${v.since.padEnd(24)}  ${String(v.records).padStart(9)}  ${String(v.cacheEntries).padStart(7)}  ${bar(v.records, total)}`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

/** A one-line progress bar, redrawn in place on a terminal. */
export function progressLine(label: string, done: number, total: number): string {
  const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
  const filled = Math.round((pct / 100) * BAR_WIDTH);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct}% ${done}/${total}`;
}
