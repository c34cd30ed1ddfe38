import { AlreadyExistsError, ConflictError, UnknownKeyringError, ValidationError } from '../errors';
import type { CatalogStore } from '../ports/catalog-store';
import { catalogAdminOf } from '../ports/catalog-admin';
import type { FactsSource, ReferenceCounts } from '../ports/facts-source';
import type { KeyVault } from '../ports/key-vault';
import { CatalogWriter, assertSound } from './catalog-writer';
import type { KeyringReconcileResult, KeyringServiceOptions, KeyringTickResult, PolicyUpdateResult, ReconcileOptions } from './keyring-service-types';
import type { FreezeResult, ReconcileSummary, RevokeResult, RotateResult, TickSummary, UnfreezeResult } from './keyring-service-types';
import { createCatalog, type LifecycleFacts, type NewVersionKey } from './lifecycle';
import { referencesOf } from './reference-counts';
import type { Catalog, KeyringPolicy } from './model';
import { decideEscrow, decideHold, decidePolicy, decideReenable, decideRelease, decideRevoke, decideRotate, decideSources } from './operator-decisions';
import type { ReenableResult, SourcesResult } from './operator-decisions';
import { normalizeUnmanaged } from './sources';
import { setSources } from './lifecycle';
import { resolvePolicy, validateKeyringName, type PolicyNames } from './policy';
import { decidePolicyChange, type PolicyChangeResult } from './keyring-update';
import { BREAKER_ACTOR, reconcileKeyring } from './reconcile-keyring';
import { requireText } from './service-input';
import { generateVersionKey } from './version-key';

export type { BreakerCheck, BreakerOutcome, KeyringReconcileResult, KeyringServiceOptions, KeyringTickResult, PolicyUpdateResult } from './keyring-service-types';
export type { FreezeResult, ReconcileOptions, ReconcileSummary, RevokeResult, RotateResult, TickFailure, TickSummary, UnfreezeResult } from './keyring-service-types';
export type { PolicyChangeResult, PolicyFieldChange } from './keyring-update';
export type { ReenableResult, SourcesResult } from './operator-decisions';

const SCHEDULER = 'scheduler';

/**
 * The reconciler of keyring catalogs over the ports: creates keyrings, rotates, applies the
 * due lifecycle transitions, revokes in an emergency, freezes. Every write is a
 * compare-and-swap of the whole catalog; a lost race re-reads and re-plans, so running any
 * operation twice, late, concurrently or after a crash is safe. Every change is audited.
 *
 * @example
 * const service = new KeyringService({ store, vault, audit, clock: () => new Date(), facts });
 * await service.createKeyring('payments', undefined, { actor: 'cli:alice' });
 * const summary = await service.tick();
 */
export class KeyringService {
  private readonly store: CatalogStore;
  private readonly vault: KeyVault;
  private readonly clock: () => Date;
  private readonly facts: FactsSource;
  private readonly wrappingKeyIdFor: (keyring: string) => string | undefined;
  private readonly writer: CatalogWriter;

  public constructor(options: KeyringServiceOptions) {
    this.store = options.store;
    this.vault = options.vault;
    this.clock = options.clock;
    this.facts = options.facts;
    this.wrappingKeyIdFor = options.wrappingKeyIdFor ?? (() => undefined);
    const maxAttempts = options.maxAttempts ?? 8;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
      throw new ValidationError('maxAttempts must be a positive integer');
    }
    this.writer = new CatalogWriter({ store: options.store, audit: options.audit, maxAttempts });
  }

  /**
   * Creates a keyring whose version 1 is active at once.
   *
   * @example
   * await service.createKeyring('payments', { rotateEverySeconds: 30 * 86_400 }, { actor: 'cli:alice' });
   * @throws ValidationError on a bad name, policy or actor; AlreadyExistsError when it exists
   *   or was deleted (a deleted name is never reused).
   */
  public async createKeyring(
    name: string,
    policy: Partial<KeyringPolicy> | undefined,
    options: { actor: string; now?: Date; unmanaged?: readonly string[] },
  ): Promise<Catalog> {
    validateKeyringName(name);
    const resolved = resolvePolicy(policy);
    const unmanaged = normalizeUnmanaged(options.unmanaged ?? []);
    const actor = requireText(options.actor, 'actor');
    const now = options.now ?? this.clock();
    if ((await this.store.get(name)) !== undefined) {
      throw new AlreadyExistsError(`keyring '${name}' already exists`);
    }
    // Refused before a key is generated; the store refuses it again in the insert itself.
    const deleted = await catalogAdminOf(this.store)?.deletedCatalog(name);
    if (deleted !== undefined) {
      throw new AlreadyExistsError(`keyring '${name}' was deleted on ${deleted.deletedAt}; its name is never reused: choose another name`);
    }
    const key = await this.generate(name, 1);
    const created = createCatalog(name, resolved, key, now);
    const catalog = unmanaged.length === 0 ? created : setSources(created, unmanaged, now);
    assertSound(catalog);
    try {
      await this.store.put(catalog, null);
    } catch (err) {
      if (err instanceof ConflictError && !(err instanceof AlreadyExistsError)) {
        throw new AlreadyExistsError(`keyring '${name}' already exists`);
      }
      throw err;
    }
    await this.writer.record(name, actor, now, [
      {
        action: 'keyring.created',
        version: 1,
        details: {
          rotateEverySeconds: resolved.rotateEverySeconds,
          graceSeconds: resolved.graceSeconds,
          propagationSeconds: resolved.propagationSeconds,
          retentionSeconds: resolved.retentionSeconds,
          quietSeconds: resolved.quietSeconds,
          destroyAfterRetention: resolved.destroyAfterRetention,
          ...(unmanaged.length === 0 ? {} : { unmanaged: unmanaged.join(',') }),
          generation: catalog.generation,
        },
      },
    ]);
    return catalog;
  }

  /**
   * Reads a keyring's catalog.
   *
   * @throws ValidationError on a bad name; UnknownKeyringError when it does not exist.
   */
  public async get(name: string): Promise<Catalog> {
    validateKeyringName(name);
    const stored = await this.store.get(name);
    if (stored === undefined) {
      throw new UnknownKeyringError(name);
    }
    return stored.catalog;
  }

  /** Every keyring's catalog, sorted by name. */
  public async list(): Promise<Catalog[]> {
    const names = await this.store.list();
    const out: Catalog[] = [];
    for (const name of names) {
      const stored = await this.store.get(name);
      if (stored !== undefined) {
        out.push(stored.catalog);
      }
    }
    return out;
  }

  /**
   * Adds the next version as pending (it is promoted by a later tick once the propagation
   * window has passed). A no-op returning the existing pending version when one exists, so
   * racing rotations create exactly one version.
   *
   * @example
   * const { pending, created } = await service.rotate('payments', { actor: 'cli:alice', reason: 'quarterly' });
   * @throws UnknownKeyringError; FrozenError while frozen or held by the breaker.
   */
  public async rotate(name: string, options: { actor: string; reason: string; now?: Date }): Promise<RotateResult> {
    validateKeyringName(name);
    const actor = requireText(options.actor, 'actor');
    const reason = requireText(options.reason, 'reason');
    const now = options.now ?? this.clock();
    return this.writer.write(name, actor, now, (current) => decideRotate(current, { reason, now, generate: this.generate }));
  }

  /**
   * Reconciles one keyring, or all of them, and reports only what changed: the view the CLI's
   * `tick` prints. See {@link KeyringService.reconcile}.
   *
   * @example
   * const summary = await service.tick({ now: new Date() });
   * @throws UnknownKeyringError when a named keyring does not exist.
   */
  public async tick(options: { keyring?: string; now?: Date; actor?: string } = {}): Promise<TickSummary> {
    const summary = await this.reconcile(options);
    const keyrings = summary.keyrings.map(({ keyring, applied, paused, error }): KeyringTickResult => ({
      keyring,
      applied,
      ...(paused === undefined ? {} : { paused }),
      ...(error === undefined ? {} : { error }),
    }));
    return { ...summary, keyrings };
  }

  /**
   * Reconciles one keyring, or all of them. Per keyring: one catalog read; the circuit breaker
   * decided from it when `breaker` is given; the facts the plan needs gathered once (one
   * reference count of every store for every version's question, escrow checks against the
   * catalog just read); a key generated when a rotation is due; every due transition applied
   * (cascading, e.g. deprecated then disabled); the breaker change and the transitions written
   * in one compare-and-swap (a lost race re-reads and re-plans), then audited. A keyring that
   * fails is reported in the summary and left for the next tick; the others still proceed.
   * Each result carries the stored catalog and the counts it used, for statistics.
   *
   * @example
   * const summary = await service.reconcile({ now, breaker: async (catalog) => decideBreaker(...) });
   * @throws UnknownKeyringError when a named keyring does not exist; ValidationError on a bad name or actor.
   */
  public async reconcile(options: ReconcileOptions = {}): Promise<ReconcileSummary> {
    const now = options.now ?? this.clock();
    const actor = options.actor === undefined ? SCHEDULER : requireText(options.actor, 'actor');
    if (options.keyring !== undefined) validateKeyringName(options.keyring);
    const names = options.keyring === undefined ? await this.store.list() : [options.keyring];
    const context = { now, facts: this.facts, generate: this.generate, ...(options.breaker === undefined ? {} : { breaker: options.breaker }) };
    const results: KeyringReconcileResult[] = [];
    for (const name of names) {
      results.push(await reconcileKeyring(this.writer, name, actor, context, { named: options.keyring !== undefined }));
    }
    return {
      at: now.toISOString(),
      keyrings: results,
      applied: results.reduce((n, r) => n + r.applied.length, 0),
      failed: results.filter((r) => r.error !== undefined).length,
    };
  }

  /**
   * How many records and cache entries reference each version of `name`, from one count of
   * each store (what a reconcile gathers when a transition needs it).
   *
   * @throws ValidationError on a bad name.
   */
  public async referenceCounts(name: string): Promise<ReferenceCounts> {
    validateKeyringName(name);
    return this.facts.referenceCounts(name);
  }

  /**
   * Emergency revocation, in one compare-and-swap: a fresh version becomes active at once (no
   * propagation wait), the former active version goes to rotating unless it is the one revoked,
   * a pending version is retired too, and `version` becomes revoked (readable only by the
   * re-encryption worker). Never blocked by freeze or breaker. Idempotent: revoking a revoked
   * version writes nothing.
   *
   * @example
   * await service.revoke('payments', 3, { reason: 'SEC-1234 key exposure', actor: 'cli:alice' });
   * @throws UnknownKeyringError, UnknownVersionError, IllegalTransitionError (destroyed), ValidationError.
   */
  public async revoke(name: string, version: number, options: { reason: string; actor: string; now?: Date }): Promise<RevokeResult> {
    validateKeyringName(name);
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new ValidationError('a version is a positive integer');
    }
    const actor = requireText(options.actor, 'actor');
    const reason = requireText(options.reason, 'reason');
    const now = options.now ?? this.clock();
    return this.writer.write(name, actor, now, (current) => decideRevoke(current, { version, reason, now, generate: this.generate, actor }));
  }

  /**
   * Replaces a keyring's rotation policy with one compare-and-swap; versions are never touched
   * (the new periods apply from the next tick on). A no-op when the policy is already `policy`.
   *
   * @example
   * await service.updatePolicy('payments', { rotateEverySeconds: 30 * 86_400 }, { actor: 'deploy:stack' });
   * @throws ValidationError on a bad name, policy or actor; UnknownKeyringError.
   */
  public async updatePolicy(name: string, policy: Partial<KeyringPolicy> | undefined, options: { actor: string; now?: Date }): Promise<PolicyUpdateResult> {
    validateKeyringName(name);
    const resolved = resolvePolicy(policy);
    const actor = requireText(options.actor, 'actor');
    const now = options.now ?? this.clock();
    return this.writer.write(name, actor, now, (current) => decidePolicy(current, { policy: resolved, now }));
  }

  /**
   * Changes only the given fields of a keyring's policy (`keyring update`), with one
   * compare-and-swap; the result must pass the policy checks and the coherence rule (a grace
   * period no longer than the rotation period), reported under `names` (the CLI's flags).
   * Versions are never touched; the audit event names each field's old and new value. A no-op
   * when every given field already has its value.
   *
   * @example
   * const r = await service.updatePolicyFields('payments', { graceSeconds: 86_400 }, { actor: 'cli:alice' });
   * r.nextRotationDueAt; // when the active version now falls due
   * @throws ValidationError on a bad or incoherent policy; UnknownKeyringError.
   */
  public async updatePolicyFields(
    name: string,
    changes: Partial<KeyringPolicy>,
    options: { actor: string; now?: Date; names?: PolicyNames },
  ): Promise<PolicyChangeResult> {
    validateKeyringName(name);
    for (const key of Object.keys(changes)) {
      if (!['rotateEverySeconds', 'graceSeconds', 'propagationSeconds', 'retentionSeconds', 'quietSeconds', 'destroyAfterRetention'].includes(key)) {
        throw new ValidationError(`invalid policy: unknown field '${key.slice(0, 40)}'`);
      }
    }
    const actor = requireText(options.actor, 'actor');
    const now = options.now ?? this.clock();
    return this.writer.write(name, actor, now, (current) => decidePolicyChange(current, { changes, now, ...(options.names === undefined ? {} : { names: options.names }) }));
  }

  /**
   * Re-enables a disabled version: it becomes deprecated with `reenabledAt` and decrypts again;
   * the lifecycle disables it once more only on fresh evidence (its quiet period restarts now).
   * Works while frozen (it is recovery). Idempotent: a version already re-enabled writes nothing.
   *
   * @example
   * await service.reenable('payments', 1, { reason: 'files still under v1', actor: 'cli:alice' });
   * @throws UnknownKeyringError, UnknownVersionError; IllegalTransitionError when the version was
   *   revoked or is not disabled; ValidationError on a bad version or actor.
   */
  public async reenable(name: string, version: number, options: { reason?: string; actor: string; now?: Date }): Promise<ReenableResult> {
    validateKeyringName(name);
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new ValidationError('a version is a positive integer');
    }
    const actor = requireText(options.actor, 'actor');
    const reason = requireText(options.reason ?? 'operator request', 'reason');
    const now = options.now ?? this.clock();
    return this.writer.write(name, actor, now, (current) => decideReenable(current, { version, reason, now }));
  }

  /**
   * Declares the keyring's unmanaged sources: `set` replaces the list (empty: none), `add`
   * adds to it. One compare-and-swap, nothing written when the declaration already says so.
   *
   * @example
   * await service.updateSources('payments', ['files', 'backups'], { mode: 'set', actor: 'cli:alice' });
   * @throws UnknownKeyringError; ValidationError on a bad source name or actor.
   */
  public async updateSources(name: string, unmanaged: readonly string[], options: { mode: 'set' | 'add'; actor: string; now?: Date }): Promise<SourcesResult> {
    validateKeyringName(name);
    normalizeUnmanaged(unmanaged);
    const actor = requireText(options.actor, 'actor');
    const now = options.now ?? this.clock();
    return this.writer.write(name, actor, now, (current) => decideSources(current, { unmanaged, mode: options.mode, now }));
  }

  /**
   * The facts a plan or a status explanation needs for one keyring, gathered now: reference
   * counts, observed key use and the escrow verification of every disabled version.
   *
   * @throws ValidationError on a bad name; UnknownKeyringError.
   */
  public async lifecycleFacts(name: string): Promise<{ catalog: Catalog; facts: LifecycleFacts }> {
    const catalog = await this.get(name);
    const counts = await this.facts.referenceCounts(name);
    const keyUse = await this.facts.keyUse?.(name);
    const references = new Map<number, number>();
    const escrowVerified = new Set<number>();
    for (const v of catalog.versions) {
      references.set(v.version, referencesOf(counts, v.version));
      if (v.state === 'disabled' && (await this.facts.escrowVerified(name, v.version, v))) escrowVerified.add(v.version);
    }
    const facts: LifecycleFacts = {
      references,
      escrowVerified,
      counts,
      ...(keyUse === undefined ? {} : { keyUse }),
      ...(counts.uncounted === undefined ? {} : { uncounted: counts.uncounted }),
    };
    return { catalog, facts };
  }

  /**
   * Pauses every automatic transition of a keyring (an incident in progress). Revocation still
   * works. Idempotent: an existing freeze is kept as it is, first reason included (the result
   * says so with `changed: false` and the reason and time in force).
   *
   * @example
   * const r = await service.freeze('payments', { reason: 'INC-7', actor: 'cli:alice' });
   * if (!r.changed) console.log(`already frozen since ${r.since}: ${r.reason}`);
   * @throws UnknownKeyringError; ValidationError without a reason.
   */
  public async freeze(name: string, options: { reason: string; actor: string; now?: Date }): Promise<FreezeResult> {
    const { catalog, changed } = await this.holdWith(name, 'frozen', requireText(options.reason, 'reason'), requireText(options.actor, 'actor'), options.now);
    // A freeze is always set afterwards: this call's, or the first one, which is kept.
    const frozen = catalog.frozen as NonNullable<Catalog['frozen']>;
    return { catalog, changed, reason: frozen.reason, since: frozen.at, by: frozen.by };
  }

  /**
   * Lifts an operator freeze; a no-op when not frozen (`changed: false`).
   *
   * @throws UnknownKeyringError.
   */
  public async unfreeze(name: string, options: { actor: string; now?: Date }): Promise<UnfreezeResult> {
    return this.releaseWith(name, 'frozen', requireText(options.actor, 'actor'), options.now);
  }

  /** Holds automatic transitions because decrypt failures crossed the threshold; idempotent. */
  public async tripBreaker(name: string, reason: string, options: { actor?: string; now?: Date } = {}): Promise<Catalog> {
    const actor = options.actor === undefined ? BREAKER_ACTOR : requireText(options.actor, 'actor');
    return this.hold(name, 'breaker', requireText(reason, 'reason'), actor, options.now);
  }

  /** Releases the circuit breaker; a no-op when it is not tripped. */
  public async resetBreaker(name: string, options: { actor?: string; now?: Date } = {}): Promise<Catalog> {
    const actor = options.actor === undefined ? BREAKER_ACTOR : requireText(options.actor, 'actor');
    return this.release(name, 'breaker', actor, options.now);
  }

  /**
   * Records that a version was escrowed and/or verified by a restore drill (without either
   * time, it records `escrowedAt` = now). The lifecycle itself asks the FactsSource before
   * destroying; these fields are the catalog's visible record of it.
   *
   * @throws UnknownKeyringError, UnknownVersionError.
   */
  public async recordEscrow(
    name: string,
    version: number,
    options: { escrowedAt?: Date; verifiedAt?: Date; actor?: string; now?: Date } = {},
  ): Promise<Catalog> {
    validateKeyringName(name);
    const now = options.now ?? this.clock();
    const actor = options.actor === undefined ? 'escrow' : requireText(options.actor, 'actor');
    const escrow = options.escrowedAt === undefined && options.verifiedAt === undefined ? { escrowedAt: now } : { escrowedAt: options.escrowedAt, verifiedAt: options.verifiedAt };
    for (const t of [escrow.escrowedAt, escrow.verifiedAt]) {
      if (t !== undefined && Number.isNaN(t.getTime())) {
        throw new ValidationError('invalid escrow time');
      }
    }
    return this.writer.write(name, actor, now, (current) => decideEscrow(current, { version, escrow, now }));
  }

  private async hold(name: string, hold: 'frozen' | 'breaker', reason: string, actor: string, at?: Date): Promise<Catalog> {
    return (await this.holdWith(name, hold, reason, actor, at)).catalog;
  }

  private async release(name: string, hold: 'frozen' | 'breaker', actor: string, at?: Date): Promise<Catalog> {
    return (await this.releaseWith(name, hold, actor, at)).catalog;
  }

  // Whether the write happened is known only to the decision of the attempt that was written.
  private async holdWith(name: string, hold: 'frozen' | 'breaker', reason: string, actor: string, at?: Date): Promise<{ catalog: Catalog; changed: boolean }> {
    validateKeyringName(name);
    const now = at ?? this.clock();
    return this.writer.write(name, actor, now, async (current) => {
      const d = await decideHold(current, { hold, reason, actor, now });
      return { ...d, result: (catalog: Catalog) => ({ catalog: d.result(catalog), changed: d.next !== undefined }) };
    });
  }

  private async releaseWith(name: string, hold: 'frozen' | 'breaker', actor: string, at?: Date): Promise<{ catalog: Catalog; changed: boolean }> {
    validateKeyringName(name);
    const now = at ?? this.clock();
    return this.writer.write(name, actor, now, async (current) => {
      const d = await decideRelease(current, { hold, now });
      return { ...d, result: (catalog: Catalog) => ({ catalog: d.result(catalog), changed: d.next !== undefined }) };
    });
  }

  /** Generates a version key under the keyring's wrapping key (an arrow: decisions take it as a function). */
  private readonly generate = (keyring: string, version: number): Promise<NewVersionKey> => generateVersionKey(this.vault, keyring, version, this.wrappingKeyIdFor(keyring));
}
