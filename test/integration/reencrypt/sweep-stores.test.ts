/**
 * The sweep's crash-injection and concurrent-writer properties (test/support/sweep-store-suites.ts)
 * on the stores that live on a server: S3 and DynamoDB on a moto_server that serves one request at a
 * time (moto's threaded server checks a condition and writes without a lock, so two conditional
 * writes at one revision could both win there, which DynamoDB never lets happen), and a real
 * PostgreSQL. Crash points are taken at a stride to keep the run short; the distinct points
 * reached are still asserted.
 */
import { openDynamoDbContractStore } from '../../support/stores/dynamodb';
import { startSerialMoto, type SerialMoto } from '../../support/services';
import { openPostgresContractStore } from '../../support/stores/postgres';
import { openS3ContractStore } from '../../support/stores/s3';
import { describeSweepConcurrency, describeSweepCrashInjection } from '../../support/sweep-store-suites';

let moto: SerialMoto;
beforeAll(async () => {
  moto = await startSerialMoto();
});
afterAll(async () => {
  await moto.stop();
});
const dynamo = () => openDynamoDbContractStore({ endpoint: moto.endpoint });
// The S3 store's scans list and HEAD objects (its memo is per instance): fresh stores per run.
const s3 = () => openS3ContractStore({}, moto.endpoint);

describeSweepCrashInjection('DynamoDbRecordStore', dynamo, { stride: 5, minPoints: 8 });
describeSweepConcurrency('DynamoDbRecordStore', dynamo, { seeds: 4 });
describeSweepCrashInjection('S3RecordStore', s3, { stride: 7, minPoints: 6 });
describeSweepConcurrency('S3RecordStore', s3, { seeds: 3 });
const s3Metadata = () => openS3ContractStore({ layout: 'metadata' }, moto.endpoint);
describeSweepCrashInjection('S3RecordStore, metadata layout', s3Metadata, { stride: 11, minPoints: 4 });
describeSweepConcurrency('S3RecordStore, metadata layout', s3Metadata, { seeds: 3 });
describeSweepCrashInjection('PgRecordStore', openPostgresContractStore, { stride: 3, minPoints: 10 });
describeSweepConcurrency('PgRecordStore', openPostgresContractStore, { seeds: 8 });
