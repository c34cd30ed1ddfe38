/**
 * Names of the CloudWatch metrics rekey publishes (namespace {@link METRIC_NAMESPACE}), shared
 * by the functions that emit them, the circuit breaker that reads them and the stack's alarms
 * and dashboard.
 */

/** The CloudWatch namespace of every rekey metric. */
export const METRIC_NAMESPACE = 'Rekey';

/** Metric names; dimensions are `keyring` and, where the metric is per version, `version`. */
export const METRIC = {
  /** Envelopes that failed to decrypt (per version). Read by the circuit breaker. */
  decryptFailures: 'DecryptFailures',
  /** Envelopes a worker tried to decrypt or re-wrap (per version); the breaker's denominator. */
  decryptAttempts: 'DecryptAttempts',
  /** Records stored under each version. */
  recordsByVersion: 'RecordsByVersion',
  /** Cache entries indexed under each version. */
  cacheEntriesByVersion: 'CacheEntriesByVersion',
  /** Age in seconds of the oldest version still referenced by a record or cache entry. */
  oldestReferencedVersionAge: 'OldestReferencedVersionAge',
  /** Sweep items re-wrapped or re-encrypted. */
  sweepDone: 'SweepItemsDone',
  /** Sweep items skipped (already at the active version, gone). */
  sweepSkipped: 'SweepItemsSkipped',
  /** Sweep items that failed. */
  sweepFailed: 'SweepItemsFailed',
  /** Result of the escrow restore drill: number of versions that failed (0 = success). */
  escrowDrillFailures: 'EscrowDrillFailures',
  /** Version keys archived to escrow. */
  escrowArchived: 'EscrowVersionsArchived',
  /** Calls made to KMS during one invocation. */
  kmsCalls: 'KmsCalls',
  /** Pending versions created by rotation. */
  versionsCreated: 'VersionsCreated',
  /** Lifecycle transitions applied by a reconciler. */
  transitionsApplied: 'TransitionsApplied',
  /** 1 while the circuit breaker holds a keyring's automatic transitions, else 0. */
  breakerTripped: 'BreakerTripped',
  /** Cache entries dropped by invalidation. */
  cacheEntriesInvalidated: 'CacheEntriesInvalidated',
  /** Invocations that ended in a non-retryable failure (dimension `code`). */
  handlerFailures: 'HandlerFailures',
} as const;
