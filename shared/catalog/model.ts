/**
 * The catalog: one document per keyring with its policy, its versions and their states.
 * Types only; the state machine lives in lifecycle.ts and is a pure function of
 * (catalog, now, facts).
 */

/** States of a key version. See docs/architecture.md for the diagram. */
export type VersionState = 'pending' | 'active' | 'rotating' | 'deprecated' | 'disabled' | 'destroyed' | 'revoked';

/** A keyring's rotation policy. All durations in seconds. */
export interface KeyringPolicy {
  /** Rotate when the active version is this old. */
  readonly rotateEverySeconds: number;
  /** How long a superseded version stays `rotating` (fully usable for reads) before `deprecated`. */
  readonly graceSeconds: number;
  /** How long a new version stays `pending` (known to readers, not yet encrypting). */
  readonly propagationSeconds: number;
  /** How long a `disabled` version is kept before it may be destroyed (only with {@link destroyAfterRetention}). */
  readonly retentionSeconds: number;
  /**
   * How long the key of a deprecated or revoked version must have gone unused (no unwrap
   * observed) before the version is disabled, counted from the latest of its last use, when it
   * stopped encrypting and when observation began. 0 disables the check, except on a keyring
   * with unmanaged sources, where at least UNMANAGED_MIN_QUIET_SECONDS always applies.
   * @default 7 days
   */
  readonly quietSeconds: number;
  /**
   * Whether a disabled version is destroyed once retention has passed (and nothing references
   * it, its key stayed quiet and a drill verified its escrow). Destruction is opt-in.
   * @default false
   */
  readonly destroyAfterRetention: boolean;
}

/** One version of a keyring. Timestamps are ISO-8601 strings. */
export interface KeyVersion {
  /** Logical version number: 1, 2, 3 ... never reused. */
  readonly version: number;
  readonly state: VersionState;
  /** The version key wrapped by the KeyVault (base64); absent once destroyed. */
  readonly wrappedKey?: string;
  /** Which vault key wrapped it. */
  readonly wrappingKeyId: string;
  readonly createdAt: string;
  readonly activatedAt?: string;
  readonly rotatingAt?: string;
  readonly deprecatedAt?: string;
  readonly disabledAt?: string;
  readonly destroyedAt?: string;
  readonly revokedAt?: string;
  readonly revokedReason?: string;
  /**
   * Who revoked it (the audit actor, e.g. `cli:alice`). Kept, with `revokedAt` and
   * `revokedReason`, when the version later moves on to disabled or destroyed. Absent in
   * catalogs written before it was recorded.
   */
  readonly revokedBy?: string;
  /** When the escrow record of this version was written and last verified by a restore drill. */
  readonly escrowedAt?: string;
  readonly escrowVerifiedAt?: string;
  /** When an operator turned this version from disabled back to deprecated (`rekey reenable`). */
  readonly reenabledAt?: string;
  /** When this version was restored from escrow into the catalog (as deprecated). */
  readonly restoredAt?: string;
}

/**
 * Where a keyring's envelopes live besides the record stores rekey counts. `unmanaged` names
 * holders rekey cannot count ("files", "backups", "replica-db"): their presence means counts
 * alone never prove a version unreferenced (see lifecycle.ts, the quiet period).
 */
export interface CatalogSources {
  /** Declared holders rekey cannot count; empty or absent: every holder is counted. */
  readonly unmanaged: readonly string[];
}

/** Why automatic transitions are paused. */
export interface FreezeInfo {
  readonly reason: string;
  readonly at: string;
  readonly by: string;
}

/** One keyring's catalog document. */
export interface Catalog {
  readonly schema: 1;
  readonly keyring: string;
  /** Incremented by every write; a reader's catalog is stale when a newer generation exists. */
  readonly generation: number;
  readonly policy: KeyringPolicy;
  /** Versions in ascending order. */
  readonly versions: readonly KeyVersion[];
  /** Set while an operator freeze is in force. */
  readonly frozen?: FreezeInfo;
  /** Set while the circuit breaker holds automatic transitions. */
  readonly breaker?: FreezeInfo;
  /** Declared data sources beyond the counted record stores (absent: none declared). */
  readonly sources?: CatalogSources;
  readonly createdAt: string;
  readonly updatedAt: string;
}
