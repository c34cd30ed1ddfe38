/**
 * Set-up of the DynamoDB record-target scenarios: the stack deployed with one table target
 * (`tableTargets: [{ keyring: 'pii', table, segments }]`, /tmp/h/h5a.md item 1), the application
 * team's record table (created from RECORD_TABLE_DEFINITION, as the team would before `cdk deploy`),
 * an application role whose identity policy is the one a team writes for its own table, the
 * operator role of docs/deploy.md "10. Operator roles", and the on-call inbox subscribed to the
 * alarm topic.
 *
 * Order: the twin's moto only exists once the stack is stood up, so the table is created right
 * after stand-up and before any record is written or any schedule runs: no part of the stack
 * touches the table in between (the stand-up creates no item and no sweep runs at t=0).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { KmsKeyVault } from '../../../shared/adapters/aws/kms-key-vault';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import { DynamoDbRecordStore } from '../../../shared/adapters/aws/dynamodb-record-store';
import { createRecordTable, ORIGIN_INDEX, VERSION_INDEX } from '../../../shared/adapters/aws/dynamodb-record-table';
import type { Catalog } from '../../../shared/catalog/model';
import { EnvelopeClient } from '../../../shared/envelope/envelope-client';
import { CatalogKeyProvider } from '../../../shared/keys/catalog-key-provider';
import { RecordService } from '../../../shared/reencrypt/record-service';
import { roleClientConfig } from '../application';
import { canAlarmFire } from '../drivers/alarms';
import { Twin } from '../twin';
import { TWIN_ACCOUNT, TWIN_PARTITION, TWIN_REGION, type PolicyDocument, type TwinRole } from '../world';
import { alarmMetrics, alarmOf, cadenceOf, emittedPoints } from './faults-support';
import { catalogReader, subscribeOncallInbox } from './support/oncall';
import { APP_ROLE, OPERATOR_ROLE, operatorPolicyFromDoc, revocationContext } from './revocation-setup';

/** The application team's record table (keyring pii). @example tableArn(RECORD_TABLE) */
export const RECORD_TABLE = 'example-orders-table';
/** Parallel-scan segments of the table target (the map fans out over [0..SEGMENTS-1]). @example Array.from({ length: SEGMENTS }, (_, i) => i) */
export const SEGMENTS = 4;

const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/**
 * `arn:aws:dynamodb:<region>:<account>:table/<name>` ("Actions, resources, and condition keys for Amazon DynamoDB", resource type `table`).
 *
 * @example tableArn('orders') // 'arn:aws:dynamodb:us-east-1:<twin account>:table/orders'
 */
export function tableArn(table: string): string {
  return `arn:${TWIN_PARTITION}:dynamodb:${TWIN_REGION}:${TWIN_ACCOUNT}:table/${table}`;
}

/**
 * The identity policy an application team writes for its own record table: item reads and
 * conditional writes on the table, Query on the store's two indexes (counts), nothing else.
 *
 * @example tableAppPolicy('orders').Statement.length // 2
 */
export function tableAppPolicy(table: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem'], Resource: tableArn(table) },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: [`${tableArn(table)}/index/${VERSION_INDEX}`, `${tableArn(table)}/index/${ORIGIN_INDEX}`] },
    ],
  };
}

/** The application on a table: the product's RecordService over DynamoDbRecordStore, every call as its role. @example (await app.records.get('order-1')).plaintext */
export interface TableApplication {
  readonly records: RecordService;
  readonly envelopes: EnvelopeClient;
  readonly store: DynamoDbRecordStore;
  /** A fresh instance (no cached catalog or key). */
  restart(): TableApplication;
  close(): void;
}

/**
 * Opens the application's services as `role` through the twin's proxy, on the simulated clock.
 *
 * @example
 * const app = openTableApplication(twin, twin.role('orders-app'), 'orders');
 * await app.records.put('order-1', 'pii', Buffer.from('4111'));
 */
export function openTableApplication(twin: Twin, role: TwinRole, table: string): TableApplication {
  const config = (): ReturnType<typeof roleClientConfig> => roleClientConfig(role, twin.proxyUrl, twin.world.region, twin.clock);
  const s3 = new S3Client({ ...config(), forcePathStyle: true });
  const kms = new KMSClient(config());
  const dynamo = new DynamoDBClient(config());
  // The simulated clock moves between calls: keep every client's signing offset current.
  for (const client of [s3, kms, dynamo] as { config: unknown; middlewareStack: S3Client['middlewareStack'] }[]) {
    client.middlewareStack.add((next) => (args) => {
      (client.config as { systemClockOffset: number }).systemClockOffset = twin.clock.now() - Date.now();
      return next(args);
    }, { step: 'initialize', name: 'twinClock' });
  }
  const provider = new CatalogKeyProvider({
    store: new S3CatalogStore({ client: s3, bucket: twin.world.outputs.CatalogBucket ?? '', prefix: twin.world.outputs.CatalogPrefix ?? '' }),
    vault: new KmsKeyVault({ client: kms }),
    clock: () => twin.clock.now(),
  });
  const envelopes = new EnvelopeClient(provider);
  const store = new DynamoDbRecordStore({ client: dynamo, tableName: table });
  const records = new RecordService({ records: store, envelopes, versions: provider });
  return {
    records,
    envelopes,
    store,
    restart: () => openTableApplication(twin, role, table),
    close: () => {
      s3.destroy();
      kms.destroy();
      dynamo.destroy();
    },
  };
}

/** One stood-up stack with a table target. @example (await stack.admin.get('order-1'))?.version */
export interface TableStack {
  readonly twin: Twin;
  readonly app: TableApplication;
  readonly operator: TwinRole;
  /** The table read as moto's admin (no policy): the test's view, never the product's path. */
  readonly admin: DynamoDbRecordStore;
  catalog(keyring?: string): Promise<Catalog>;
  /** SNS messages the on-call inbox received so far. */
  inbox(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * The `rekey` context: the revocation scenario's keyrings and roles plus one table target on pii,
 * and no S3 record target (cdk.json's two buckets are replaced: this stack sweeps the table only).
 *
 * @example tableTargetContext().tableTargets // [{ keyring: 'pii', table: RECORD_TABLE, segments: SEGMENTS }]
 */
export function tableTargetContext(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...revocationContext(), recordTargets: [], tableTargets: [{ keyring: 'pii', table: RECORD_TABLE, segments: SEGMENTS }], ...extra };
}

/**
 * Stands the stack up with a table target, creates the table, the roles' policies and the inbox.
 *
 * @example
 * const stack = await standUpTableTarget();
 * try { await stack.app.records.put('order-1', 'pii', Buffer.from('4111')); } finally { await stack.close(); }
 */
export async function standUpTableTarget(options: { start?: number; context?: Record<string, unknown> } = {}): Promise<TableStack> {
  const twin = await Twin.standUp({
    ...(options.start === undefined ? {} : { start: options.start }),
    context: tableTargetContext(options.context),
    roles: [
      { name: APP_ROLE, policies: [tableAppPolicy(RECORD_TABLE)] },
      { name: OPERATOR_ROLE, policies: [] },
    ],
  });
  const config = { endpoint: twin.moto.url, region: twin.world.region, credentials: ADMIN };
  const dynamo = new DynamoDBClient(config);
  const sqs = new SQSClient(config);
  const sns = new SNSClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  try {
    await createRecordTable(dynamo, RECORD_TABLE, { pollMs: 20 });
    const operator = twin.role(OPERATOR_ROLE);
    operator.policies.push(operatorPolicyFromDoc(twin));
    const inbox = await subscribeOncallInbox(twin, sqs, sns);
    const app = openTableApplication(twin, twin.role(APP_ROLE), RECORD_TABLE);
    return {
      twin,
      app,
      operator,
      admin: new DynamoDbRecordStore({ client: dynamo, tableName: RECORD_TABLE }),
      catalog: catalogReader(twin, s3),
      inbox,
      close: async () => {
        app.close();
        for (const c of [dynamo, sqs, sns, s3]) c.destroy();
        await twin.close();
      },
    };
  } catch (err) {
    for (const c of [dynamo, sqs, sns, s3]) c.destroy();
    await twin.close();
    throw err;
  }
}

/**
 * The function's role as the world holds it (its policies are live: editing them edits what the authorizer reads).
 *
 * @example functionRole(twin, 'reencrypt').arn
 */
export function functionRole(twin: Twin, rekeyName: string): TwinRole {
  const fn = twin.fn(rekeyName);
  const role = [...twin.world.roles.values()].find((r) => r.arn === fn.roleArn);
  if (role === undefined) throw new Error(`no role ${fn.roleArn}`);
  return role;
}

/**
 * Removes every index ARN from a role's statements (a statement left without resources is
 * dropped) and returns a function that puts the policies back.
 *
 * @example
 * const restore = withoutIndexArns(functionRole(twin, 'reencrypt'));
 * restore();
 */
export function withoutIndexArns(role: TwinRole): () => void {
  const saved = structuredClone(role.policies);
  const stripped = role.policies.map((doc) => {
    const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<string, unknown>[];
    const kept = statements.flatMap((s) => {
      const resources = ([] as unknown[]).concat(s.Resource ?? []);
      if (!resources.some((r) => typeof r === 'string' && r.includes('/index/'))) return [s];
      const rest = resources.filter((r) => !(typeof r === 'string' && r.includes('/index/')));
      return rest.length === 0 ? [] : [{ ...s, Resource: rest }];
    });
    return { ...doc, Statement: kept };
  });
  (role.policies as PolicyDocument[]).splice(0, role.policies.length, ...(stripped as PolicyDocument[]));
  return () => {
    (role.policies as PolicyDocument[]).splice(0, role.policies.length, ...saved);
  };
}

/**
 * The alarm (Monitoring construct id) had data, can fire, is in ALARM, and each of its ALARM
 * transitions reached the on-call inbox exactly once (every failed run may page again).
 *
 * @example await expectPaged(stack, 'SweepStalled');
 */
export async function expectPaged(stack: TableStack, constructId: string): Promise<void> {
  const { twin } = stack;
  const alarm = alarmOf(twin, constructId);
  if (!alarmMetrics(alarm).every((m) => m.namespace === 'AWS/SQS')) expect({ alarm: constructId, emitted: emittedPoints(twin, alarm) > 0 }).toEqual({ alarm: constructId, emitted: true });
  expect({ alarm: constructId, canFire: canAlarmFire(alarm, cadenceOf(twin, alarm)) }).toEqual({ alarm: constructId, canFire: true });
  expect({ alarm: constructId, state: twin.alarms.state(alarm.name) }).toEqual({ alarm: constructId, state: 'ALARM' });
  const transitions = twin.alarms.transitions.filter((t) => t.alarm === alarm.name && t.to === 'ALARM').length;
  expect(transitions).toBeGreaterThan(0);
  const got = (await stack.inbox()).filter((m) => m.AlarmName === alarm.name && m.NewStateValue === 'ALARM');
  expect({ alarm: constructId, inbox: got.length }).toEqual({ alarm: constructId, inbox: transitions });
}
