/**
 * EmergencyRevocation: the orchestration of `rekey revoke`. Each step is idempotent and
 * audited, so running `revoke` again after a crash at any point finishes the job:
 *
 * 1. KeyringService.revoke: a fresh version becomes active at once, N becomes revoked.
 * 2. The key provider's caches are invalidated, so this process sees the new catalog now.
 * 3. Cache entries under N are purged.
 * 4. Every record under N is re-encrypted with a fresh data key (checkpointed sweep).
 * 5. A verification count finds zero records under N; a tick then moves N to disabled
 *    (the lifecycle re-checks records + cache references itself).
 *
 * The sweep must decrypt every record: records bound to a caller context that is neither stored
 * in the envelope nor resolvable by `sweep.contextFor` are reported as failed, the version
 * stays revoked (refusing ordinary reads), and the result says what remains.
 */
import { UnknownVersionError } from '../errors';
import type { Catalog, VersionState } from '../catalog/model';
import type { AuditSink } from '../ports/audit-sink';
import type { RecordStore } from '../ports/record-store';
import type { CheckpointStore } from '../ports/checkpoint-store';
import type { SweepOptions, SweepResult, Sweeper } from './sweeper';

/** The KeyringService operations a revocation uses. */
export interface RevocationKeyrings {
  get(name: string): Promise<Catalog>;
  revoke(name: string, version: number, options: { reason: string; actor: string }): Promise<{ readonly created: boolean; readonly replacement?: { readonly version: number } }>;
  tick(options: { keyring?: string; actor?: string }): Promise<unknown>;
}

/** Dependencies of {@link EmergencyRevocation}. */
export interface EmergencyRevocationOptions {
  readonly keyrings: RevocationKeyrings;
  /** The key provider whose catalog and key caches must forget the keyring (CatalogKeyProvider). */
  readonly provider: { invalidate(keyring?: string): void | Promise<void> };
  /** Drops the cache entries of a version (EncryptedCache or a CacheStore). */
  readonly cache: { invalidateVersion(keyring: string, version: number): Promise<number> };
  readonly sweeper: Pick<Sweeper, 'sweep'>;
  readonly checkpoints: CheckpointStore;
  readonly records: Pick<RecordStore, 'countByVersion'>;
  readonly audit: AuditSink;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** Options of {@link EmergencyRevocation.revoke}. */
export interface RevokeOptions {
  readonly reason: string;
  readonly actor: string;
  /** Tuning of the re-encryption sweep (mode and checkpoint are fixed by the revocation). */
  readonly sweep?: Omit<SweepOptions, 'mode' | 'checkpoint'>;
}

/** What a revocation run did. */
export interface RevocationResult {
  readonly keyring: string;
  readonly version: number;
  /** The keyring's active version after the revocation. */
  readonly activeVersion?: number;
  /** True when this run revoked the version (false: it was already revoked). */
  readonly revokedNow: boolean;
  readonly cacheEntriesPurged: number;
  /** The sweep of this run; undefined when the revocation had already completed. */
  readonly sweep?: SweepResult;
  /** Records still under the version after the sweep. */
  readonly remaining: number;
  /** The version's state at the end: `disabled` once everything is done. */
  readonly state: VersionState;
  /** True when the revocation is complete (version disabled). */
  readonly complete: boolean;
}

function stateOf(catalog: Catalog, version: number): VersionState {
  const v = catalog.versions.find((x) => x.version === version);
  if (v === undefined) throw new UnknownVersionError(catalog.keyring, version);
  return v.state;
}

function activeOf(catalog: Catalog): number | undefined {
  return catalog.versions.find((v) => v.state === 'active')?.version;
}

/**
 * Revokes a key version in an emergency and carries the revocation through to the end.
 *
 * @example
 * const revocation = new EmergencyRevocation({ keyrings, provider, cache, sweeper, checkpoints, records, audit });
 * const result = await revocation.revoke('pii', 3, { reason: 'SEC-42 key exposure', actor: 'cli:alice' });
 * if (!result.complete) console.log(`${result.remaining} records left; run revoke again`);
 */
export class EmergencyRevocation {
  private readonly o: EmergencyRevocationOptions;
  private readonly clock: () => Date;

  public constructor(options: EmergencyRevocationOptions) {
    this.o = options;
    this.clock = options.clock ?? (() => new Date());
  }

  /** Runs (or resumes) the revocation of `version` of `keyring`. */
  public async revoke(keyring: string, version: number, options: RevokeOptions): Promise<RevocationResult> {
    const before = await this.o.keyrings.get(keyring);
    const v = before.versions.find((x) => x.version === version);
    // A version revoked earlier and since disabled is a finished revocation: revoking it again
    // would mint yet another version for nothing.
    if (v !== undefined && v.state === 'disabled' && v.revokedAt !== undefined) {
      await this.event(keyring, version, options, 'revocation.already-complete', {});
      return this.result(keyring, version, before, { revokedNow: false, cacheEntriesPurged: 0, remaining: 0 });
    }

    const revoked = await this.o.keyrings.revoke(keyring, version, { reason: options.reason, actor: options.actor });
    await this.event(keyring, version, options, 'revocation.revoked', {
      created: revoked.created,
      ...(revoked.replacement === undefined ? {} : { replacement: revoked.replacement.version }),
    });

    await this.o.provider.invalidate(keyring);
    await this.event(keyring, version, options, 'revocation.keys-invalidated', {});

    const purged = await this.o.cache.invalidateVersion(keyring, version);
    await this.event(keyring, version, options, 'revocation.cache-purged', { entries: purged });

    const sweep = await this.o.sweeper.sweep(keyring, version, { ...(options.sweep ?? {}), mode: 'reencrypt', checkpoint: this.o.checkpoints });
    await this.event(keyring, version, options, 'revocation.swept', {
      done: sweep.done,
      skipped: sweep.skipped,
      failed: sweep.failedCount,
      remaining: sweep.remaining,
      resumed: sweep.resumed,
    });

    const remaining = (await this.o.records.countByVersion(keyring)).get(version) ?? 0;
    await this.event(keyring, version, options, 'revocation.verified', { remaining });
    if (remaining > 0) {
      return this.result(keyring, version, await this.o.keyrings.get(keyring), { revokedNow: revoked.created, cacheEntriesPurged: purged, sweep, remaining });
    }
    await this.o.keyrings.tick({ keyring, actor: options.actor });
    // Readers in this process should see `disabled` now, not when the catalog TTL runs out.
    await this.o.provider.invalidate(keyring);
    const after = await this.o.keyrings.get(keyring);
    const state = stateOf(after, version);
    await this.event(keyring, version, options, state === 'disabled' ? 'revocation.completed' : 'revocation.pending-disable', { state });
    return this.result(keyring, version, after, { revokedNow: revoked.created, cacheEntriesPurged: purged, sweep, remaining });
  }

  private result(
    keyring: string,
    version: number,
    catalog: Catalog,
    facts: { revokedNow: boolean; cacheEntriesPurged: number; sweep?: SweepResult; remaining: number },
  ): RevocationResult {
    const state = stateOf(catalog, version);
    const active = activeOf(catalog);
    return { keyring, version, ...(active === undefined ? {} : { activeVersion: active }), ...facts, state, complete: state === 'disabled' };
  }

  private async event(keyring: string, version: number, options: RevokeOptions, action: string, details: Record<string, string | number | boolean>): Promise<void> {
    await this.o.audit.record({ at: this.clock().toISOString(), actor: options.actor, action, keyring, version, reason: options.reason, details });
  }
}
