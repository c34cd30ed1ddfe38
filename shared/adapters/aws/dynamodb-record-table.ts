/**
 * The DynamoDB table of {@link DynamoDbRecordStore}, as data: one definition that the store's
 * tests, the benchmarks, the docs and the CDK construct all build from, so that the indexes the
 * store queries are the indexes the table has.
 *
 * One item per record, partition key `id`. Two global secondary indexes, both partitioned by
 * `keyring`: `rekey-by-version` sorted by `vsk` (`<version, 10 digits>#<id>`) and
 * `rekey-by-origin` sorted by `osk` (`<origin version, 10 digits>#<id>`). They project only
 * `ver`, `origin` and `rev` besides the keys, never the envelope (`h`, `b`): a scan or a count
 * reads and pays for index entries of a few dozen bytes, whatever the record size.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { BackendError } from '../../errors';
import { mapAwsError } from './map-aws-error';

// The index names live in the vocabulary: the stack grants Query on exactly their ARNs.
import { ORIGIN_INDEX, VERSION_INDEX } from '../../vocabulary/record-table-indexes';

export { ORIGIN_INDEX, VERSION_INDEX };

/**
 * The non-key attributes both indexes carry: what a RecordRef needs besides id and keyring.
 *
 * @example
 * INDEX_PROJECTED_ATTRIBUTES.includes('rev'); // true: a scan hands out revisions for conditional writes
 */
export const INDEX_PROJECTED_ATTRIBUTES: readonly string[] = Object.freeze(['ver', 'origin', 'rev']);

/**
 * The table definition without its name (a CreateTable input).
 *
 * @example
 * const definition: RecordTableDefinition = structuredClone(RECORD_TABLE_DEFINITION);
 */
export type RecordTableDefinition = Omit<CreateTableCommandInput, 'TableName'>;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The record table: key schema, attribute definitions, both indexes and on-demand billing.
 * Frozen: copy it (`structuredClone`) before changing anything for a deployment.
 *
 * @example
 * await client.send(new CreateTableCommand({ ...structuredClone(RECORD_TABLE_DEFINITION), TableName: 'rekey-records' }));
 */
export const RECORD_TABLE_DEFINITION: RecordTableDefinition = deepFreeze({
  KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
  AttributeDefinitions: [
    { AttributeName: 'id', AttributeType: 'S' },
    { AttributeName: 'keyring', AttributeType: 'S' },
    { AttributeName: 'vsk', AttributeType: 'S' },
    { AttributeName: 'osk', AttributeType: 'S' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: VERSION_INDEX,
      KeySchema: [
        { AttributeName: 'keyring', KeyType: 'HASH' },
        { AttributeName: 'vsk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] },
    },
    {
      IndexName: ORIGIN_INDEX,
      KeySchema: [
        { AttributeName: 'keyring', KeyType: 'HASH' },
        { AttributeName: 'osk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] },
    },
  ],
  BillingMode: 'PAY_PER_REQUEST',
} satisfies RecordTableDefinition);

/**
 * Options of {@link createRecordTable}.
 *
 * @example
 * await createRecordTable(client, 'rekey-records', { timeoutMs: 300_000 });
 */
export interface CreateRecordTableOptions {
  /** Longest wait for the table and its indexes to become ACTIVE, in ms. @default 120000 */
  readonly timeoutMs?: number;
  /** Pause between two DescribeTable calls, in ms. @default 500 */
  readonly pollMs?: number;
}

/**
 * Creates the record table and waits until the table and both of its indexes are ACTIVE (a
 * Query on an index that is still CREATING fails).
 *
 * @example
 * await createRecordTable(new DynamoDBClient({}), 'rekey-records');
 */
export async function createRecordTable(client: DynamoDBClient, tableName: string, options: CreateRecordTableOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pollMs = options.pollMs ?? 500;
  try {
    await client.send(new CreateTableCommand({ ...structuredClone(RECORD_TABLE_DEFINITION), TableName: tableName }));
  } catch (err) {
    throw mapAwsError(err, 'dynamodb:CreateTable');
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let active: boolean;
    try {
      const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      active = table?.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE');
    } catch (err) {
      throw mapAwsError(err, 'dynamodb:DescribeTable');
    }
    if (active) return;
    if (Date.now() > deadline) throw new BackendError(`DynamoDB table ${tableName} did not become ACTIVE within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
