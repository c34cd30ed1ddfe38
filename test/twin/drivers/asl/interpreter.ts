/**
 * The state-by-state interpreter of the Amazon States Language (https://states-language.net/spec.html):
 * Pass, Task (Lambda), Choice, Wait, Parallel, Map (INLINE here, DISTRIBUTED through the host),
 * Succeed and Fail, with Retry and Catch ("Error handling in Step Functions",
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). Waits happen
 * in simulated time only: retry delays add to the run's `elapsedMs` and are recorded.
 */
import { randomUUID } from 'node:crypto';
import type { RequestAuthorizer } from '../../authz/types';
import type { TwinWorld } from '../../world';
import { chooseNext } from './choice';
import { asStatesError, errorMatches, maxAttempts, retryDelaySeconds, StatesError, type Catcher, type Retrier } from './errors';
import { applyResultPath, applyTemplate, filterPath, readPath } from './json-path';
import type { InvokeLambda, RunContext } from './types';

/** An ASL state, as parsed JSON. */
export type AslState = Readonly<Record<string, unknown>>;

/** A state machine or a sub-machine (Map ItemProcessor, Parallel branch). */
export interface AslMachine {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly TimeoutSeconds?: number;
}

/** What the interpreter needs from the twin. */
export interface InterpreterHost {
  readonly world: TwinWorld;
  readonly authorizer: RequestAuthorizer;
  readonly invokeLambda: InvokeLambda;
  readonly random: () => number;
  /** Runs a DISTRIBUTED Map state on its effective input; returns the state's result (before ResultSelector). */
  runDistributedMap(stateName: string, state: AslState, effectiveInput: unknown, ctx: RunContext): Promise<unknown>;
}

/** The execution ran past its TimeoutSeconds: ends the execution as TIMED_OUT, never caught by a state. */
export class ExecutionTimedOut extends StatesError {
  public constructor() {
    super('States.Timeout', 'The execution timed out (TimeoutSeconds)');
  }
}

/** The execution was stopped (StopExecution): ends it as ABORTED. */
export class ExecutionAborted extends StatesError {
  public constructor(error = 'States.Aborted', cause = 'The execution was stopped') {
    super(error, cause);
  }
}

/** Throws when the run's simulated time has passed the execution's deadline, or it was aborted. */
export function checkLimits(ctx: RunContext): void {
  if (ctx.aborted()) throw new ExecutionAborted();
  if (ctx.deadlineMs !== undefined && ctx.startMs + ctx.elapsedMs > ctx.deadlineMs) throw new ExecutionTimedOut();
}

const LAMBDA_INVOKE = /^arn:[a-z-]+:states:::lambda:invoke$/;
const LAMBDA_ARN = /^arn:[a-z-]+:lambda:/;

async function invokeLambdaTask(state: AslState, input: unknown, ctx: RunContext, host: InterpreterHost): Promise<unknown> {
  const resource = String(state.Resource);
  const optimized = LAMBDA_INVOKE.test(resource);
  if (!optimized && !LAMBDA_ARN.test(resource)) throw new StatesError('States.Runtime', `The twin runs Lambda tasks only, not ${resource}`);
  const params = optimized ? (input as Record<string, unknown>) : {};
  const named = optimized ? String(params.FunctionName) : resource;
  const functionArn = named.startsWith('arn:') ? named : (host.world.fn(named)?.arn ?? named);
  // With the function ARN as Resource (payloadResponseOnly) the effective input is the payload.
  const payload = optimized ? (params.Payload ?? null) : input;
  const roleArn = ctx.stateMachine.roleArn;
  const decision = await host.authorizer.authorize({ principal: { kind: 'role', arn: roleArn }, action: 'lambda:InvokeFunction', resource: functionArn });
  const requestId = randomUUID();
  if (!decision.allowed) {
    // Step Functions surfaces Lambda's 403 as Lambda.AWSLambdaException, cause in the SDK's format
    // (seen in awslabs/aws-deployment-framework#460, aws-samples/lambda-refarch-imagerecognition#19).
    const roleName = roleArn.split('/').pop() ?? roleArn;
    throw new StatesError('Lambda.AWSLambdaException', `User: arn:${host.world.partition}:sts::${host.world.account}:assumed-role/${roleName}/${ctx.executionName.slice(0, 32)} is not authorized to perform: lambda:InvokeFunction on resource: ${functionArn} because ${decision.reason} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ${requestId}; Proxy: null)`);
  }
  const result = await host.invokeLambda(functionArn, payload, roleArn);
  if (result.errorType !== undefined) {
    const message = typeof result.payload === 'object' && result.payload !== null && 'message' in result.payload ? String((result.payload as { message: unknown }).message) : result.errorType;
    throw new StatesError(`Lambda.${result.errorType}`, `${message} (Service: AWSLambda; Status Code: ${result.statusCode}; Error Code: ${result.errorType}; Request ID: ${requestId}; Proxy: null)`);
  }
  if (result.functionError !== undefined) {
    // A function error: the error name is the function's errorType, the cause its error payload.
    const body = (result.payload ?? {}) as Record<string, unknown>;
    throw new StatesError(typeof body.errorType === 'string' ? body.errorType : 'Lambda.Unknown', JSON.stringify(result.payload));
  }
  if (!optimized) return result.payload;
  // arn:aws:states:::lambda:invoke returns Invoke's response ("Invoke an AWS Lambda function with
  // Step Functions", https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html).
  return { ExecutedVersion: '$LATEST', Payload: result.payload, SdkHttpMetadata: { HttpStatusCode: result.statusCode }, SdkResponseMetadata: { RequestId: requestId }, StatusCode: result.statusCode };
}

async function runInlineMap(state: AslState, input: unknown, ctx: RunContext, host: InterpreterHost): Promise<unknown[]> {
  const items = readPath(typeof state.ItemsPath === 'string' ? state.ItemsPath : '$', input, ctx.contextObject);
  if (!Array.isArray(items)) throw new StatesError('States.Runtime', 'The Map state ItemsPath did not select an array');
  const processor = (state.ItemProcessor ?? state.Iterator) as AslMachine;
  const selector = state.ItemSelector ?? state.Parameters;
  const limit = typeof state.MaxConcurrency === 'number' && state.MaxConcurrency > 0 ? state.MaxConcurrency : items.length;
  const results: unknown[] = new Array<unknown>(items.length);
  let next = 0;
  const startElapsed = ctx.elapsedMs;
  let endElapsed = startElapsed;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      const context = { ...ctx.contextObject, Map: { Item: { Index: index, Value: items[index] } } };
      const itemInput = selector === undefined ? items[index] : applyTemplate(selector, input, context);
      const child: RunContext = { ...ctx, elapsedMs: startElapsed, contextObject: context };
      results[index] = await runMachine(processor, itemInput, child, host);
      endElapsed = Math.max(endElapsed, child.elapsedMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  ctx.elapsedMs = endElapsed;
  return results;
}

async function runParallel(state: AslState, input: unknown, ctx: RunContext, host: InterpreterHost): Promise<unknown[]> {
  const start = ctx.elapsedMs;
  const children = ((state.Branches as AslMachine[] | undefined) ?? []).map((branch) => ({ branch, ctx: { ...ctx, elapsedMs: start } }));
  const out = await Promise.all(children.map((c) => runMachine(c.branch, input, c.ctx, host)));
  ctx.elapsedMs = Math.max(start, ...children.map((c) => c.ctx.elapsedMs));
  return out;
}

/** Runs one Task/Map/Parallel attempt loop with the state's Retriers; returns the result or throws the final error. */
async function withRetries(stateName: string, state: AslState, ctx: RunContext, host: InterpreterHost, attempt: () => Promise<unknown>): Promise<unknown> {
  const retriers = (state.Retry as Retrier[] | undefined) ?? [];
  const used = new Map<number, number>();
  for (;;) {
    checkLimits(ctx);
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof ExecutionTimedOut || err instanceof ExecutionAborted) throw err;
      const failure = asStatesError(err);
      ctx.record.failures.push({ executionArn: ctx.executionArn, state: stateName, error: failure.error, cause: failure.cause });
      // The first Retrier whose ErrorEquals matches decides; an exhausted one does not fall through.
      const index = retriers.findIndex((r) => errorMatches(r.ErrorEquals, failure.error));
      const retrier = retriers[index];
      const count = (used.get(index) ?? 0) + 1;
      if (retrier === undefined || count > maxAttempts(retrier)) throw failure;
      used.set(index, count);
      const { base, delay } = retryDelaySeconds(retrier, count, host.random);
      ctx.record.retries.push({ executionArn: ctx.executionArn, state: stateName, error: failure.error, attempt: count, baseDelaySeconds: base, delaySeconds: delay });
      ctx.elapsedMs += delay * 1000;
    }
  }
}

async function runWorkState(stateName: string, state: AslState, rawInput: unknown, ctx: RunContext, host: InterpreterHost): Promise<{ output: unknown; next?: string }> {
  try {
    const result = await withRetries(stateName, state, ctx, host, async () => {
      const effective = filterPath(state.InputPath as string | null | undefined, rawInput, ctx.contextObject);
      if (state.Type === 'Task') {
        const params = state.Parameters === undefined ? effective : applyTemplate(state.Parameters, effective, ctx.contextObject);
        return invokeLambdaTask(state, params, ctx, host);
      }
      if (state.Type === 'Parallel') return runParallel(state, effective, ctx, host);
      const mode = ((state.ItemProcessor as Record<string, unknown> | undefined)?.ProcessorConfig as Record<string, unknown> | undefined)?.Mode;
      return mode === 'DISTRIBUTED' ? host.runDistributedMap(stateName, state, effective, ctx) : runInlineMap(state, effective, ctx, host);
    });
    const selected = state.ResultSelector === undefined ? result : applyTemplate(state.ResultSelector, result, ctx.contextObject);
    const placed = applyResultPath(state.ResultPath as string | null | undefined, rawInput, selected);
    return { output: filterPath(state.OutputPath as string | null | undefined, placed, ctx.contextObject) };
  } catch (err) {
    if (err instanceof ExecutionTimedOut || err instanceof ExecutionAborted) throw err;
    const failure = asStatesError(err);
    const catcher = ((state.Catch as Catcher[] | undefined) ?? []).find((c) => errorMatches(c.ErrorEquals, failure.error));
    if (catcher === undefined) throw failure;
    const output = applyResultPath(catcher.ResultPath === undefined ? '$' : catcher.ResultPath, rawInput, { Error: failure.error, Cause: failure.cause });
    return { output, next: catcher.Next };
  }
}

/** Runs a (sub-)state machine from StartAt to a terminal state; returns its output or throws its error. */
export async function runMachine(machine: AslMachine, input: unknown, ctx: RunContext, host: InterpreterHost): Promise<unknown> {
  let name = machine.StartAt;
  let current = input;
  for (;;) {
    checkLimits(ctx);
    const state = machine.States[name];
    if (state === undefined) throw new StatesError('States.Runtime', `No state named ${name}`);
    ctx.contextObject.State = { Name: name, EnteredTime: new Date(ctx.startMs + ctx.elapsedMs).toISOString(), RetryCount: 0 };
    let output: unknown;
    let next = state.Next as string | undefined;
    switch (state.Type) {
      case 'Pass': {
        const effective = filterPath(state.InputPath as string | null | undefined, current, ctx.contextObject);
        const result = state.Result !== undefined ? state.Result : state.Parameters !== undefined ? applyTemplate(state.Parameters, effective, ctx.contextObject) : effective;
        output = filterPath(state.OutputPath as string | null | undefined, applyResultPath(state.ResultPath as string | null | undefined, current, result), ctx.contextObject);
        break;
      }
      case 'Choice': {
        const effective = filterPath(state.InputPath as string | null | undefined, current, ctx.contextObject);
        next = chooseNext(state, effective, ctx.contextObject);
        output = filterPath(state.OutputPath as string | null | undefined, effective, ctx.contextObject);
        break;
      }
      case 'Wait': {
        const effective = filterPath(state.InputPath as string | null | undefined, current, ctx.contextObject);
        const seconds = typeof state.Seconds === 'number' ? state.Seconds : typeof state.SecondsPath === 'string' ? Number(readPath(state.SecondsPath, effective)) : undefined;
        const until = typeof state.Timestamp === 'string' ? state.Timestamp : typeof state.TimestampPath === 'string' ? String(readPath(state.TimestampPath, effective)) : undefined;
        const now = ctx.startMs + ctx.elapsedMs;
        ctx.elapsedMs += seconds !== undefined ? seconds * 1000 : Math.max(0, Date.parse(until ?? '') - now);
        output = filterPath(state.OutputPath as string | null | undefined, effective, ctx.contextObject);
        break;
      }
      case 'Succeed':
        return filterPath(state.OutputPath as string | null | undefined, filterPath(state.InputPath as string | null | undefined, current, ctx.contextObject), ctx.contextObject);
      case 'Fail': {
        const error = typeof state.ErrorPath === 'string' ? String(readPath(state.ErrorPath, current)) : String(state.Error ?? 'States.Fail');
        const cause = typeof state.CausePath === 'string' ? String(readPath(state.CausePath, current)) : String(state.Cause ?? '');
        throw new StatesError(error, cause);
      }
      case 'Task':
      case 'Map':
      case 'Parallel': {
        const done = await runWorkState(name, state, current, ctx, host);
        output = done.output;
        if (done.next !== undefined) next = done.next;
        break;
      }
      default:
        throw new StatesError('States.Runtime', `The twin does not run ${String(state.Type)} states`);
    }
    checkLimits(ctx);
    if (state.End === true && next === state.Next) return output;
    if (next === undefined) return output;
    current = output;
    name = next;
  }
}
