/**
 * DynamoDB request mapping: requests as the installed @aws-sdk/client-dynamodb puts them on the wire
 * (captured by a loopback HTTP server), mapped to IAM checks, and judged by the twin's Authorizer
 * against a least-privilege role policy.
 *
 * Expected actions / resources: "Actions, resources, and condition keys for Amazon DynamoDB"
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html):
 * table ARN `arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}`, index ARN
 * `.../table/${TableName}/index/${IndexName}`; TransactWriteItems authorizes the per-item actions
 * (dynamodb:ConditionCheckItem / PutItem / UpdateItem / DeleteItem).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbRecordStore } from '../../../shared/adapters/aws/dynamodb-record-store';
import { createRecordTable } from '../../../shared/adapters/aws/dynamodb-record-table';
import { Authorizer } from '../authz/authorize';
import { startPrivateMoto, type PrivateMoto } from '../moto';
import { startTwinProxy, type TwinProxy } from '../proxy';
import type { AuthzRequest } from '../authz/types';
import { externalRole, TwinWorld } from '../world';
import { mapRequest, type RawHttpRequest } from './index';

const world = new TwinWorld();
const tableArnOf = (t: string): string => `arn:${world.partition}:dynamodb:${world.region}:${world.account}:table/${t}`;
const TABLE = 'app-records';
const OTHER = 'app-audit';
const INDEX = 'byOrigin';

// The policy a team would write for the reencrypt path: items of one table, plus Query on its index only.
const app = externalRole(world, 'dynamo-app', [
  {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:DescribeTable'], Resource: tableArnOf(TABLE) },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: `${tableArnOf(TABLE)}/index/${INDEX}` },
    ],
  },
]);
world.roles.set(app.arn, app);
const authz = new Authorizer(world, { grantsFor: () => Promise.resolve([]), invalidate: () => undefined });

let server: Server;
let client: DynamoDBClient;
const captured: RawHttpRequest[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      captured.push({ method: req.method ?? 'POST', path: url.pathname, query: url.search.replace(/^\?/, ''), headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: world.region, credentials: { accessKeyId: app.accessKeyId, secretAccessKey: app.secretAccessKey }, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Sends `command` with the real SDK and maps the request it put on the wire. */
async function mapped(command: object): Promise<ReturnType<typeof mapRequest>> {
  captured.length = 0;
  await client.send(command as Parameters<DynamoDBClient['send']>[0]).catch(() => undefined); // the stub's `{}` may not satisfy every output shape
  const raw = captured[0];
  if (raw === undefined) throw new Error('no request captured');
  return mapRequest(world, raw);
}

const decide = (r: AuthzRequest) => authz.authorize(r);
const key = { pk: { S: 'a' } };

describe('DynamoDB requests → IAM checks (JSON 1.0, X-Amz-Target DynamoDB_20120810.<Op>)', () => {
  it.each([
    ['GetItem', new GetItemCommand({ TableName: TABLE, Key: key })],
    ['PutItem', new PutItemCommand({ TableName: TABLE, Item: key })],
    ['UpdateItem', new UpdateItemCommand({ TableName: TABLE, Key: key, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: 'x' } } })],
    ['DeleteItem', new DeleteItemCommand({ TableName: TABLE, Key: key })],
    ['DescribeTable', new DescribeTableCommand({ TableName: TABLE })],
    ['DeleteTable', new DeleteTableCommand({ TableName: TABLE })],
    ['Scan', new ScanCommand({ TableName: TABLE })],
    ['Query', new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'a' } } })],
  ])('%s: dynamodb:<Op> on the table ARN, signed for service dynamodb', async (op, command) => {
    const req = await mapped(command);
    expect(req.service).toBe('dynamodb');
    expect(req.protocol).toBe('json-1.0');
    expect(req.operation).toBe(op);
    expect(req.principal).toEqual({ kind: 'role', arn: app.arn });
    expect(req.authz.map((c) => [c.action, c.resource])).toEqual([[`dynamodb:${op}`, tableArnOf(TABLE)]]);
  });

  it('CreateTable names the table it creates', async () => {
    const req = await mapped(new CreateTableCommand({ TableName: OTHER, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    expect(req.authz.map((c) => [c.action, c.resource])).toEqual([['dynamodb:CreateTable', tableArnOf(OTHER)]]);
  });

  it('Query and Scan with IndexName are authorized on the index ARN', async () => {
    const q = await mapped(new QueryCommand({ TableName: TABLE, IndexName: INDEX, KeyConditionExpression: 'o = :o', ExpressionAttributeValues: { ':o': { N: '1' } }, Select: 'ALL_PROJECTED_ATTRIBUTES' }));
    expect(q.authz.map((c) => [c.action, c.resource])).toEqual([['dynamodb:Query', `${tableArnOf(TABLE)}/index/${INDEX}`]]);
    expect(q.authz[0]?.context?.['dynamodb:Select']).toBe('ALL_PROJECTED_ATTRIBUTES');
    const s = await mapped(new ScanCommand({ TableName: TABLE, IndexName: INDEX, Segment: 0, TotalSegments: 4 }));
    expect(s.authz.map((c) => [c.action, c.resource])).toEqual([['dynamodb:Scan', `${tableArnOf(TABLE)}/index/${INDEX}`]]);
  });

  it('ReturnValues is a condition key', async () => {
    const req = await mapped(new PutItemCommand({ TableName: TABLE, Item: key, ReturnValues: 'ALL_OLD' }));
    expect(req.authz[0]?.context?.['dynamodb:ReturnValues']).toBe('ALL_OLD');
  });

  it('BatchGetItem and BatchWriteItem: one check per table in RequestItems', async () => {
    const g = await mapped(new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: [key] }, [OTHER]: { Keys: [key] } } }));
    expect(g.authz.map((c) => [c.action, c.resource]).sort()).toEqual([['dynamodb:BatchGetItem', tableArnOf(OTHER)], ['dynamodb:BatchGetItem', tableArnOf(TABLE)]]);
    const w = await mapped(new BatchWriteItemCommand({ RequestItems: { [TABLE]: [{ PutRequest: { Item: key } }] } }));
    expect(w.authz.map((c) => [c.action, c.resource])).toEqual([['dynamodb:BatchWriteItem', tableArnOf(TABLE)]]);
  });

  it('TransactWriteItems: the per-item actions on each item table', async () => {
    const req = await mapped(
      new TransactWriteItemsCommand({
        TransactItems: [
          { ConditionCheck: { TableName: TABLE, Key: key, ConditionExpression: 'attribute_exists(pk)' } },
          { Put: { TableName: TABLE, Item: { pk: { S: 'b' } } } },
          { Update: { TableName: OTHER, Key: key, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: 'x' } } } },
          { Delete: { TableName: TABLE, Key: { pk: { S: 'c' } } } },
        ],
      }),
    );
    expect(req.authz.map((c) => [c.action, c.resource])).toEqual([
      ['dynamodb:ConditionCheckItem', tableArnOf(TABLE)],
      ['dynamodb:PutItem', tableArnOf(TABLE)],
      ['dynamodb:UpdateItem', tableArnOf(OTHER)],
      ['dynamodb:DeleteItem', tableArnOf(TABLE)],
    ]);
  });
});

describe('the Authorizer on DynamoDB checks (identity policy, table vs index ARN)', () => {
  it('allows item operations and index Query the policy grants', async () => {
    for (const command of [new GetItemCommand({ TableName: TABLE, Key: key }), new QueryCommand({ TableName: TABLE, IndexName: INDEX, KeyConditionExpression: 'o = :o', ExpressionAttributeValues: { ':o': { N: '1' } } })]) {
      const req = await mapped(command);
      for (const check of req.authz) expect(await decide(check)).toMatchObject({ allowed: true });
    }
  });

  it('denies a Query on the base table when only the index is granted, and items of another table', async () => {
    const base = await mapped(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'a' } } }));
    expect(await decide(base.authz[0]!)).toMatchObject({ allowed: false });
    const scan = await mapped(new ScanCommand({ TableName: TABLE, IndexName: INDEX }));
    expect(await decide(scan.authz[0]!)).toMatchObject({ allowed: false });
    const tx = await mapped(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: TABLE, Item: key } }, { Put: { TableName: OTHER, Item: key } }] }));
    const verdicts = await Promise.all(tx.authz.map(decide));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, false]);
  });
});

describe('DynamoDB through the twin proxy to moto (the product store as an application role)', () => {
  // A private moto_server and the twin's real proxy: requests forwarded byte-for-byte after authorization.
  let moto: PrivateMoto;
  let proxy: TwinProxy;
  let admin: DynamoDBClient;
  const proxyWorld = new TwinWorld();
  const STORE_TABLE = 'team-records';
  const storeTable = `arn:${proxyWorld.partition}:dynamodb:${proxyWorld.region}:${proxyWorld.account}:table/${STORE_TABLE}`;
  const itemActions = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem'];
  const full = externalRole(proxyWorld, 'team-full', [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: itemActions, Resource: storeTable }, { Effect: 'Allow', Action: 'dynamodb:Query', Resource: `${storeTable}/index/*` }] }]);
  const noIndex = externalRole(proxyWorld, 'team-no-index', [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: [...itemActions, 'dynamodb:Query'], Resource: storeTable }] }]);
  for (const r of [full, noIndex]) proxyWorld.roles.set(r.arn, r);
  const clients: DynamoDBClient[] = [];
  const storeAs = (role: typeof full): DynamoDbRecordStore => {
    const client = new DynamoDBClient({ endpoint: proxy.url, region: proxyWorld.region, credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey }, maxAttempts: 1 });
    clients.push(client);
    return new DynamoDbRecordStore({ client, tableName: STORE_TABLE });
  };

  beforeAll(async () => {
    moto = await startPrivateMoto();
    admin = new DynamoDBClient({ endpoint: moto.url, region: proxyWorld.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await createRecordTable(admin, STORE_TABLE, { pollMs: 20 });
    proxy = await startTwinProxy({ world: proxyWorld, motoUrl: moto.url, authorizer: new Authorizer(proxyWorld, { grantsFor: () => Promise.resolve([]), invalidate: () => undefined }) });
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    admin?.destroy();
    await proxy?.close();
    await moto?.stop();
  });

  const envelope = (version: number): Buffer => Buffer.from(`not-an-envelope-${version}`);

  it('writes, reads and counts records as a role granted the table and its indexes; the log shows each action', async () => {
    const store = storeAs(full);
    await store.put({ id: 'r-1', keyring: 'pii', version: 1, envelope: envelope(1) }, null);
    await store.put({ id: 'r-2', keyring: 'pii', version: 1, envelope: envelope(1) }, null);
    expect((await store.get('r-1'))?.envelope.equals(envelope(1))).toBe(true);
    expect(await store.countByVersion('pii')).toEqual(new Map([[1, 2]]));
    const log = proxyWorld.requestLog.filter((r) => r.caller === full.arn);
    expect(log.every((r) => r.allowed)).toBe(true);
    expect(new Set(log.map((r) => r.action))).toEqual(new Set(['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query']));
    for (const r of log.filter((x) => x.action === 'dynamodb:Query')) expect(r.resources.every((a) => a.startsWith(`${storeTable}/index/`))).toBe(true);
  });

  it('refuses the index Query of a role granted only the table ARN, as AccessDenied the store reports', async () => {
    const store = storeAs(noIndex);
    expect((await store.get('r-1'))?.version).toBe(1);
    await expect(store.countByVersion('pii')).rejects.toMatchObject({ name: 'AccessDeniedError' });
    const denied = proxyWorld.requestLog.filter((r) => r.caller === noIndex.arn && !r.allowed);
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.every((r) => r.action === 'dynamodb:Query' && r.resources.every((a) => a.startsWith(`${storeTable}/index/`)))).toBe(true);
  });
});
