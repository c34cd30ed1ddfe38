/**
 * The DynamoDB record store for the record-store contract and the sweep, crash and benchmark
 * suites: a fresh table (unique name) on moto_server, created from RECORD_TABLE_DEFINITION, and
 * a peer store with its own client (another process would hold its own connection pool the
 * same way).
 *
 * Races need {@link startSerialMoto}: moto checks a ConditionExpression and then writes the item
 * in two steps without a lock, and the moto_server of jest's globalSetup serves requests on
 * many threads, so two conditional writes at the same revision can both pass their check there
 * (seen in this suite: a header UpdateItem and a PutItem both succeeding). DynamoDB itself
 * applies each item write atomically; a moto_server that serves one request at a time gives
 * the same per-item guarantee while both clients still have their requests in flight together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbRecordStore } from '../../../shared/adapters/aws/dynamodb-record-store';
import { createRecordTable } from '../../../shared/adapters/aws/dynamodb-record-table';
import type { ContractHandle } from '../record-store-contract';
import { freePort } from '../services';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

// moto's own server entry point (moto/server.py main) with threaded=False.
const SERIAL_MOTO = [
  'import sys',
  'from werkzeug.serving import run_simple',
  'from moto.server import DomainDispatcherApplication, create_backend_app',
  "run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)",
].join('\n');

/** A moto_server this suite started, and how to stop it. */
export interface SerialMoto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts a moto_server that serves one request at a time (see the module comment: what makes
 * moto's conditional writes atomic per item, as DynamoDB's are), on a free loopback port.
 *
 * @example
 * const moto = await startSerialMoto();
 * const h = await openDynamoDbContractStore({ endpoint: moto.endpoint });
 * await h.close();
 * await moto.stop();
 */
export async function startSerialMoto(): Promise<SerialMoto> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-c', SERIAL_MOTO, String(port)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failed: Error | undefined;
  child.once('error', (err) => {
    failed = err;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    if (failed !== undefined || child.exitCode !== null) throw new Error(`moto_server (serial) did not start: ${failed?.message ?? `exit ${String(child.exitCode)}`}`);
    const up = await fetch(`${endpoint}/moto-api/`).then((r) => r.status < 500, () => false);
    if (up) break;
    if (attempt >= 300) {
      child.kill();
      throw new Error('moto_server (serial) did not answer within 30 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

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
 * both clients. Suites that race the two clients should pass a {@link startSerialMoto} endpoint.
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
