/**
 * The options and results of the KeyringService, apart from the class so the planner of a tick
 * and the service share them without importing each other.
 */
import type { AuditSink } from '../ports/audit-sink';
import type { CatalogStore } from '../ports/catalog-store';
import type { FactsSource, ReferenceCounts } from '../ports/facts-source';
import type { KeyVault } from '../ports/key-vault';
import type { BreakerDecision } from './circuit-breaker';
import type { PlannedTransition } from './lifecycle';
import type { Catalog, KeyVersion } from './model';

/** Dependencies of a KeyringService. */
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

/** Result of KeyringService.rotate. */
export interface RotateResult {
  /** The catalog as stored after the call. */
  readonly catalog: Catalog;
  /** The pending version: the new one, or the one that was already propagating. */
  readonly pending: KeyVersion;
  /** False when a pending version already existed and nothing was written. */
  readonly created: boolean;
}

/** Result of KeyringService.revoke. */
export interface RevokeResult {
  readonly catalog: Catalog;
  /** The fresh active version created by this call; undefined when the version was already revoked. */
  readonly replacement?: KeyVersion;
  /** False when the version was already revoked and nothing was written. */
  readonly created: boolean;
}

/** Result of KeyringService.updatePolicy. */
export interface PolicyUpdateResult {
  readonly catalog: Catalog;
  /** False when the stored policy already was the requested one and nothing was written. */
  readonly changed: boolean;
}

/** Result of KeyringService.freeze. */
export interface FreezeResult {
  readonly catalog: Catalog;
  /** False when the keyring was already frozen: the first freeze, its reason and time are kept. */
  readonly changed: boolean;
  /** The reason of the freeze in force (the first one when it was already frozen). */
  readonly reason: string;
  /** When the freeze in force began (ISO). */
  readonly since: string;
  /** Who froze it. */
  readonly by: string;
}

/** Result of KeyringService.unfreeze. */
export interface UnfreezeResult {
  readonly catalog: Catalog;
  /** False when the keyring was not frozen and nothing was written. */
  readonly changed: boolean;
}

/** A keyring's failure as a tick reports it. */
export interface TickFailure {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

/** What one tick did to one keyring. */
export interface KeyringTickResult {
  readonly keyring: string;
  /** Transitions written, in order (empty when nothing was due, paused, or on error). */
  readonly applied: readonly PlannedTransition[];
  /** Set when automatic transitions are paused. */
  readonly paused?: 'frozen' | 'breaker';
  /** Set when this keyring could not be reconciled; the next tick retries from the stored catalog. */
  readonly error?: TickFailure;
}

/** Summary of KeyringService.tick. */
export interface TickSummary {
  readonly at: string;
  readonly keyrings: readonly KeyringTickResult[];
  /** Total transitions applied over all keyrings. */
  readonly applied: number;
  /** Keyrings that failed. */
  readonly failed: number;
}

/**
 * Decides the circuit breaker of a keyring from the catalog a reconcile plans on (tripped or
 * not, rotation under way or not). Undefined means the facts are unavailable: the breaker then
 * keeps its state, neither tripping on a monitoring outage nor releasing a hold it cannot
 * re-justify.
 */
export type BreakerCheck = (catalog: Catalog) => Promise<BreakerDecision | undefined>;

/** What a reconcile did with the circuit breaker of one keyring. */
export interface BreakerOutcome {
  /** The decision taken, or `unknown` without facts (or when the keyring failed). */
  readonly action: BreakerDecision['action'] | 'unknown';
  /** Why, for a decision. */
  readonly reason?: string;
  /** Whether the breaker is tripped after this reconcile. */
  readonly tripped: boolean;
}

/** Options of KeyringService.reconcile. */
export interface ReconcileOptions {
  /** Only this keyring (it must exist); every keyring when undefined. */
  readonly keyring?: string;
  readonly now?: Date;
  /** @default 'scheduler' */
  readonly actor?: string;
  /** The circuit breaker, decided and written in the same compare-and-swap as the transitions. */
  readonly breaker?: BreakerCheck;
}

/** What one reconcile did to one keyring, with the facts it gathered for the caller to reuse. */
export interface KeyringReconcileResult extends KeyringTickResult {
  /** The catalog as stored afterwards (undefined on error). */
  readonly catalog?: Catalog;
  /** The reference counts the plan used; undefined when no transition needed them. */
  readonly references?: ReferenceCounts;
  /** Set when a breaker check was given. */
  readonly breaker?: BreakerOutcome;
}

/** Summary of KeyringService.reconcile. */
export interface ReconcileSummary extends TickSummary {
  readonly keyrings: readonly KeyringReconcileResult[];
}
