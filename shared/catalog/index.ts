/** The key-version lifecycle: pure state machine, invariants, policy, and the KeyringService reconciler. */
export type { Catalog, CatalogSources, FreezeInfo, KeyringPolicy, KeyVersion, VersionState } from './model';
export { parseDuration, formatDuration, MAX_DURATION_SECONDS } from '../vocabulary/duration';
export { DEFAULT_POLICY, UNMANAGED_MIN_QUIET_SECONDS, validateKeyringName, validatePolicy, resolvePolicy, parsePolicy, withPolicyDefaults } from './policy';
export { FILES_SOURCE, normalizeUnmanaged, parseUnmanagedList, unmanagedSources } from './sources';
export { outlookOf, effectiveQuietSeconds, isDueNow, formatApprox } from './version-outlook';
export type { VersionOutlook, NextStep } from './version-outlook';
export { forecastTransitions } from './forecast';
export type { ForecastStep } from './forecast';
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
  setSources,
  SUPERSEDED_REASON_PREFIX,
} from './lifecycle';
export type { NewVersionKey, LifecycleFacts, KeyUseFacts, PlannedTransition, Transition, FactRequest } from './lifecycle';
export { checkInvariants } from './invariants';
export { parseCatalog } from './catalog-schema';
export type { FactsSource, KeyUseObservation, ReferenceCounts } from '../ports/facts-source';
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
  ReenableResult,
  SourcesResult,
} from './keyring-service';
export { provisionKeyring } from './provision-keyring';
export type { ProvisionOutcome, ProvisionResult } from './provision-keyring';
