/**
 * The twin's Step Functions: runs a state machine from its own ASL definition (./asl/*) as Step
 * Functions does, on the simulated clock, calling Lambda through the twin's runtime and S3 as the
 * state machine's role through the twin's proxy. Serves StartExecution / DescribeExecution /
 * StopExecution for the proxy in the AWS JSON 1.0 shapes the SDK expects
 * (node_modules/@aws-sdk/client-sfn: AwsJson1_0Protocol; errors `{ "__type", "message" }`,
 * timestamps as epoch seconds).
 */
import { randomUUID } from 'node:crypto';
import aslValidator from 'asl-validator';
import type { RequestAuthorizer } from '../authz/types';
import type { SimClock, TwinStateMachine, TwinWorld } from '../world';
import { runDistributedMap } from './asl/distributed-map';
import { asStatesError } from './asl/errors';
import { ExecutionAborted, ExecutionTimedOut, runMachine, type AslMachine, type InterpreterHost } from './asl/interpreter';
import type { ExecutionRecord, ExecutionStatus, InvokeLambda, LambdaInvokeResult } from './asl/types';
import type { MetricDatum } from './types';

export type { ChildExecutionRecord, ExecutionRecord, ExecutionStatus, FailureRecord, LambdaInvokeResult, MapRunRecord, RetryRecord } from './asl/types';

/** Constructor options of {@link TwinStepFunctions}. */
export interface TwinStepFunctionsOptions {
  readonly world: TwinWorld;
  /** The twin's authorizing proxy: S3 calls of the Distributed Map go there, signed as the role. */
  readonly proxyUrl: string;
  readonly clock: SimClock;
  readonly invokeLambda: (functionArn: string, payload: unknown, callerRoleArn: string) => Promise<LambdaInvokeResult>;
  readonly authorizer: RequestAuthorizer;
  /** ListObjectsV2 page size of the ItemReader (AWS: 1000); smaller values exercise pagination. */
  readonly listPageSize?: number;
  /** Randomness of JitterStrategy FULL (default Math.random). */
  readonly random?: () => number;
  /** Where the service's AWS/States execution metrics go (see {@link TwinStepFunctions}). */
  readonly metrics?: { put(datum: MetricDatum): void };
}

/**
 * AWS/States execution metrics by terminal status, dimension StateMachineArn ("Monitoring Step
 * Functions metrics using Amazon CloudWatch", Execution metrics: ExecutionsStarted,
 * ExecutionsSucceeded, ExecutionsFailed, ExecutionsAborted, ExecutionsTimedOut;
 * https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html).
 */
const EXECUTION_METRIC: Readonly<Partial<Record<ExecutionStatus, string>>> = {
  SUCCEEDED: 'ExecutionsSucceeded',
  FAILED: 'ExecutionsFailed',
  TIMED_OUT: 'ExecutionsTimedOut',
  ABORTED: 'ExecutionsAborted',
};

/** A Step Functions API error (`code` is the SDK's exception name, e.g. ExecutionAlreadyExists). */
export class StepFunctionsError extends Error {
  public constructor(public readonly code: string, message: string, public readonly status = 400) {
    super(message);
    this.name = code;
  }
}

/** The DescribeExecution response (SDK shape: Dates as Date). */
export interface DescribeExecutionResult {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly input: string;
  readonly inputDetails: { readonly included: boolean };
  readonly output?: string;
  readonly outputDetails?: { readonly included: boolean };
  readonly error?: string;
  readonly cause?: string;
  readonly redriveCount: number;
}

interface Execution {
  readonly arn: string;
  readonly name: string;
  readonly stateMachine: TwinStateMachine;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  abort?: { error?: string; cause?: string };
  readonly record: ExecutionRecord;
  done: Promise<void>;
}

// StartExecution `name`: 1–80 characters, none of whitespace, < > { } [ ], ? *, " # % \ ^ | ~ ` $ & , ; : /,
// control characters (StartExecution API reference).
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const invalidName = (name: string): boolean =>
  name.length < 1 || name.length > 80 || INVALID_NAME_CHARS.test(name) || [...name].some((ch) => { const c = ch.charCodeAt(0); return c < 0x20 || (c >= 0x7f && c <= 0x9f); });
const NAME_REUSE_MS = 90 * 24 * 3600 * 1000;

/** Step Functions, run by the twin. */
export class TwinStepFunctions {
  private readonly executions = new Map<string, Execution>();
  private readonly host: InterpreterHost;
  private readonly validated = new Map<string, { readonly isValid: boolean; readonly errors: readonly string[] }>();

  public constructor(private readonly options: TwinStepFunctionsOptions) {
    const access = { world: options.world, proxyUrl: options.proxyUrl, listPageSize: options.listPageSize };
    const host: InterpreterHost = {
      world: options.world,
      authorizer: options.authorizer,
      invokeLambda: options.invokeLambda as InvokeLambda,
      random: options.random ?? Math.random,
      runDistributedMap: (stateName, state, input, ctx) => runDistributedMap(stateName, state, input, ctx, host, access),
    };
    this.host = host;
  }

  /**
   * Validates an ASL definition with asl-validator (which annotates its argument, hence the copy).
   * Memoized by the definition's text: asl-validator compiles its schemas on every call (about
   * 50 ms), which dominated long scenarios that start an execution per sweep.
   */
  public validateDefinition(definition: unknown): { isValid: boolean; errors: string[] } {
    const text = JSON.stringify(definition);
    const known = this.validated.get(text);
    if (known !== undefined) return { isValid: known.isValid, errors: [...known.errors] };
    const result = aslValidator(structuredClone(definition));
    const outcome = { isValid: result.isValid, errors: result.errors.map((e) => `${e['Error code'] ?? ''} ${e.path ?? ''} ${e.message ?? ''}`.trim()) };
    this.validated.set(text, outcome);
    return { isValid: outcome.isValid, errors: [...outcome.errors] };
  }

  /**
   * StartExecution. Idempotent for STANDARD workflows: "if you call StartExecution with the same
   * name and input as a running execution, the call succeeds and return the same response as the
   * original request. If the execution is closed or if the input is different, it returns a 400
   * ExecutionAlreadyExists error. You can reuse the name 90 days after it closes"
   * (StartExecutionCommand docs in @aws-sdk/client-sfn; API_StartExecution).
   */
  public startExecution(stateMachineArn: string, input = '{}', opts: { name?: string; callerArn?: string } = {}): { executionArn: string; startDate: Date } {
    const sm = [...this.options.world.stateMachines.values()].find((m) => m.arn === stateMachineArn);
    if (sm === undefined) throw new StepFunctionsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const name = opts.name ?? randomUUID();
    if (invalidName(name)) throw new StepFunctionsError('InvalidName', `Invalid Name: '${name}'`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new StepFunctionsError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${input}'`);
    }
    const validation = this.validateDefinition(sm.definition);
    if (!validation.isValid) throw new StepFunctionsError('InvalidDefinition', `Invalid State Machine Definition: '${validation.errors.join('; ')}'`);
    const arn = `arn:${this.options.world.partition}:states:${this.options.world.region}:${this.options.world.account}:execution:${sm.name}:${name}`;
    const existing = this.executions.get(arn);
    if (existing !== undefined) {
      const reusable = existing.stopDate !== undefined && this.options.clock.now() - existing.stopDate.getTime() >= NAME_REUSE_MS;
      if (!reusable) {
        if (existing.status === 'RUNNING' && existing.input === input) return { executionArn: arn, startDate: existing.startDate };
        throw new StepFunctionsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
      }
    }
    const startDate = new Date(this.options.clock.now());
    const exec: Execution = { arn, name, stateMachine: sm, input, startDate, status: 'RUNNING', record: { childExecutions: [], mapRuns: [], retries: [], failures: [] }, done: Promise.resolve() };
    this.executions.set(arn, exec);
    exec.done = Promise.resolve().then(() => this.run(exec, parsed));
    return { executionArn: arn, startDate };
  }

  private async run(exec: Execution, input: unknown): Promise<void> {
    const definition = exec.stateMachine.definition as unknown as AslMachine;
    const startMs = exec.startDate.getTime();
    const ctx = {
      stateMachine: exec.stateMachine,
      executionArn: exec.arn,
      executionName: exec.name,
      startMs,
      elapsedMs: 0,
      deadlineMs: typeof definition.TimeoutSeconds === 'number' ? startMs + definition.TimeoutSeconds * 1000 : undefined,
      record: exec.record,
      aborted: () => exec.abort !== undefined,
      contextObject: {
        Execution: { Id: exec.arn, Name: exec.name, Input: input, StartTime: exec.startDate.toISOString(), RoleArn: exec.stateMachine.roleArn },
        StateMachine: { Id: exec.stateMachine.arn, Name: exec.stateMachine.name },
      } as Record<string, unknown>,
    };
    try {
      const output = await runMachine(definition, input, ctx, this.host);
      if (exec.status !== 'RUNNING') return;
      exec.output = JSON.stringify(output);
      exec.status = 'SUCCEEDED';
    } catch (err) {
      if (exec.status !== 'RUNNING') return;
      const failure = asStatesError(err);
      exec.status = err instanceof ExecutionTimedOut ? 'TIMED_OUT' : err instanceof ExecutionAborted ? 'ABORTED' : 'FAILED';
      exec.error = failure.error;
      exec.cause = failure.cause;
      if (!(err instanceof ExecutionAborted)) exec.record.failures.push({ executionArn: exec.arn, state: '(execution)', error: failure.error, cause: failure.cause });
    }
    exec.stopDate = new Date(Math.max(this.options.clock.now(), startMs + ctx.elapsedMs));
    this.publishExecution(exec);
  }

  private publishExecution(exec: Execution): void {
    const metrics = this.options.metrics;
    const name = EXECUTION_METRIC[exec.status];
    if (metrics === undefined || name === undefined) return;
    const dimensions = { StateMachineArn: exec.stateMachine.arn };
    metrics.put({ namespace: 'AWS/States', name: 'ExecutionsStarted', dimensions, value: 1, unit: 'Count', timestamp: exec.startDate.getTime() });
    metrics.put({ namespace: 'AWS/States', name, dimensions, value: 1, unit: 'Count', timestamp: (exec.stopDate ?? exec.startDate).getTime() });
  }

  private find(executionArn: string): Execution {
    const exec = this.executions.get(executionArn);
    if (exec === undefined) throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return exec;
  }

  /** DescribeExecution of a top-level execution. */
  public describeExecution(executionArn: string): DescribeExecutionResult {
    const e = this.find(executionArn);
    return {
      executionArn: e.arn, stateMachineArn: e.stateMachine.arn, name: e.name, status: e.status, startDate: e.startDate, stopDate: e.stopDate,
      input: e.input, inputDetails: { included: true },
      ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error !== undefined ? { error: e.error, cause: e.cause } : {}),
      redriveCount: 0,
    };
  }

  /** Resolves with DescribeExecution once the execution has ended. */
  public async waitForExecution(executionArn: string): Promise<DescribeExecutionResult> {
    await this.find(executionArn).done;
    return this.describeExecution(executionArn);
  }

  /** StopExecution: the execution ends ABORTED at its next state transition or retry. */
  public stopExecution(executionArn: string, opts: { error?: string; cause?: string } = {}): { stopDate: Date } {
    const e = this.find(executionArn);
    if (e.status === 'RUNNING') {
      e.abort = opts;
      e.status = 'ABORTED';
      e.error = opts.error;
      e.cause = opts.cause;
      e.stopDate = new Date(this.options.clock.now());
      this.publishExecution(e);
    }
    return { stopDate: e.stopDate ?? new Date(this.options.clock.now()) };
  }

  /** What an execution recorded: child executions, map runs, retries (simulated delays), failures. */
  public executionRecord(executionArn: string): ExecutionRecord {
    return this.find(executionArn).record;
  }

  /** ARNs of the executions started so far, oldest first (optionally of one state machine). */
  public listExecutionArns(stateMachineArn?: string): string[] {
    return [...this.executions.values()].filter((e) => stateMachineArn === undefined || e.stateMachine.arn === stateMachineArn).map((e) => e.arn);
  }

  /**
   * The proxy's hook for Step Functions operations (already authorized by the proxy): AWS JSON 1.0
   * response bodies. `callerArn` is the principal the proxy resolved.
   */
  public readonly serveStepFunctionsRequest = async (operation: string, params: Record<string, unknown>, callerArn: string): Promise<{ status: number; body: unknown }> => {
    const seconds = (d: Date | undefined): number | undefined => (d === undefined ? undefined : d.getTime() / 1000);
    try {
      switch (operation) {
        case 'StartExecution': {
          const r = this.startExecution(String(params.stateMachineArn), typeof params.input === 'string' ? params.input : '{}', { name: params.name as string | undefined, callerArn });
          return { status: 200, body: { executionArn: r.executionArn, startDate: seconds(r.startDate) } };
        }
        case 'DescribeExecution': {
          const d = this.describeExecution(String(params.executionArn));
          return { status: 200, body: { ...d, startDate: seconds(d.startDate), stopDate: seconds(d.stopDate) } };
        }
        case 'StopExecution':
          return { status: 200, body: { stopDate: seconds(this.stopExecution(String(params.executionArn), { error: params.error as string | undefined, cause: params.cause as string | undefined }).stopDate) } };
        default:
          return { status: 400, body: { __type: 'UnknownOperationException', message: `The twin does not serve states:${operation}` } };
      }
    } catch (err) {
      if (err instanceof StepFunctionsError) return { status: err.status, body: { __type: err.code, message: err.message } };
      throw err;
    }
  };
}
