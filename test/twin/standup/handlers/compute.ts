/**
 * Lambda functions (with invoke configs and permissions), state machines and schedules. Lambda
 * and Scheduler are the twin's own (its runtime and scheduler driver read the world); state
 * machines are also created on moto, which keeps the definition. Properties from the
 * CloudFormation Template Reference: AWS::Lambda::Function (Timeout default 3 s, MemorySize
 * default 128 MiB), AWS::Lambda::EventInvokeConfig, AWS::Lambda::Permission,
 * AWS::StepFunctions::StateMachine (DefinitionString / Definition, DefinitionSubstitutions
 * replace `${key}`), AWS::Scheduler::Schedule (Target.RetryPolicy defaults: 185 attempts,
 * 86400 s, from the EventBridge Scheduler API Reference "RetryPolicy").
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateStateMachineCommand, DeleteStateMachineCommand, UpdateStateMachineCommand } from '@aws-sdk/client-sfn';
import { generatedName, uniqueSuffix } from '../names';
import type { HandlerContext, ResourceHandler } from '../types';
import { arnOf, optNumber, optObject, optString, reqString } from './util';

interface AssetManifest {
  readonly files?: Record<string, { readonly source: { readonly path: string }; readonly destinations: Record<string, { readonly objectKey: string }> }>;
}

/** Asset folder of a function: the `aws:asset:path` metadata, else the asset manifest entry of Code.S3Key. */
function assetDirOf(ctx: HandlerContext): string {
  const meta = ctx.resource.Metadata?.['aws:asset:path'];
  if (typeof meta === 'string') return path.join(ctx.outdir, meta);
  const code = optObject(ctx.properties, 'Code') ?? {};
  const key = optString(code, 'S3Key');
  if (key === undefined) throw new Error(`${ctx.logicalId}: only asset code (Code.S3Key) can run in the twin, got ${JSON.stringify(code)}`);
  const manifestPath = path.join(ctx.outdir, `${ctx.stackName}.assets.json`);
  const manifest = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as AssetManifest) : {};
  for (const file of Object.values(manifest.files ?? {})) {
    if (Object.values(file.destinations).some((d) => d.objectKey === key)) return path.join(ctx.outdir, file.source.path);
  }
  throw new Error(`${ctx.logicalId}: no asset in ${manifestPath} has object key ${key}`);
}

function environmentOf(ctx: HandlerContext): Record<string, string> {
  const vars = optObject(optObject(ctx.properties, 'Environment') ?? {}, 'Variables') ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`${ctx.logicalId}: environment ${k} is not a string: ${JSON.stringify(v)}`);
    out[k] = String(v);
  }
  return out;
}

const lambdaFunction: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const name = ctx.previous?.physicalId ?? optString(p, 'FunctionName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 64 });
    const arn = arnOf(ctx, 'lambda', `function:${name}`);
    const existing = ctx.world.functions.get(name);
    const reserved = optNumber(p, 'ReservedConcurrentExecutions');
    ctx.world.functions.set(name, {
      logicalId: ctx.logicalId,
      name,
      arn,
      roleArn: reqString(ctx, 'Role'),
      handler: reqString(ctx, 'Handler'),
      assetDir: assetDirOf(ctx),
      runtime: reqString(ctx, 'Runtime'),
      environment: environmentOf(ctx),
      timeoutSeconds: optNumber(p, 'Timeout') ?? 3,
      memoryMiB: optNumber(p, 'MemorySize') ?? 128,
      ...(reserved === undefined ? {} : { reservedConcurrency: reserved }),
      ...(existing?.asyncConfig === undefined ? {} : { asyncConfig: existing.asyncConfig }),
      permissions: existing?.permissions ?? [],
    });
    return { physicalId: name, attributes: { Arn: arn } };
  },
  async remove(ctx, previous) {
    ctx.world.functions.delete(previous.physicalId);
  },
};

/** Invoke configs and permissions are folded into their function by ./derived.ts. */
const recordOnly: ResourceHandler = {
  async apply(ctx) {
    reqString(ctx, 'FunctionName');
    return { physicalId: ctx.previous?.physicalId ?? `${ctx.stackName}-${ctx.logicalId}-${uniqueSuffix()}`, attributes: {} };
  },
};

function definitionOf(ctx: HandlerContext): Record<string, unknown> {
  const p = ctx.properties;
  let text = optString(p, 'DefinitionString') ?? (p['Definition'] === undefined ? undefined : JSON.stringify(p['Definition']));
  if (text === undefined) throw new Error(`${ctx.logicalId}: DefinitionString or Definition is required (DefinitionS3Location is not supported)`);
  const subs = optObject(p, 'DefinitionSubstitutions') ?? {};
  for (const [k, v] of Object.entries(subs)) text = text.split(`\${${k}}`).join(String(v));
  return JSON.parse(text) as Record<string, unknown>;
}

const stateMachine: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const definition = definitionOf(ctx);
    const roleArn = reqString(ctx, 'RoleArn');
    const name = (ctx.previous?.attributes['Name'] as string | undefined) ?? optString(p, 'StateMachineName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 80 });
    let arn = ctx.previous?.physicalId;
    if (arn === undefined) {
      const type = optString(p, 'StateMachineType') as 'STANDARD' | 'EXPRESS' | undefined;
      arn = (await ctx.aws.sfn.send(new CreateStateMachineCommand({ name, definition: JSON.stringify(definition), roleArn, type }))).stateMachineArn ?? arnOf(ctx, 'states', `stateMachine:${name}`);
    } else {
      await ctx.aws.sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition: JSON.stringify(definition), roleArn }));
    }
    ctx.world.stateMachines.set(arn, { logicalId: ctx.logicalId, name, arn, roleArn, definition });
    return { physicalId: arn, attributes: { Arn: arn, Name: name, StateMachineRevisionId: 'INITIAL' } };
  },
  async remove(ctx, previous) {
    await ctx.aws.sfn.send(new DeleteStateMachineCommand({ stateMachineArn: previous.physicalId }));
    ctx.world.stateMachines.delete(previous.physicalId);
  },
};

const schedule: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const name = ctx.previous?.physicalId ?? optString(p, 'Name') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 64 });
    const groupName = optString(p, 'GroupName') ?? 'default';
    const target = optObject(p, 'Target');
    if (target === undefined) throw new Error(`${ctx.logicalId}: Target is required`);
    const retry = optObject(target, 'RetryPolicy') ?? {};
    const input = optString(target, 'Input');
    const deadLetterArn = optString(optObject(target, 'DeadLetterConfig') ?? {}, 'Arn');
    const extra: Record<string, unknown> = { groupName, arn: arnOf(ctx, 'scheduler', `schedule/${groupName}/${name}`) };
    for (const [k, key] of [['StartDate', 'startDate'], ['EndDate', 'endDate'], ['ScheduleExpressionTimezone', 'timezone'], ['FlexibleTimeWindow', 'flexibleTimeWindow']] as const) {
      if (p[k] !== undefined) extra[key] = p[k];
    }
    ctx.world.schedules.set(name, {
      logicalId: ctx.logicalId,
      name,
      expression: reqString(ctx, 'ScheduleExpression'),
      state: optString(p, 'State') === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      targetArn: String(target['Arn']),
      roleArn: String(target['RoleArn']),
      ...(input === undefined ? {} : { input }),
      retry: { maximumRetryAttempts: optNumber(retry, 'MaximumRetryAttempts') ?? 185, maximumEventAgeInSeconds: optNumber(retry, 'MaximumEventAgeInSeconds') ?? 86400 },
      ...(deadLetterArn === undefined ? {} : { deadLetterArn }),
      // Not in TwinSchedule: group, ARN, start/end date, time zone, flexible window.
      ...extra,
    });
    return { physicalId: name, attributes: { Arn: extra['arn'] } };
  },
  async remove(ctx, previous) {
    ctx.world.schedules.delete(previous.physicalId);
  },
};

/** Handlers by resource type. */
export const COMPUTE_HANDLERS: Readonly<Record<string, ResourceHandler>> = {
  'AWS::Lambda::Function': lambdaFunction,
  'AWS::Lambda::EventInvokeConfig': recordOnly,
  'AWS::Lambda::Permission': recordOnly,
  'AWS::StepFunctions::StateMachine': stateMachine,
  'AWS::Scheduler::Schedule': schedule,
};
