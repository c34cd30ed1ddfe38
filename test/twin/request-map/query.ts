/**
 * The awsQuery services (form body `Action=<Operation>&Version=...`): SNS, CloudFormation,
 * ElastiCache and STS, as the installed clients send them (AwsQueryProtocol in
 * @aws-sdk/client-sns, -cloudformation, -elasticache).
 *
 * Resources: "Actions, resources, and condition keys for" Amazon SNS (topic), AWS CloudFormation
 * (stack: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`), Amazon ElastiCache
 * (replicationgroup / serverlesscache / cluster) and AWS STS (Service Authorization Reference).
 * GetCallerIdentity needs no permission ("GetCallerIdentity", AWS STS API Reference).
 */
import { createHash } from 'node:crypto';
import type { TwinWorld } from '../world';
import { arn, queryParams, type MapContext, type MappedOperation, type RawHttpRequest } from './common';

/**
 * The twin's stack ARN for a stack name. CloudFormation stack ARNs end in a UUID the service
 * picks; the twin derives one from the name so the proxy and the DescribeStacks handler agree.
 */
export function stackArn(world: TwinWorld, stackName: string = world.stackName): string {
  const h = createHash('sha256').update(`${world.account}/${world.region}/${stackName}`).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return `arn:${world.partition}:cloudformation:${world.region}:${world.account}:stack/${stackName}/${uuid}`;
}

/** A query-protocol request's operation and fields. */
function query(raw: RawHttpRequest): { operation: string; params: Record<string, string> } {
  const params = queryParams(raw);
  return { operation: params['Action'] ?? 'Unknown', params };
}

/** Maps one SNS request. */
export function mapSns(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = query(raw);
  const action = `sns:${operation === 'PublishBatch' ? 'Publish' : operation}`;
  const subscription = params['SubscriptionArn'];
  const topic =
    params['TopicArn'] ??
    params['TargetArn'] ??
    (subscription === undefined ? undefined : subscription.slice(0, subscription.lastIndexOf(':'))) ??
    (operation === 'CreateTopic' && params['Name'] !== undefined ? arn(ctx, 'sns', params['Name']) : undefined) ??
    params['ResourceArn'];
  return { operation, params, checks: [{ action, resource: topic ?? '*', context: ctx.global }] };
}

/** Maps one CloudFormation request (DescribeStacks without a StackName lists all: resource `*`). */
export function mapCloudFormation(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = query(raw);
  const name = params['StackName'];
  const resource = name === undefined ? '*' : name.startsWith('arn:') ? name : stackArn(ctx.world, name);
  return { operation, params, checks: [{ action: `cloudformation:${operation}`, resource, context: ctx.global }] };
}

/** Maps one ElastiCache request. */
export function mapElastiCache(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = query(raw);
  const id =
    params['ReplicationGroupId'] !== undefined
      ? `replicationgroup:${params['ReplicationGroupId']}`
      : params['ServerlessCacheName'] !== undefined
        ? `serverlesscache:${params['ServerlessCacheName']}`
        : params['CacheClusterId'] !== undefined
          ? `cluster:${params['CacheClusterId']}`
          : undefined;
  return { operation, params, checks: [{ action: `elasticache:${operation}`, resource: id === undefined ? '*' : arn(ctx, 'elasticache', id), context: ctx.global }] };
}

/** Maps one STS request: GetCallerIdentity is never denied, AssumeRole is sts:AssumeRole on the role. */
export function mapSts(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = query(raw);
  if (operation === 'GetCallerIdentity') return { operation, params, checks: [] };
  return { operation, params, checks: [{ action: `sts:${operation}`, resource: params['RoleArn'] ?? '*', context: ctx.global }] };
}
