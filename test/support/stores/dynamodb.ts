/**
 * The DynamoDB record store for the record-store contract and the sweep, crash and benchmark
 * suites: a fresh table (unique name) on moto_server, created from RECORD_TABLE_DEFINITION, and
 * a peer store with its own client (another process would hold its own connection pool the
 * same way).
 *
 * Races need startSerialMoto (test/support/services.ts): moto checks a ConditionExpression and then writes the item
 * in two steps without a lock, and the moto_server of jest's globalSetup serves requests on
 * many threads, so two conditional writes at the same revision can both pass their check there
 * (seen in this suite: a header UpdateItem and a PutItem both succeeding). DynamoDB itself
 * applies each item write atomically; a moto_server that serves one request at a time gives
 * the same per-item guarantee while both clients still have their requests in flight together.
 */
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbRecordStore } from '../../../shared/adapters/aws/dynamodb-record-store';
import { createRecordTable } from '../../../shared/adapters/aws/dynamodb-record-table';
import type { ContractHandle } from '../record-store-contract';


const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/**
 * A DynamoDB client for moto (`endpoint`, by default REKEY_TEST_MOTO_URL; us-east-1, static
 * fake credentials).
 *
 * @example
 * const client = motoDynamoDb();
 */
export function motoDynamoDb(endpoint: string | undefined = process.env.REKEY_TEST_MOTO_URL): DynamoDBClient {
  if (endpoint === undefined) throw new Error('REKEY_TEST_MOTO_URL is not set: run through jest (globalSetup starts moto_server)');
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
}

/**
 * Opens a fresh DynamoDB record table on moto (`endpoint`, by default REKEY_TEST_MOTO_URL), a
 * store on it and a peer store with its own client; close() deletes the table and destroys
 * both clients. Suites that race the two clients should pass a startSerialMoto endpoint (../services).
 *
 * @example
 * const { store, peer, client, tableName, close } = await openDynamoDbContractStore();
 */
export async function openDynamoDbContractStore(
  options: { concurrency?: number; endpoint?: string } = {},
): Promise<ContractHandle & { store: DynamoDbRecordStore; peer: DynamoDbRecordStore; client: DynamoDBClient; tableName: string }> {
  const client = motoDynamoDb(options.endpoint);
  const peerClient = motoDynamoDb(options.endpoint);
  const tableName = `rekey-records-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  await createRecordTable(client, tableName, { pollMs: 50 });
  const store = new DynamoDbRecordStore({ client, tableName, ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }) });
  const peer = new DynamoDbRecordStore({ client: peerClient, tableName });
  return {
    store,
    peer,
    client,
    tableName,
    close: async () => {
      try {
        await client.send(new DeleteTableCommand({ TableName: tableName }));
      } finally {
        client.destroy();
        peerClient.destroy();
      }
    },
  };
}
