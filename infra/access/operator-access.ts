/**
 * What an operator of the CLI's AWS mode may do, exactly what cli/aws-context.ts and
 * cli/aws-commands.ts call, and no key material:
 *
 * | command | calls | permission |
 * |---|---|---|
 * | every command | DescribeStacks (outputs → configuration) | cloudformation:DescribeStacks on this stack |
 * | status, revoke | catalog list/get: ListObjectsV2, GetObject (SSE-KMS) | s3:ListBucket (catalog prefix), s3:GetObject, kms:Decrypt via S3 on the ops key |
 * | freeze, unfreeze | catalog compare-and-swap: GetObject, PutObject; the freeze's audit event | + s3:PutObject, kms:GenerateDataKey via S3; events:PutEvents (source `rekey.audit`) |
 * | revoke | PutEvents `Key Version Compromised` | events:PutEvents (source `rekey`, that detail-type only) |
 * | rotate, escrow verify | Invoke the rotate / escrow function | lambda:InvokeFunction on those two |
 * | consumers add, remove, list | registry get/put/list: GetObject, PutObject (If-Match / If-None-Match), ListObjectsV2 under `consumers/` (SSE-KMS) | s3:GetObject, s3:PutObject, s3:ListBucket (registry prefix); the ops key as for freeze |
 * | status --count-records | ListObjectsV2 + HeadObject over the record targets | s3:ListBucket (target prefix), s3:GetObject (target objects) |
 *
 * Nothing here names a keyring key or the escrow key: rotation and the drill run inside the
 * functions, with the functions' permissions.
 *
 * Each permission is granted on both sides where the resource has a policy (bucket policy, key
 * policy, event bus policy, Lambda function policy), so an imported role of this account works
 * without anything on its side. Identity statements are added too; they take effect only on a
 * role this app owns (an imported role is immutable). cloudformation:DescribeStacks and the
 * record targets (buckets of other stacks) have no policy here: those identity statements are
 * what a role of another account, or an imported one, needs on its side (docs/deploy.md).
 */
import { Aws, Names, type Stack } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { CONSUMER_REGISTRY_PREFIX } from '../../shared/vocabulary/consumer-registry';
import { AUDIT_EVENT_DETAIL_TYPE, AUDIT_EVENT_SOURCE, COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE } from '../../shared/vocabulary/event-names';
import type { ResolvedRecordTarget, ResolvedTableTarget } from '../props';
import { allowRecordTargets, catalogActions } from './function-access';
import { TABLE_ACCESS, allowTableTargets } from '../parts/function-permissions';

/** The parts of the stack an operator grant touches. */
export interface OperatorAccessParts {
  readonly stack: Stack;
  readonly catalogBucket: s3.IBucket;
  readonly catalogPrefix: string;
  readonly opsKey: kms.IKey;
  /** The ops key's via-S3 statement of catalog writers (Decrypt, GenerateDataKey). */
  readonly catalogWriters: iam.PolicyStatement;
  readonly eventBus: events.EventBus;
  /** The functions the CLI invokes (rotate, escrow). */
  readonly invoked: readonly lambda.IFunction[];
  readonly recordTargets: readonly ResolvedRecordTarget[];
  /** DynamoDB table targets: `status --count-records` counts them from their indexes. @default none */
  readonly tableTargets?: readonly ResolvedTableTarget[];
}

/** The events an operator may put: the compromise report (`revoke`) and its own freezes' audit events. */
export const OPERATOR_EVENTS: readonly { readonly source: string; readonly detailType: string }[] = [
  { source: COMPROMISE_EVENT_SOURCE, detailType: COMPROMISE_EVENT_DETAIL_TYPE },
  { source: AUDIT_EVENT_SOURCE, detailType: AUDIT_EVENT_DETAIL_TYPE },
];

/**
 * The events:PutEvents conditions of one allowed event: `events:source` and `events:detail-type`
 * ("Using IAM policy conditions in Amazon EventBridge"). Both keys are multivalued (`ArrayOfString`
 * in the Service Authorization Reference, "Actions, resources, and condition keys for Amazon
 * EventBridge"), and IAM requires a set operator on a multivalued key ("Single-valued vs.
 * multivalued context keys"): a bare StringEquals does not match. `ForAnyValue` rather than
 * `ForAllValues`, which an absent key would satisfy (the same page warns against it with Allow).
 */
export function putEventsConditions(event: { source: string; detailType: string }): Record<string, unknown> {
  return { 'ForAnyValue:StringEquals': { 'events:source': event.source, 'events:detail-type': event.detailType } };
}

/**
 * Grants `role` the operator permissions (see the module comment).
 *
 * @example
 * grantOperatorAccess(parts, iam.Role.fromRoleArn(stack, 'Ops', arn, { mutable: false }));
 */
export function grantOperatorAccess(parts: OperatorAccessParts, role: iam.IRole): void {
  const principal = new iam.ArnPrincipal(role.roleArn);
  // Sids must be unique within each policy; the role construct's path is unique in the app.
  const tag = Names.uniqueId(role).replace(/[^A-Za-z0-9]/g, '').slice(-40);
  const catalog = catalogActions('write');
  const objects = parts.catalogBucket.arnForObjects(`${parts.catalogPrefix}*`);
  const listCatalog = { StringLike: { 's3:prefix': [`${parts.catalogPrefix}*`] } };

  // Catalog: bucket policy + ops key policy (resource side), identity side.
  parts.catalogBucket.addToResourcePolicy(new iam.PolicyStatement({ sid: `OperatorCatalog${tag}`, principals: [principal], actions: catalog.objects, resources: [objects] }));
  parts.catalogBucket.addToResourcePolicy(
    new iam.PolicyStatement({ sid: `OperatorList${tag}`, principals: [principal], actions: catalog.bucket, resources: [parts.catalogBucket.bucketArn], conditions: listCatalog }),
  );
  parts.catalogWriters.addPrincipals(principal);
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: catalog.objects, resources: [objects] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: catalog.bucket, resources: [parts.catalogBucket.bucketArn], conditions: listCatalog }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [parts.opsKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } },
    }),
  );

  // Consumer registry (`rekey consumers add|remove|list`): registry objects, same two sides; the
  // ops key through S3 is the catalog writers' statement above.
  const registry = parts.catalogBucket.arnForObjects(`${CONSUMER_REGISTRY_PREFIX}*`);
  const listRegistry = { StringLike: { 's3:prefix': [`${CONSUMER_REGISTRY_PREFIX}*`] } };
  parts.catalogBucket.addToResourcePolicy(new iam.PolicyStatement({ sid: `OperatorConsumers${tag}`, principals: [principal], actions: ['s3:GetObject', 's3:PutObject'], resources: [registry] }));
  parts.catalogBucket.addToResourcePolicy(
    new iam.PolicyStatement({ sid: `OperatorListConsumers${tag}`, principals: [principal], actions: ['s3:ListBucket'], resources: [parts.catalogBucket.bucketArn], conditions: listRegistry }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [registry] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [parts.catalogBucket.bucketArn], conditions: listRegistry }));

  // Events: bus policy + identity side, one statement per allowed (source, detail-type).
  OPERATOR_EVENTS.forEach((event, i) => {
    const conditions = putEventsConditions(event);
    parts.eventBus.addToResourcePolicy(
      new iam.PolicyStatement({ sid: `OperatorEvents${i}${tag}`, principals: [principal], actions: ['events:PutEvents'], resources: [parts.eventBus.eventBusArn], conditions }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [parts.eventBus.eventBusArn], conditions }));
  });

  // Functions the CLI invokes: function policy + identity side.
  parts.invoked.forEach((fn, i) => {
    fn.addPermission(`Operator${tag}${i}`, { principal, action: 'lambda:InvokeFunction' });
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: parts.invoked.map((fn) => fn.functionArn) }));

  // Identity side only: the stack's outputs, and `status --count-records` over the record
  // targets (S3 listing and HEADs; DynamoDB: Query of the two indexes, never the items).
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [parts.stack.stackId] }));
  allowRecordTargets(role, parts.recordTargets, 'read');
  allowTableTargets(role, parts.tableTargets ?? [], TABLE_ACCESS.count);
}
