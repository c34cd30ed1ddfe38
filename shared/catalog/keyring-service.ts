import {
  ConflictError,
  FrozenError,
  IllegalTransitionError,
  UnknownKeyringError,
  UnknownVersionError,
  ValidationError,
  AlreadyExistsError,
  isRekeyError,
} from '../errors';
import type { AuditEvent, AuditSink } from '../ports/audit-sink';
import type { CatalogStore, StoredCatalog } from '../ports/catalog-store';
import type { KeyVault } from '../ports/key-vault';
import type { FactsSource } from '../ports/facts-source';
import { checkInvariants } from './invariants';
import {
  SUPERSEDED_REASON_PREFIX,
  activeVersion,
  applyTransition,
  createCatalog,
  factsNeeded,
  isPaused,
  nextVersion,
  pendingVersion,
  planTransitions,
  setEscrow,
  setHold,
  setPolicy,
  type NewVersionKey,
  type PlannedTransition,
  type Transition,
} from './lifecycle';
import type { Catalog, KeyringPolicy, KeyVersion } from './model';
import { resolvePolicy, validateKeyringName } from './policy';

/** Dependencies of a {@link KeyringService}. */
export interface KeyringServiceOptions {
  readonly store: CatalogStore;
  readonly vault: KeyVault;
  readonly audit: AuditSink;
  /** The time source; every operation also takes an explicit `now`. */
  readonly clock: () => Date;
  readonly facts: FactsSource;
  /** The vault key that wraps a keyring's version keys (undefined: the vault's default). */
  readonly wrappingKeyIdFor?: (keyring: string) => string | undefined;
  /**
   * How many times a write that lost a compare-and-swap race is re-planned before giving up
   * with ConflictError.
   * @default 8
   */
  readonly maxAttempts?: number;
}

/** Result of {@link KeyringService.rotate}. */
export interface RotateResult {
  /** The catalog as stored after the call. */
  readonly catalog: Catalog;
  /** The pending version: the new one, or the one that was already propagating. */
  readonly pending: KeyVersion;
  /** False when a pending version already existed and nothing was written. */
  readonly created: boolean;
}

/** Result of {@link KeyringService.revoke}. */
export interface RevokeResult {
  readonly catalog: Catalog;
  /** The fresh active version created by this call; undefined when the version was already revoked. */
  readonly replacement?: KeyVersion;
  /** False when the version was already revoked and nothing was written. */
  readonly created: boolean;
}

/** Result of {@link KeyringService.updatePolicy}. */
export interface PolicyUpdateResult {
  readonly catalog: Catalog;
  /** False when the stored policy already was the requested one and nothing was written. */
  readonly changed: boolean;
}

/** What one tick did to one keyring. */
export interface KeyringTickResult {
  readonly keyring: string;
  /** Transitions written, in order (empty when nothing was due, paused, or on error). */
  readonly applied: readonly PlannedTransition[];
  /** Set when automatic transitions are paused. */
  readonly paused?: 'frozen' | 'breaker';
  /** Set when this keyring could not be reconciled; the next tick retries from the stored catalog. */
  readonly error?: { readonly code: string; readonly message: string; readonly retryable: boolean };
}

/** Summary of {@link KeyringService.tick}. */
export interface TickSummary {
  readonly at: string;
  readonly keyrings: readonly KeyringTickResult[];
  /** Total transitions applied over all keyrings. */
  readonly applied: number;
  /** Keyrings that failed. */
  readonly failed: number;
}

type AuditDraft = Omit<AuditEvent, 'at' | 'keyring' | 'actor'>;

interface Decision<T> {
  /** The catalog to write, or undefined when there is nothing to change. */
  readonly next?: Catalog;
  readonly events: readonly AuditDraft[];
  readonly result: (catalog: Catalog) => T;
}

const SCHEDULER = 'scheduler';
const POLICY_REASON = 'policy';

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
  private readonly audit: AuditSink;
  private readonly clock: () => Date;
  private readonly facts: FactsSource;
  private readonly wrappingKeyIdFor: (keyring: string) => string | undefined;
  private readonly maxAttempts: number;

  public constructor(options: KeyringServiceOptions) {
    this.store = options.store;
    this.vault = options.vault;
    this.audit = options.audit;
    this.clock = options.clock;
    this.facts = options.facts;
    this.wrappingKeyIdFor = options.wrappingKeyIdFor ?? (() => undefined);
    this.maxAttempts = options.maxAttempts ?? 8;
    if (!Number.isSafeInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new ValidationError('maxAttempts must be a positive integer');
    }
  }

  /**
   * Creates a keyring whose version 1 is active at once.
   *
   * @example
   * await service.createKeyring('payments', { rotateEverySeconds: 30 * 86_400 }, { actor: 'cli:alice' });
   * @throws ValidationError on a bad name, policy or actor; AlreadyExistsError when it exists.
   */
  public async createKeyring(name: string, policy: Partial<KeyringPolicy> | undefined, options: { actor: string; now?: Date }): Promise<Catalog> {
    validateKeyringName(name);
    const resolved = resolvePolicy(policy);
    const actor = requireText(options.actor, 'actor');
    const now = options.now ?? this.clock();
    if ((await this.store.get(name)) !== undefined) {
      throw new AlreadyExistsError(`keyring '${name}' already exists`);
    }
    const key = await this.generate(name, 1);
    const catalog = createCatalog(name, resolved, key, now);
    assertSound(catalog);
    try {
      await this.store.put(catalog, null);
    } catch (err) {
      if (err instanceof ConflictError) {
        throw new AlreadyExistsError(`keyring '${name}' already exists`);
      }
      throw err;
    }
    await this.record(name, actor, now, [
      {
        action: 'keyring.created',
        version: 1,
        details: {
          rotateEverySeconds: resolved.rotateEverySeconds,
          graceSeconds: resolved.graceSeconds,
          propagationSeconds: resolved.propagationSeconds,
          retentionSeconds: resolved.retentionSeconds,
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
    return this.casLoop(name, actor, now, async (current): Promise<Decision<RotateResult>> => {
      const existing = pendingVersion(current);
      if (existing !== undefined) {
        return { events: [], result: (catalog) => ({ catalog, pending: existing, created: false }) };
      }
      if (isPaused(current)) {
        // Refused before the vault is asked for a key that could not be stored.
        throw new FrozenError(`keyring '${name}' is ${current.frozen !== undefined ? 'frozen' : 'held by the circuit breaker'}; rotation is paused`);
      }
      const version = nextVersion(current);
      const key = await this.generate(name, version);
      const next = applyTransition(current, { kind: 'create-pending', version, key }, now);
      return {
        next,
        events: [{ action: 'version.created', version, reason, details: { state: 'pending', manual: true } }],
        result: (catalog) => ({ catalog, pending: findVersion(catalog, version), created: true }),
      };
    });
  }

  /**
   * Reconciles one keyring, or all of them: gathers the facts the plan needs, generates a key
   * when a rotation is due, applies every due transition (cascading, e.g. deprecated then
   * disabled) and writes them in one compare-and-swap, then audits each. A keyring that fails
   * is reported in the summary and left for the next tick; the others still proceed.
   *
   * @example
   * const summary = await service.tick({ now: new Date() });
   * @throws UnknownKeyringError when a named keyring does not exist.
   */
  public async tick(options: { keyring?: string; now?: Date; actor?: string } = {}): Promise<TickSummary> {
    const now = options.now ?? this.clock();
    const actor = options.actor === undefined ? SCHEDULER : requireText(options.actor, 'actor');
    let names: string[];
    if (options.keyring !== undefined) {
      await this.get(options.keyring);
      names = [options.keyring];
    } else {
      names = await this.store.list();
    }
    const results: KeyringTickResult[] = [];
    for (const name of names) {
      try {
        results.push(await this.reconcile(name, actor, now));
      } catch (err) {
        results.push({ keyring: name, applied: [], error: errorSummary(err) });
      }
    }
    return {
      at: now.toISOString(),
      keyrings: results,
      applied: results.reduce((n, r) => n + r.applied.length, 0),
      failed: results.filter((r) => r.error !== undefined).length,
    };
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
    return this.casLoop(name, actor, now, async (current): Promise<Decision<RevokeResult>> => {
      const target = current.versions.find((v) => v.version === version);
      if (target === undefined) {
        throw new UnknownVersionError(name, version);
      }
      if (target.state === 'revoked') {
        return { events: [], result: (catalog) => ({ catalog, created: false }) };
      }
      if (target.state === 'destroyed') {
        throw new IllegalTransitionError(`version ${version} of keyring '${name}' is destroyed and cannot be revoked`);
      }
      const replacement = nextVersion(current);
      const formerActive = activeVersion(current);
      const pending = pendingVersion(current);
      const key = await this.generate(name, replacement);
      const next = applyTransition(current, { kind: 'revoke', version, reason, replacement: { version: replacement, key } }, now);
      const events: AuditDraft[] = [{ action: 'version.revoked', version, reason, details: { from: target.state } }];
      if (pending !== undefined && pending.version !== version) {
        events.push({ action: 'version.revoked', version: pending.version, reason: `${SUPERSEDED_REASON_PREFIX} ${version}`, details: { from: 'pending' } });
      }
      const activated: Record<string, string | number | boolean> = { emergency: true };
      if (formerActive !== undefined && formerActive.version !== version) {
        activated['demoted'] = formerActive.version;
      }
      events.push({ action: 'version.activated', version: replacement, reason, details: activated });
      return { next, events, result: (catalog) => ({ catalog, replacement: findVersion(catalog, replacement), created: true }) };
    });
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
    return this.casLoop(name, actor, now, async (current): Promise<Decision<PolicyUpdateResult>> => {
      if (samePolicy(current.policy, resolved)) {
        return { events: [], result: (catalog) => ({ catalog, changed: false }) };
      }
      const changes: Record<string, number> = {};
      for (const field of POLICY_FIELDS) {
        if (current.policy[field] !== resolved[field]) changes[field] = resolved[field];
      }
      return { next: setPolicy(current, resolved, now), events: [{ action: 'keyring.policy-updated', details: changes }], result: (catalog) => ({ catalog, changed: true }) };
    });
  }

  /**
   * Pauses every automatic transition of a keyring (an incident in progress). Revocation still
   * works. Idempotent: an existing freeze is kept as it is.
   *
   * @throws UnknownKeyringError; ValidationError without a reason.
   */
  public async freeze(name: string, options: { reason: string; actor: string; now?: Date }): Promise<Catalog> {
    return this.hold(name, 'frozen', requireText(options.reason, 'reason'), requireText(options.actor, 'actor'), options.now);
  }

  /** Lifts an operator freeze; a no-op when not frozen. */
  public async unfreeze(name: string, options: { actor: string; now?: Date }): Promise<Catalog> {
    return this.release(name, 'frozen', requireText(options.actor, 'actor'), options.now);
  }

  /** Holds automatic transitions because decrypt failures crossed the threshold; idempotent. */
  public async tripBreaker(name: string, reason: string, options: { actor?: string; now?: Date } = {}): Promise<Catalog> {
    const actor = options.actor === undefined ? 'breaker' : requireText(options.actor, 'actor');
    return this.hold(name, 'breaker', requireText(reason, 'reason'), actor, options.now);
  }

  /** Releases the circuit breaker; a no-op when it is not tripped. */
  public async resetBreaker(name: string, options: { actor?: string; now?: Date } = {}): Promise<Catalog> {
    const actor = options.actor === undefined ? 'breaker' : requireText(options.actor, 'actor');
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
    return this.casLoop(name, actor, now, async (current): Promise<Decision<Catalog>> => {
      const next = setEscrow(current, version, escrow, now);
      const details: Record<string, string> = {};
      if (escrow.escrowedAt !== undefined) details['escrowedAt'] = escrow.escrowedAt.toISOString();
      if (escrow.verifiedAt !== undefined) details['verifiedAt'] = escrow.verifiedAt.toISOString();
      return { next, events: [{ action: 'version.escrow-recorded', version, details }], result: (catalog) => catalog };
    });
  }

  private async hold(name: string, hold: 'frozen' | 'breaker', reason: string, actor: string, at?: Date): Promise<Catalog> {
    validateKeyringName(name);
    const now = at ?? this.clock();
    return this.casLoop(name, actor, now, async (current): Promise<Decision<Catalog>> => {
      if (current[hold] !== undefined) {
        return { events: [], result: (catalog) => catalog };
      }
      const next = setHold(current, hold, { reason, at: now.toISOString(), by: actor }, now);
      return { next, events: [{ action: hold === 'frozen' ? 'keyring.frozen' : 'breaker.tripped', reason }], result: (catalog) => catalog };
    });
  }

  private async release(name: string, hold: 'frozen' | 'breaker', actor: string, at?: Date): Promise<Catalog> {
    validateKeyringName(name);
    const now = at ?? this.clock();
    return this.casLoop(name, actor, now, async (current): Promise<Decision<Catalog>> => {
      if (current[hold] === undefined) {
        return { events: [], result: (catalog) => catalog };
      }
      const next = setHold(current, hold, undefined, now);
      return { next, events: [{ action: hold === 'frozen' ? 'keyring.unfrozen' : 'breaker.reset' }], result: (catalog) => catalog };
    });
  }

  private async reconcile(name: string, actor: string, now: Date): Promise<KeyringTickResult> {
    return this.casLoop(name, actor, now, async (current): Promise<Decision<KeyringTickResult>> => {
      if (isPaused(current)) {
        const paused = current.frozen !== undefined ? 'frozen' : 'breaker';
        return { events: [], result: () => ({ keyring: name, applied: [], paused }) };
      }
      const references = new Map<number, number>();
      const escrowVerified = new Set<number>();
      const escrowChecked = new Set<number>();
      const applied: PlannedTransition[] = [];
      const events: AuditDraft[] = [];
      let catalog = current;
      // Each round may make more transitions due (deprecated with no reference left → disabled);
      // versions only move forward, so a handful of rounds reaches the fixed point.
      for (let round = 0; round < 8; round += 1) {
        for (const need of factsNeeded(catalog, now)) {
          if (!references.has(need.version)) {
            references.set(need.version, await this.facts.references(name, need.version));
          }
          if (need.escrow && !escrowChecked.has(need.version)) {
            escrowChecked.add(need.version);
            if (await this.facts.escrowVerified(name, need.version)) {
              escrowVerified.add(need.version);
            }
          }
        }
        const plan = planTransitions(catalog, now, { references, escrowVerified });
        if (plan.length === 0) {
          break;
        }
        for (const planned of plan) {
          const transition: Transition = planned.kind === 'create-pending' ? { ...planned, key: await this.generate(name, planned.version) } : planned;
          catalog = applyTransition(catalog, transition, now);
          applied.push(planned);
          events.push(auditOf(planned, references));
        }
      }
      if (applied.length === 0) {
        return { events: [], result: () => ({ keyring: name, applied: [] }) };
      }
      return { next: catalog, events, result: () => ({ keyring: name, applied }) };
    });
  }

  /**
   * Read → decide → compare-and-swap → audit, re-reading and re-deciding on a lost race.
   * A decision may generate keys; a key whose write loses is simply never stored.
   */
  private async casLoop<T>(name: string, actor: string, now: Date, decide: (current: Catalog) => Promise<Decision<T>>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const stored: StoredCatalog | undefined = await this.store.get(name);
      if (stored === undefined) {
        throw new UnknownKeyringError(name);
      }
      const decision = await decide(stored.catalog);
      if (decision.next === undefined) {
        return decision.result(stored.catalog);
      }
      const written: Catalog = { ...decision.next, generation: stored.catalog.generation + 1 };
      assertSound(written);
      try {
        await this.store.put(written, stored.etag);
      } catch (err) {
        if (err instanceof ConflictError && attempt < this.maxAttempts) {
          continue;
        }
        throw err;
      }
      // Audit lines of two processes can land out of commit order; the generation orders them.
      await this.record(
        name,
        actor,
        now,
        decision.events.map((e) => ({ ...e, details: { ...e.details, generation: written.generation } })),
      );
      return decision.result(written);
    }
  }

  private async generate(keyring: string, version: number): Promise<NewVersionKey> {
    const context = { keyring, version: String(version) };
    const wrappingKeyId = this.wrappingKeyIdFor(keyring);
    // The catalog needs only the wrapped form: ask the vault for nothing else when it can
    // (KMS GenerateDataKeyWithoutPlaintext), else wipe the plaintext before anything else runs.
    if (this.vault.generateWrappedKey !== undefined) {
      const wrapped = await this.vault.generateWrappedKey(context, wrappingKeyId);
      return { wrappedKey: wrapped.wrapped.toString('base64'), wrappingKeyId: wrapped.wrappingKeyId };
    }
    const key = await this.vault.generateKey(context, wrappingKeyId);
    key.plaintext.fill(0);
    return { wrappedKey: key.wrapped.toString('base64'), wrappingKeyId: key.wrappingKeyId };
  }

  private async record(keyring: string, actor: string, now: Date, drafts: readonly AuditDraft[]): Promise<void> {
    for (const draft of drafts) {
      await this.audit.record({ ...draft, at: now.toISOString(), actor, keyring });
    }
  }
}

function auditOf(t: PlannedTransition, references: ReadonlyMap<number, number>): AuditDraft {
  switch (t.kind) {
    case 'create-pending':
      return { action: 'version.created', version: t.version, reason: POLICY_REASON, details: { state: 'pending' } };
    case 'promote':
      return { action: 'version.activated', version: t.version, reason: POLICY_REASON, details: { demoted: t.demoted } };
    case 'deprecate':
      return { action: 'version.deprecated', version: t.version, reason: POLICY_REASON };
    case 'disable':
      return { action: 'version.disabled', version: t.version, reason: POLICY_REASON, details: { references: references.get(t.version) ?? 0 } };
    case 'destroy':
      return { action: 'version.destroyed', version: t.version, reason: POLICY_REASON, details: { escrowVerified: true } };
    default: {
      const never: never = t;
      throw new IllegalTransitionError(`unknown transition ${JSON.stringify(never)}`);
    }
  }
}

const POLICY_FIELDS = ['rotateEverySeconds', 'graceSeconds', 'propagationSeconds', 'retentionSeconds'] as const;

function samePolicy(a: KeyringPolicy, b: KeyringPolicy): boolean {
  return POLICY_FIELDS.every((field) => a[field] === b[field]);
}

function assertSound(catalog: Catalog): void {
  const problems = checkInvariants(catalog);
  if (problems.length > 0) {
    throw new IllegalTransitionError(`refusing to write catalog '${catalog.keyring}': ${problems.join('; ')}`);
  }
}

function findVersion(catalog: Catalog, version: number): KeyVersion {
  const found = catalog.versions.find((v) => v.version === version);
  if (found === undefined) {
    throw new UnknownVersionError(catalog.keyring, version);
  }
  return found;
}

function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new ValidationError(`${what} must be a non-empty string`);
  }
  if (value.length > 1024) {
    throw new ValidationError(`${what} must be at most 1024 characters`);
  }
  return value.trim();
}

function errorSummary(err: unknown): { code: string; message: string; retryable: boolean } {
  if (isRekeyError(err)) {
    return { code: err.code, message: err.message, retryable: err.retryable };
  }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), retryable: false };
}
