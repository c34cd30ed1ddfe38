/**
 * Types shared by the twin's Step Functions interpreter (../state-machine.ts, ./interpreter.ts,
 * ./distributed-map.ts): what an execution records and what the interpreter needs from its host.
 */
import type { TwinStateMachine } from '../../world';

/** What `invokeLambda` returns (the Lambda runtime is another part of the twin). */
export interface LambdaInvokeResult {
  readonly statusCode: number;
  /** `Unhandled` / `Handled` when the function itself failed (Invoke's X-Amz-Function-Error). */
  readonly functionError?: string;
  readonly payload: unknown;
  /** A Lambda service error instead of a function result, e.g. `TooManyRequestsException` for throttles. */
  readonly errorType?: string;
}

/** Invokes a function as `callerRoleArn` (synchronously, RequestResponse). */
export type InvokeLambda = (functionArn: string, payload: unknown, callerRoleArn: string) => Promise<LambdaInvokeResult>;

/** One retry the interpreter made, with the simulated delay it waited. */
export interface RetryRecord {
  readonly executionArn: string;
  readonly state: string;
  readonly error: string;
  /** 1-based retry number within its Retrier. */
  readonly attempt: number;
  /** IntervalSeconds × BackoffRate^(attempt−1), capped by MaxDelaySeconds. */
  readonly baseDelaySeconds: number;
  /** The delay after JitterStrategy (equal to the base without jitter). */
  readonly delaySeconds: number;
}

/** One state failure (caught, retried or final). */
export interface FailureRecord {
  readonly executionArn: string;
  readonly state: string;
  readonly error: string;
  readonly cause: string;
}

/** Execution statuses of DescribeExecution. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** A child workflow execution a Distributed Map started. */
export interface ChildExecutionRecord {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  readonly mapRunArn: string;
  readonly input: unknown;
  status: ExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
  readonly startDate: Date;
  stopDate?: Date;
}

/** One Map Run of a Distributed Map state. */
export interface MapRunRecord {
  readonly mapRunArn: string;
  readonly state: string;
  readonly itemCount: number;
  readonly batchCount: number;
  /** Largest number of child executions that were running at one moment. */
  maxInFlight: number;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** S3 keys the ResultWriter wrote (manifest.json first). */
  resultKeys: string[];
}

/** Everything one execution recorded (its own states and its map runs' children). */
export interface ExecutionRecord {
  readonly childExecutions: ChildExecutionRecord[];
  readonly mapRuns: MapRunRecord[];
  readonly retries: RetryRecord[];
  readonly failures: FailureRecord[];
}

/** Per-run state the interpreter threads through the states of one (parent or child) execution. */
export interface RunContext {
  readonly stateMachine: TwinStateMachine;
  readonly executionArn: string;
  readonly executionName: string;
  /** Start, ms since the epoch (simulated). */
  readonly startMs: number;
  /** Simulated time this run has spent waiting (retry delays), ms. */
  elapsedMs: number;
  /** Deadline of the top-level TimeoutSeconds, ms since the epoch, if any. */
  readonly deadlineMs?: number;
  readonly record: ExecutionRecord;
  /** Set when StopExecution aborts the execution. */
  readonly aborted: () => boolean;
  /** The `$$` context object (Execution, StateMachine, State, Map.Item). */
  readonly contextObject: Record<string, unknown>;
}
