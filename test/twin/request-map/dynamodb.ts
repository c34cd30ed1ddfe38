/**
 * Amazon DynamoDB (AWS JSON 1.0, `X-Amz-Target: DynamoDB_20120810.<Operation>`; @aws-sdk/client-dynamodb
 * uses AwsJson1_0Protocol, serviceTarget "DynamoDB_20120810") → IAM actions, table / index ARNs and
 * condition keys.
 *
 * Actions and resources: "Actions, resources, and condition keys for Amazon DynamoDB" (Service
 * Authorization Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html):
 * - resource types `table` = `arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}` and
 *   `index` = `.../table/${TableName}/index/${IndexName}`;
 * - item operations authorize `dynamodb:<Op>` on the table; Query / Scan with `IndexName` on the index;
 * - BatchGetItem / BatchWriteItem: one `dynamodb:BatchGetItem` / `dynamodb:BatchWriteItem` per table in
 *   `RequestItems`;
 * - TransactWriteItems has no IAM action of its own: it authorizes `dynamodb:ConditionCheckItem`,
 *   `dynamodb:PutItem`, `dynamodb:UpdateItem`, `dynamodb:DeleteItem` per item on its table (the SAR's
 *   "API operations" table); TransactGetItems likewise `dynamodb:GetItem` per item.
 * Condition keys filled: `dynamodb:Select` and `dynamodb:ReturnValues` (from the request, when given),
 * and `dynamodb:Attributes` for AttributesToGet ("Using IAM policy conditions for fine-grained access
 * control", DynamoDB Developer Guide). `dynamodb:LeadingKeys` needs the table's key schema, which the
 * request does not carry, so it is not filled (a policy conditioning on it sees the key absent).
 */
import type { RequestContext } from '../authz/types';
import { arn, jsonBody, jsonTarget, str, type AuthzCheck, type MapContext, type MappedOperation, type RawHttpRequest } from './common';

/** The `X-Amz-Target` prefix of DynamoDB's JSON 1.0 protocol (API version 2012-08-10). */
export const DYNAMODB_TARGET = 'DynamoDB_20120810';

/**
 * The table ARN for a `TableName` (a name, or, as the API also accepts, a table ARN).
 *
 * @example tableArn(ctx, 'records') // 'arn:aws:dynamodb:us-east-1:123456789012:table/records'
 */
export function tableArn(ctx: MapContext, nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  return arn(ctx, 'dynamodb', `table/${nameOrArn}`);
}

/**
 * The index ARN of a table's secondary index.
 *
 * @example indexArn(ctx, 'records', 'byOrigin') // 'arn:aws:dynamodb:us-east-1:123456789012:table/records/index/byOrigin'
 */
export function indexArn(ctx: MapContext, table: string, index: string): string {
  return `${tableArn(ctx, table)}/index/${index}`;
}

/** dynamodb:Select, dynamodb:ReturnValues and dynamodb:Attributes of one request (or request item). */
function conditionKeys(ctx: MapContext, p: Readonly<Record<string, unknown>>): RequestContext {
  const out: Record<string, string | readonly string[] | boolean | number> = { ...ctx.global };
  const select = str(p, 'Select');
  if (select !== undefined) out['dynamodb:Select'] = select;
  const returnValues = str(p, 'ReturnValues');
  if (returnValues !== undefined) out['dynamodb:ReturnValues'] = returnValues;
  const attrs = p['AttributesToGet'];
  if (Array.isArray(attrs)) out['dynamodb:Attributes'] = attrs.filter((a): a is string => typeof a === 'string');
  return out;
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** TransactWriteItems member → IAM action ("TransactWriteItems", DynamoDB API Reference; the SAR). */
const TRANSACT_WRITE: Readonly<Record<string, string>> = {
  ConditionCheck: 'dynamodb:ConditionCheckItem',
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
};

/** Operations without resource-level permissions (resource `*` in the SAR). */
const ACCOUNT_LEVEL = new Set(['ListTables', 'ListBackups', 'ListGlobalTables', 'ListStreams', 'ListExports', 'ListImports', 'DescribeLimits', 'DescribeEndpoints', 'DescribeReservedCapacity', 'DescribeReservedCapacityOfferings']);

/**
 * Maps one DynamoDB request to its IAM checks.
 *
 * @example
 * mapDynamoDb(ctx, { method: 'POST', path: '/', query: '', headers: { 'x-amz-target': 'DynamoDB_20120810.Query' }, body: Buffer.from('{"TableName":"t","IndexName":"i"}') })
 *   .checks[0].resource; // 'arn:aws:dynamodb:us-east-1:123456789012:table/t/index/i'
 */
export function mapDynamoDb(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const operation = jsonTarget(raw) ?? 'Unknown';
  const params = jsonBody(raw);
  const action = `dynamodb:${operation}`;

  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    // One check per table named in RequestItems (a batch over two tables needs both).
    const tables = Object.keys(record(params['RequestItems']));
    const checks: AuthzCheck[] = tables.map((t) => ({ action, resource: tableArn(ctx, t), context: conditionKeys(ctx, record(record(params['RequestItems'])[t])) }));
    return { operation, params, checks: checks.length > 0 ? checks : [{ action, resource: '*', context: ctx.global }] };
  }
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    const items = Array.isArray(params['TransactItems']) ? (params['TransactItems'] as unknown[]) : [];
    const checks: AuthzCheck[] = [];
    for (const item of items) {
      for (const [member, body] of Object.entries(record(item))) {
        const memberAction = operation === 'TransactGetItems' ? 'dynamodb:GetItem' : TRANSACT_WRITE[member];
        const table = str(record(body), 'TableName');
        if (memberAction === undefined) continue;
        checks.push({ action: memberAction, resource: table === undefined ? '*' : tableArn(ctx, table), context: conditionKeys(ctx, record(body)) });
      }
    }
    return { operation, params, checks: checks.length > 0 ? checks : [{ action: `dynamodb:${operation}`, resource: '*', context: ctx.global }] };
  }
  if (ACCOUNT_LEVEL.has(operation)) return { operation, params, checks: [{ action, resource: '*', context: ctx.global }] };

  const table = str(params, 'TableName');
  const index = str(params, 'IndexName');
  const resourceArn = str(params, 'ResourceArn') ?? str(params, 'TableArn');
  let resource = '*';
  if (table !== undefined) resource = index !== undefined && (operation === 'Query' || operation === 'Scan') ? indexArn(ctx, table, index) : tableArn(ctx, table);
  else if (resourceArn !== undefined) resource = resourceArn;
  // GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, DescribeTable, CreateTable, DeleteTable, UpdateTable, ...
  return { operation, params, checks: [{ action, resource, context: conditionKeys(ctx, params) }] };
}
