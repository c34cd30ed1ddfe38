/** The key-version lifecycle: pure state machine, invariants, policy, and the KeyringService reconciler. */
export type { Catalog, FreezeInfo, KeyringPolicy, KeyVersion, VersionState } from './model';
export { parseDuration, formatDuration, MAX_DURATION_SECONDS } from '../vocabulary/duration';
export { DEFAULT_POLICY, validateKeyringName, validatePolicy, resolvePolicy, parsePolicy } from './policy';
export type { PolicyDurations } from './policy';
export {
  createCatalog,
  planTransitions,
  applyTransition,
  factsNeeded,
  canDecrypt,
  isPaused,
  nextVersion,
  activeVersion,
  pendingVersion,
  setHold,
  setEscrow,
  setPolicy,
  SUPERSEDED_REASON_PREFIX,
} from './lifecycle';
export type { NewVersionKey, LifecycleFacts, PlannedTransition, Transition, FactRequest } from './lifecycle';
export { checkInvariants } from './invariants';
export { parseCatalog } from './catalog-schema';
export type { FactsSource, ReferenceCounts } from '../ports/facts-source';
export { referencesOf } from './reference-counts';
export { KeyringService } from './keyring-service';
export type {
  KeyringServiceOptions,
  RotateResult,
  RevokeResult,
  KeyringTickResult,
  TickSummary,
  TickFailure,
  PolicyUpdateResult,
  ReconcileOptions,
  ReconcileSummary,
  KeyringReconcileResult,
  BreakerCheck,
  BreakerOutcome,
} from './keyring-service';
export { provisionKeyring } from './provision-keyring';
export type { ProvisionOutcome, ProvisionResult } from './provision-keyring';
