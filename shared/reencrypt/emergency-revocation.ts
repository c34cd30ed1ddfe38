/**
 * EmergencyRevocation: the orchestration of `rekey revoke`. Each step is idempotent and
 * audited, so running `revoke` again after a crash at any point finishes the job:
 *
 * 1. The revocation ledger (when wired) marks the version, before anything else is written: a
 *    mark survives whatever later happens to the writable catalog.
 * 2. KeyringService.revoke: a fresh version becomes active at once, N becomes revoked (skipped
 *    when the catalog already records N's revocation, so a re-run never mints another version).
 * 3. The key provider's caches are invalidated, so this process sees the new catalog now.
 * 4. Cache entries under N are purged. A cache that does not answer (Redis down) does not undo
 *    or stop the revocation: the result says `cachePurgeFailed`, the revocation is not
 *    complete, and a rerun purges once the cache answers (the entries are refused to readers
 *    meanwhile: they need N's key).
 * 5. Every record whose data key N may have wrapped (origin <= N, wherever its header points
 *    now: routine re-wraps keep data keys) is re-encrypted with a fresh data key.
 * 6. Old copies of re-encrypted records (noncurrent S3 object versions) under N are deleted,
 *    or reported one by one when the store may not delete them.
 * 7. A verification count of the exposed records. The revocation is complete only when it is
 *    zero, no old copy remains, and the count was taken once the longest catalog cache lifetime
 *    had passed since the revocation: until then a writer holding a cached catalog may still
 *    encrypt under N. A run before that reports `settling`; the next run re-counts and
 *    re-encrypts whatever such writers added. Once complete, a tick lets the lifecycle disable N
 *    when its own evidence allows.
 *
 * The sweep must decrypt every record: records bound to a caller context that is neither stored
 * in the envelope nor resolvable by `sweep.contextFor` are reported as failed, the version
 * stays revoked (refusing ordinary reads), and the result says what remains.
 */
import { BackendError, UnknownVersionError } from '../errors';
import type { Catalog, VersionState } from '../catalog/model';
import type { AuditSink } from '../ports/audit-sink';
import type { CopyPurgeReport, RecordStore } from '../ports/record-store';
import type { CheckpointStore } from '../ports/checkpoint-store';
import type { RevocationLedger } from '../ports/revocation-ledger';
// The settle window defaults to the key provider's catalog lifetime: one constant for both, so a
// revocation never completes while a reader with the default lifetime may still trust its catalog.
import { DEFAULT_CATALOG_TTL_MS } from '../vocabulary/catalog-cache';
import type { SweepOptions, SweepResult, Sweeper } from './sweeper';

/** The KeyringService operations a revocation uses. */
export interface RevocationKeyrings {
  get(name: string): Promise<Catalog>;
  revoke(name: string, version: number, options: { reason: string; actor: string }): Promise<{ readonly created: boolean; readonly replacement?: { readonly version: number } }>;
  tick(options: { keyring?: string; actor?: string }): Promise<unknown>;
}

/** What the revocation asks of its sweeper (Sweeper locally, TargetSweeper on AWS). */
export type RevocationSweeper = Pick<Sweeper, 'sweep' | 'exposed'> & {
  /** Deletes (or reports) old copies under the version; absent or undefined: no store keeps any. */
  purgeExposedCopies?(keyring: string, version: number): Promise<CopyPurgeReport | undefined>;
};

/** Dependencies of {@link EmergencyRevocation}. */
export interface EmergencyRevocationOptions {
  readonly keyrings: RevocationKeyrings;
  /** The key provider whose catalog and key caches must forget the keyring (CatalogKeyProvider). */
  readonly provider: { invalidate(keyring?: string): void | Promise<void> };
  /** Drops the cache entries of a version (EncryptedCache or a CacheStore). */
  readonly cache: { invalidateVersion(keyring: string, version: number): Promise<number> };
  readonly sweeper: RevocationSweeper;
  readonly checkpoints: CheckpointStore;
  /** Counts the records still under the version itself (those need its key to be re-encrypted). */
  readonly records: Pick<RecordStore, 'countByVersion'>;
  readonly audit: AuditSink;
  /** Where revocations are recorded beyond the catalog's reach; marked first when given. */
  readonly ledger?: RevocationLedger;
  /**
   * The longest catalog cache lifetime of any process that encrypts under the keyring, in ms:
   * a revocation is complete only when its count was taken at least this long after the
   * revocation. Give it the value the readers' CatalogKeyProvider got. @default {@link DEFAULT_CATALOG_TTL_MS}
   */
  readonly catalogTtlMs?: number;
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

/** Why a revocation is not complete yet. */
export type RevocationPending =
  /** Records whose data key the version may have wrapped remain (failed, handed off, or new). */
  | 'records-remain'
  /** Old copies (noncurrent object versions) under the version remain; see `copies`. */
  | 'copies-remain'
  /** Nothing remains, but a writer with a cached catalog may still write under the version until `settlesAt`. */
  | 'settling';

/** What a revocation run did. */
export interface RevocationResult {
  readonly keyring: string;
  readonly version: number;
  /** The keyring's active version after the revocation. */
  readonly activeVersion?: number;
  /** True when this run revoked the version (false: it was already revoked). */
  readonly revokedNow: boolean;
  readonly cacheEntriesPurged: number;
  /**
   * True when purging the version's cache entries failed (the cache did not answer): the
   * revocation stands, `complete` is false, and a rerun purges them once the cache answers.
   */
  readonly cachePurgeFailed: boolean;
  /** The sweep of this run. */
  readonly sweep?: SweepResult;
  /** Records whose data key the version may have wrapped (origin <= version), after the sweep. */
  readonly remaining: number;
  /** Of those, records still under the version itself. */
  readonly underVersion: number;
  /** Old copies of records deleted or still there; undefined when no store keeps copies. */
  readonly copies?: CopyPurgeReport;
  /** ISO time from which a zero count is final (revocation time + the catalog cache lifetime). */
  readonly settlesAt: string;
  /** The version's state at the end (`revoked`, or `disabled` once the lifecycle disabled it). */
  readonly state: VersionState;
  /**
   * True when nothing the version's key could open remains, counted after `settlesAt`, and its
   * cache entries were purged.
   */
  readonly complete: boolean;
  /** Why the revocation is not complete (absent when complete). */
  readonly pending?: RevocationPending;
  /**
   * Declared holders of envelopes rekey cannot count or re-encrypt (`keyring sources
   * --unmanaged`): their copies under the revoked key are outside `complete` and must be
   * re-encrypted (decrypt, then encrypt again: a header re-wrap keeps the data key) by whoever
   * holds them. Empty when none are declared.
   */
  readonly unmanaged: readonly string[];
}

/** States in which a version whose catalog entry carries `revokedAt` is already revoked for good. */
const REVOKED_FOR_GOOD: ReadonlySet<VersionState> = new Set(['revoked', 'disabled', 'destroyed']);

function stateOf(catalog: Catalog, version: number): VersionState {
  const v = catalog.versions.find((x) => x.version === version);
  if (v === undefined) throw new UnknownVersionError(catalog.keyring, version);
  return v.state;
}

function activeOf(catalog: Catalog): { activeVersion?: number } {
  const active = catalog.versions.find((v) => v.state === 'active')?.version;
  return active === undefined ? {} : { activeVersion: active };
}

/**
 * Revokes a key version in an emergency and carries the revocation through to the end.
 *
 * @example
 * const revocation = new EmergencyRevocation({ keyrings, provider, cache, sweeper, checkpoints, records, audit, ledger });
 * const result = await revocation.revoke('pii', 3, { reason: 'SEC-42 key exposure', actor: 'cli:alice' });
 * if (!result.complete) console.log(`${result.pending}: ${result.remaining} records left; run revoke again`);
 */
export class EmergencyRevocation {
  private readonly o: EmergencyRevocationOptions;
  private readonly clock: () => Date;
  private readonly ttlMs: number;

  public constructor(options: EmergencyRevocationOptions) {
    this.o = options;
    this.clock = options.clock ?? (() => new Date());
    this.ttlMs = options.catalogTtlMs ?? DEFAULT_CATALOG_TTL_MS;
  }

  /**
   * Runs (or resumes) the revocation of `version` of `keyring`. Throws UnknownVersionError (and
   * writes nothing, the ledger included) for a version the keyring never had.
   */
  public async revoke(keyring: string, version: number, options: RevokeOptions): Promise<RevocationResult> {
    const before = await this.o.keyrings.get(keyring);
    const v = before.versions.find((x) => x.version === version);
    // A mark is permanent: never mark a version that does not exist (it would be born revoked).
    if (v === undefined) throw new UnknownVersionError(keyring, version);

    if (this.o.ledger !== undefined) {
      await this.o.ledger.mark({ keyring, version, at: v.revokedAt ?? this.clock().toISOString(), reason: options.reason, actor: options.actor });
      await this.event(keyring, version, options, 'revocation.marked', {});
    }

    // Already revoked in the catalog: revoking again would mint yet another version for nothing.
    const already = v.revokedAt !== undefined && REVOKED_FOR_GOOD.has(v.state);
    let revokedNow = false;
    if (!already) {
      const revoked = await this.o.keyrings.revoke(keyring, version, { reason: options.reason, actor: options.actor });
      revokedNow = revoked.created;
      await this.event(keyring, version, options, 'revocation.revoked', {
        created: revoked.created,
        ...(revoked.replacement === undefined ? {} : { replacement: revoked.replacement.version }),
      });
    }

    await this.o.provider.invalidate(keyring);
    await this.event(keyring, version, options, 'revocation.keys-invalidated', {});

    // The revocation above stands whatever the cache does: a cache that does not answer is
    // reported (and retried by a rerun), never allowed to stop the re-encryption.
    let purged = 0;
    let cachePurgeFailed = false;
    try {
      purged = await this.o.cache.invalidateVersion(keyring, version);
      await this.event(keyring, version, options, 'revocation.cache-purged', { entries: purged });
    } catch (err) {
      if (!(err instanceof BackendError)) throw err;
      cachePurgeFailed = true;
      // The code only: a driver's message may quote keys.
      await this.event(keyring, version, options, 'revocation.cache-purge-failed', { code: err.code });
    }

    const sweep = await this.o.sweeper.sweep(keyring, version, { ...(options.sweep ?? {}), mode: 'reencrypt', checkpoint: this.o.checkpoints });
    const sweepCounts = { done: sweep.done, skipped: sweep.skipped, failed: sweep.failedCount, remaining: sweep.remaining, resumed: sweep.resumed };
    await this.event(keyring, version, options, 'revocation.swept', sweepCounts);
    await this.event(keyring, version, options, 'sweep.completed', { mode: sweep.mode, ...sweepCounts, aborted: sweep.aborted });

    // Only after the re-encryption: a copy goes once its record has a fresh data key.
    const copies = await this.o.sweeper.purgeExposedCopies?.(keyring, version);
    if (copies !== undefined) {
      await this.event(keyring, version, options, 'revocation.copies-purged', { deleted: copies.deleted, remaining: copies.remainingCount });
    }

    // The instant of the count decides whether it is final, so it is taken before counting.
    const countedAt = this.clock();
    const remaining = await this.o.sweeper.exposed(keyring, version);
    const underVersion = (await this.o.records.countByVersion(keyring)).get(version) ?? 0;
    const revokedCatalog = await this.o.keyrings.get(keyring);
    const settlesAt = this.settlesAt(revokedCatalog, version, countedAt);
    const pending: RevocationPending | undefined = remaining > 0
      ? 'records-remain'
      : (copies?.remainingCount ?? 0) > 0
        ? 'copies-remain'
        : countedAt.getTime() < settlesAt.getTime()
          ? 'settling'
          : undefined;
    const unmanaged = revokedCatalog.sources?.unmanaged ?? [];
    await this.event(keyring, version, options, 'revocation.verified', {
      remaining,
      underVersion,
      settlesAt: settlesAt.toISOString(),
      ...(pending === undefined ? {} : { pending }),
      ...(unmanaged.length === 0 ? {} : { unmanaged: unmanaged.join(',') }),
    });

    let after = revokedCatalog;
    if (pending === undefined && !cachePurgeFailed) {
      // The lifecycle decides on disabling with its own evidence (references, quiet period).
      await this.o.keyrings.tick({ keyring, actor: options.actor });
      // Readers in this process should see the outcome now, not when the catalog TTL runs out.
      await this.o.provider.invalidate(keyring);
      after = await this.o.keyrings.get(keyring);
      await this.event(keyring, version, options, 'revocation.completed', { state: stateOf(after, version) });
    } else {
      await this.event(keyring, version, options, 'revocation.incomplete', { ...(pending === undefined ? {} : { pending }), remaining, ...(cachePurgeFailed ? { cachePurgeFailed } : {}) });
    }
    return {
      keyring,
      version,
      ...activeOf(after),
      revokedNow,
      cacheEntriesPurged: purged,
      cachePurgeFailed,
      sweep,
      remaining,
      underVersion,
      ...(copies === undefined ? {} : { copies }),
      settlesAt: settlesAt.toISOString(),
      state: stateOf(after, version),
      complete: pending === undefined && !cachePurgeFailed,
      ...(pending === undefined ? {} : { pending }),
      unmanaged: [...unmanaged],
    };
  }

  // From the catalog's record of the revocation; a catalog that lost it (edited back) counts
  // from now, the safe side.
  private settlesAt(catalog: Catalog, version: number, now: Date): Date {
    const at = Date.parse(catalog.versions.find((x) => x.version === version)?.revokedAt ?? '');
    return new Date((Number.isFinite(at) ? at : now.getTime()) + this.ttlMs);
  }

  private async event(keyring: string, version: number, options: RevokeOptions, action: string, details: Record<string, string | number | boolean>): Promise<void> {
    await this.o.audit.record({ at: this.clock().toISOString(), actor: options.actor, action, keyring, version, reason: options.reason, details });
  }
}
