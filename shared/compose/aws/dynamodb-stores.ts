/**
 * The DynamoDB stores a service set adds: one DynamoDbRecordStore per configured table target,
 * and the record counts of S3 and table targets summed per keyring.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbRecordStore } from '../../adapters/aws/dynamodb-record-store';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';
import type { RekeyConfig } from '../../config/load-config';
import type { TableTargetStore } from '../../ports/table-target-store';
import type { TargetStore } from '../../ports/target-store';
import { censusCounted, type CensusCountedOptions } from './census-counts';
import { recordCounts } from './s3-stores';

/** Options of {@link buildTableTargets}. */
export interface TableTargetsOptions {
  /** @default a client with the functions' SDK timeouts, in the configured region */
  readonly client?: DynamoDBClient;
}

/**
 * One record store per configured table target, over one DynamoDB client (created only when
 * there is a table target, so functions without one never build it).
 *
 * @example
 * const tables = buildTableTargets(config); // [{ target: { keyring, table, segments }, store }]
 */
export function buildTableTargets(config: RekeyConfig, options: TableTargetsOptions = {}): TableTargetStore[] {
  const targets = config.tableTargets ?? [];
  if (targets.length === 0) return [];
  const client = options.client ?? newSdkClient(DynamoDBClient, config.region === undefined ? {} : { region: config.region }, FUNCTION_SDK_TIMEOUTS);
  return targets.map((target) => ({ target, store: new DynamoDbRecordStore({ client, tableName: target.table }) }));
}

/**
 * Record counts of a keyring summed over its S3 and table targets: what the lifecycle facts
 * (grace period, revocation) read, so a version is not "empty" while a table still holds it.
 * With `census`, S3 targets are counted from their census where it is usable
 * (./census-counts.ts); tables always from their version index.
 *
 * @example
 * const records = allRecordCounts(buildRecordTargets(core), buildTableTargets(config), censusOptions(core));
 * await records.countByVersion('pii'); // Map { 3 => 120, 4 => 9 }
 */
export function allRecordCounts(
  s3Targets: readonly TargetStore[],
  tableTargets: readonly TableTargetStore[],
  census?: CensusCountedOptions,
): { countByVersion(keyring: string): Promise<Map<number, number>> } {
  return recordCounts([...(census === undefined ? s3Targets : censusCounted(s3Targets, census)), ...tableTargets]);
}
