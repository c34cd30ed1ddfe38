/**
 * The AWS JSON RPC services (operation in `X-Amz-Target: <target>.<Operation>`, JSON body), as the
 * installed SDK clients send them (their protocol options in node_modules/@aws-sdk/client-<name>/dist-cjs):
 * SQS (AwsJson1_0, target "AmazonSQS", awsQueryCompatible), EventBridge (AwsJson1_1, "AWSEvents"),
 * CloudWatch (AwsJson1_0, "GraniteServiceVersion20100801", awsQueryCompatible; not CBOR in
 * @aws-sdk/client-cloudwatch 3.1164) and Step Functions (AwsJson1_0, "AWSStepFunctions").
 * Older SQS / CloudWatch callers still speak awsQuery (`Action=...`): both forms are read here.
 *
 * Actions and resources: "Actions, resources, and condition keys for" Amazon SQS, Amazon
 * EventBridge (events:source and events:detail-type on PutEvents), Amazon CloudWatch
 * (cloudwatch:namespace on PutMetricData) and AWS Step Functions (Service Authorization Reference).
 */
import type { RequestContext } from '../authz/types';
import { arn, jsonBody, jsonTarget, queryParams, str, type AuthzCheck, type MapContext, type MappedOperation, type RawHttpRequest } from './common';

/** JSON body and operation of a JSON RPC request, or the awsQuery form's `Action` and fields. */
function rpc(raw: RawHttpRequest): { operation: string; params: Record<string, unknown> } {
  const target = jsonTarget(raw);
  if (target !== undefined) return { operation: target, params: jsonBody(raw) };
  const form = queryParams(raw);
  return { operation: form['Action'] ?? 'Unknown', params: form };
}

/** The queue ARN of a queue URL (`http://host/<account>/<name>`), preferring the world's own queue. */
export function queueArn(ctx: MapContext, queueUrl: string): string {
  for (const q of ctx.world.queues.values()) if (q.url === queueUrl) return q.arn;
  const parts = new URL(queueUrl, 'http://localhost').pathname.split('/').filter((p) => p !== '');
  const name = parts[parts.length - 1] ?? '';
  for (const q of ctx.world.queues.values()) if (q.name === name) return q.arn;
  const account = parts.length >= 2 ? (parts[parts.length - 2] ?? ctx.account) : ctx.account;
  return `arn:${ctx.world.partition}:sqs:${ctx.region}:${account}:${name}`;
}

const SQS_BATCH: Readonly<Record<string, string>> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/** Maps one SQS request (the queue URL is in the body, or for awsQuery also the path). */
export function mapSqs(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = rpc(raw);
  const action = `sqs:${SQS_BATCH[operation] ?? operation}`;
  const url = str(params, 'QueueUrl') ?? (raw.path.split('/').filter((p) => p !== '').length >= 2 ? raw.path : undefined);
  const name = str(params, 'QueueName');
  const resource = url !== undefined ? queueArn(ctx, url) : name !== undefined ? arn(ctx, 'sqs', name) : '*';
  return { operation, params, checks: [{ action, resource: operation === 'ListQueues' ? '*' : resource, context: ctx.global }] };
}

/** `arn:aws:events:<region>:<account>:event-bus/<name>` for a bus name or ARN (default: `default`). */
export function busArn(ctx: MapContext, nameOrArn: string | undefined): string {
  if (nameOrArn !== undefined && nameOrArn.startsWith('arn:')) return nameOrArn;
  const name = nameOrArn ?? 'default';
  return ctx.world.buses.get(name)?.arn ?? arn(ctx, 'events', `event-bus/${name}`);
}

/** Maps one EventBridge request: PutEvents is one events:PutEvents check per entry, on its bus. */
export function mapEvents(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = rpc(raw);
  if (operation === 'PutEvents') {
    const entries = Array.isArray(params['Entries']) ? (params['Entries'] as unknown[]) : [];
    const checks: AuthzCheck[] = entries.map((e) => {
      const entry = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
      const context: Record<string, string | readonly string[] | boolean | number> = { ...ctx.global };
      const source = str(entry, 'Source');
      const detailType = str(entry, 'DetailType');
      if (source !== undefined) context['events:source'] = source;
      if (detailType !== undefined) context['events:detail-type'] = detailType;
      return { action: 'events:PutEvents', resource: busArn(ctx, str(entry, 'EventBusName')), context };
    });
    return { operation, params, checks };
  }
  const ruleName = str(params, 'Rule') ?? (operation.endsWith('Rule') || operation === 'PutRule' ? str(params, 'Name') : undefined);
  if (ruleName !== undefined) {
    const bus = str(params, 'EventBusName');
    const busName = bus === undefined ? 'default' : bus.startsWith('arn:') ? (bus.split('/').pop() ?? 'default') : bus;
    const resource = ruleName.startsWith('arn:') ? ruleName : arn(ctx, 'events', busName === 'default' ? `rule/${ruleName}` : `rule/${busName}/${ruleName}`);
    return { operation, params, checks: [{ action: `events:${operation}`, resource, context: ctx.global }] };
  }
  if (operation === 'DescribeEventBus') return { operation, params, checks: [{ action: 'events:DescribeEventBus', resource: busArn(ctx, str(params, 'Name')), context: ctx.global }] };
  return { operation, params, checks: [{ action: `events:${operation}`, resource: '*', context: ctx.global }] };
}

/** CloudWatch operations whose resource is the alarm(s) they name. */
const ALARM_OPS = new Set(['PutMetricAlarm', 'DeleteAlarms', 'SetAlarmState', 'DescribeAlarmHistory', 'EnableAlarmActions', 'DisableAlarmActions', 'PutCompositeAlarm']);

/** Maps one CloudWatch request. */
export function mapCloudWatch(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = rpc(raw);
  const action = `cloudwatch:${operation}`;
  if (ALARM_OPS.has(operation)) {
    const names = new Set<string>();
    const single = str(params, 'AlarmName');
    if (single !== undefined) names.add(single);
    const list = params['AlarmNames'];
    if (Array.isArray(list)) for (const n of list) if (typeof n === 'string') names.add(n);
    for (const [k, v] of Object.entries(params)) if (/^AlarmNames\.member\.\d+$/.test(k) && typeof v === 'string') names.add(v);
    if (names.size > 0) return { operation, params, checks: [...names].map((n) => ({ action, resource: arn(ctx, 'cloudwatch', `alarm:${n}`), context: ctx.global })) };
  }
  let context: RequestContext = ctx.global;
  const namespace = str(params, 'Namespace');
  if (operation === 'PutMetricData' && namespace !== undefined) context = { ...ctx.global, 'cloudwatch:namespace': namespace };
  return { operation, params, checks: [{ action, resource: '*', context }] };
}

/** Maps one Step Functions request (resource: the state machine, execution or Map Run it names). */
export function mapStates(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const { operation, params } = rpc(raw);
  const action = `states:${operation}`;
  const named = str(params, 'mapRunArn') ?? str(params, 'executionArn') ?? str(params, 'stateMachineArn');
  const byName = operation === 'CreateStateMachine' && str(params, 'name') !== undefined ? arn(ctx, 'states', `stateMachine:${str(params, 'name') ?? ''}`) : undefined;
  return { operation, params, checks: [{ action, resource: named ?? byName ?? '*', context: ctx.global }] };
}
