/** The re-encryption engine: records with lazy re-wrap, the background sweep, emergency revocation. */
export { RecordService } from './record-service';
export type { RecordServiceOptions, PutRecordOptions, ReadRecord } from './record-service';
export { Sweeper, MAX_REPORTED_FAILURES } from './sweeper';
export type {
  SweepMode,
  SweepOptions,
  SweepResult,
  SweepProgress,
  SweepFailure,
  SweepFailureReason,
  SweeperOptions,
  RewrapVerification,
  CatalogReader,
  SweepVersionLookup,
} from './sweeper';
export { sweepIdOf } from '../ports/checkpoint-store';
export type { CheckpointStore, SweepCheckpoint } from '../ports/checkpoint-store';
export { TokenBucket, systemClock, systemSleep } from './rate-limiter';
export type { Clock, Sleep, TokenBucketOptions } from './rate-limiter';
export { runBounded } from './bounded';
export { EmergencyRevocation } from './emergency-revocation';
export { DEFAULT_CATALOG_TTL_MS } from '../vocabulary/catalog-cache';
export type {
  EmergencyRevocationOptions,
  RevokeOptions,
  RevocationResult,
  RevocationKeyrings,
  RevocationSweeper,
  RevocationPending,
} from './emergency-revocation';
export { StoreFactsSource } from './store-facts-source';
export type { StoreFactsSourceOptions } from './store-facts-source';
export { rewrapHeader, withHeaderRewrap, hasHeaderRewrap, authenticatedHeaderLength } from './header-rewrap';
export type { HeaderEnvelopeOps, RewrappedHeader } from './header-rewrap';
export { RECORD_ID_CONTEXT_KEY, recordContext, noMetrics } from './dependencies';
export type { EnvelopeOps, VersionLookup, ReencryptMetrics } from './dependencies';
