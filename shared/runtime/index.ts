/**
 * Runtime wiring of rekey on AWS: configuration to services, the Middy handler shape and its
 * middleware, logging with redaction, EMF metrics, audit sinks, the circuit breaker, and the
 * jobs the Lambda functions run.
 */
export { buildAwsServices } from './build-aws-services';
export type { AwsClients, BuildAwsServicesOptions } from './build-aws-services';
export type { RekeyServices, FunctionServices } from './rekey-services';
export { buildAwsCore } from './services/aws-core';
export type { AwsCore } from './services/aws-core';
export { buildAwsCache } from './services/aws-cache';
export type { AwsCache } from './services/aws-cache';
export { NoLifecycleFacts } from './services/no-lifecycle-facts';
export { buildRotateServices } from './services/rotate-services';
export { buildGracePeriodServices } from './services/grace-period-services';
export { buildReencryptServices } from './services/reencrypt-services';
export { buildCacheInvalidateServices } from './services/cache-invalidate-services';
export { buildEscrowServices } from './services/escrow-services';
export { buildRevokeServices } from './services/revoke-services';
export { createHandler, defaultHandlerDeps } from './create-handler';
export type { CreateHandlerOptions, HandlerDeps, JobContext, ServicesBuilder } from './create-handler';
export { validateEvent } from './middleware/validate-event';
export type { ValidateEventOptions } from './middleware/validate-event';
export { mapErrors, toHandlerFailure } from './middleware/map-errors';
export type { HandlerFailure, MapErrorsOptions, ErrorLogger } from './middleware/map-errors';
export { formatIssues } from './middleware/format-issues';
export { createLogger } from './create-logger';
export type { CreateLoggerOptions } from './create-logger';
export { REDACTED, redactingReplacer, redactValue, isSecretName } from './redact';
export { sanitizeAuditEvent } from './sanitize-audit-event';
export { PowertoolsMetricsPublisher } from './rekey-metrics';
export type { MetricsPublisher, MetricDimensions, RekeyMetricUnit } from './rekey-metrics';
export { METRIC, METRIC_NAMESPACE } from './metric-names';
export { DecryptMetrics, UNPARSEABLE } from './decrypt-metrics';
export { EventBridgeAuditSink } from './eventbridge-audit-sink';
export type { EventBridgeAuditSinkOptions } from './eventbridge-audit-sink';
export { LoggerAuditSink } from './logger-audit-sink';
export { CompositeAuditSink } from './composite-audit-sink';
export { decideBreaker, rotationUnderWay, BREAKER_DEFAULTS } from './circuit-breaker';
export type { BreakerDecision, BreakerPolicy, DecryptFacts } from './circuit-breaker';
export type { BreakerFactsSource } from './breaker-facts-source';
export { CloudWatchBreakerFacts } from './cloudwatch-breaker-facts';
export { SfnSweepStarter, sweepExecutionName } from './sfn-sweep-starter';
export type { SweepExecutionInput, SweepStartResult } from './sfn-sweep-starter';
export { TargetSweeper } from './target-sweeper';
export type { TargetStore, TargetSweeperOptions } from './target-sweeper';
export { ItemRecordView } from './item-record-view';
export { LazyCacheStore } from './lazy-cache-store';
export { MemoryCheckpointStore } from './memory-checkpoint-store';
export { countCalls } from './kms-call-counter';
export type { CallCounter } from './kms-call-counter';
export { mapAwsError } from './map-aws-error';
export {
  keyringName,
  versionNumber,
  bucketName,
  keyPrefix,
  objectKey,
  kmsKeyArn,
  stateMachineArn,
  reasonText,
  actorText,
  KEYRING_NAME_MAX,
} from './names';
export {
  rotateEventSchema,
  gracePeriodEventSchema,
  reencryptEventSchema,
  mapBatchEventSchema,
  s3BatchEventSchema,
  cacheInvalidateEventSchema,
  escrowEventSchema,
  revokeEventSchema,
  REVOKE_SOURCE,
  REVOKE_DETAIL_TYPE,
  MAX_BATCH_ITEMS,
  MAX_KEYRINGS_PER_EVENT,
} from './event-schemas';
export type { RotateEvent, GracePeriodEvent, ReencryptEvent, MapBatchEvent, S3BatchEvent, CacheInvalidateEvent, EscrowEvent, RevokeEvent } from './event-schemas';
export { runRotate } from './jobs/rotate-job';
export type { RotateServices } from './jobs/rotate-job';
export type { GracePeriodServices } from './jobs/grace-period-job';
export type { ReencryptServices } from './jobs/reencrypt-job';
export type { CacheInvalidateServices } from './jobs/cache-invalidate-job';
export type { EscrowServices } from './jobs/escrow-job';
export type { RevokeServices } from './jobs/revoke-job';
export { runGracePeriod, BREAKER_WINDOW_SECONDS } from './jobs/grace-period-job';
export { runReencrypt } from './jobs/reencrypt-job';
export { runCacheInvalidate } from './jobs/cache-invalidate-job';
export { runEscrow } from './jobs/escrow-job';
export { runRevoke } from './jobs/revoke-job';
