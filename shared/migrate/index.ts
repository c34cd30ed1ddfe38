/**
 * Migration of existing data into rekey: plaintext records, and AWS Encryption SDK messages the
 * caller can decrypt, rewritten in place as rekey envelopes (conditional writes, verified before
 * replace, resumable).
 */
export { migrateRecords, MAX_REPORTED_MIGRATION_FAILURES } from './migrate-records';
export type {
  MigrateRecordsOptions,
  MigrationCounts,
  MigrationFailure,
  MigrationFailureReason,
  MigrationProgress,
  MigrationReport,
  MigrationSource,
} from './migrate-records';
export { classifyRecord } from './classify';
export type { RecordKind } from './classify';
export { probeEsdkHeader, ESDK_HEADER_LIMITS } from './esdk-header';
export type { EsdkProbe } from './esdk-header';
export type { MigratedWrite, MigrationEnvelopes, MigrationStore, RawRecord, RawRecordPage, SourceDecrypted, SourceDecryptor } from './migration-ports';
export { RecordStoreMigrationStore } from './record-store-migration-store';
export type { RecordStoreMigrationStoreOptions } from './record-store-migration-store';
export { S3MigrationStore } from './s3-migration-store';
export type { S3MigrationStoreOptions } from './s3-migration-store';
export { createEsdkDecryptor } from './esdk-decryptor';
export type { EsdkDecryptorOptions, EsdkKmsKeyringSpec, EsdkRawAesKeyringSpec } from './esdk-decryptor';
export { FileCheckpointStore } from './file-checkpoint-store';
