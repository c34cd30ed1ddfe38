/**
 * How Lambda reports what happened in an execution environment: the Invoke response for each
 * way an invocation ends, and the platform log lines around it.
 *
 * - A handler error: FunctionError `Unhandled`, the error document as payload ("AWS Lambda
 *   function errors in Node.js": `{ errorType, errorMessage, trace }`, StatusCode 200).
 * - A timeout: the worker is stopped; errorType `Sandbox.Timedout` ("Troubleshoot invocation
 *   issues in Lambda") with the message `Task timed out after N.NN seconds`.
 * - A crash (the process exited): errorType `Runtime.ExitError`, `Runtime exited with error:
 *   exit status N` / `signal: SIG`.
 * - Platform lines: `START RequestId: <id> Version: $LATEST`, `END RequestId: <id>`, `REPORT
 *   RequestId: <id>\tDuration: … ms\tBilled Duration: … ms\tMemory Size: … MB…` ("Log and monitor
 *   Node.js Lambda functions", example log format).
 */
import type { TwinFunction } from '../world';
import type { LambdaErrorPayload, LogLine } from './types';
import type { PhaseResult } from './worker';

/** The Invoke response body for a phase result. */
export interface ResponseBody {
  readonly payloadText: string;
  readonly functionError?: 'Unhandled';
  readonly timedOut: boolean;
}

/**
 * The response body Lambda returns for `result`.
 *
 * @example
 * responseBody({ kind: 'timeout' }, fn, requestId).payloadText; // {"errorType":"Sandbox.Timedout",...}
 */
export function responseBody(result: PhaseResult, fn: TwinFunction, requestId: string): ResponseBody {
  switch (result.kind) {
    case 'ok':
      return { payloadText: result.payload ?? 'null', timedOut: false };
    case 'error':
      return failed(result.error);
    case 'timeout':
      return {
        ...failed({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${requestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds` }),
        timedOut: true,
      };
    case 'crash': {
      const how = result.exitCode !== null ? `exit status ${result.exitCode}` : `signal: ${result.signal ?? 'unknown'}`;
      return failed({ errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${how}` });
    }
  }
}

function failed(error: LambdaErrorPayload): ResponseBody {
  return { payloadText: JSON.stringify(error), functionError: 'Unhandled', timedOut: false };
}

/** The platform's START line. */
export function startLine(requestId: string): LogLine {
  return { stream: 'platform', phase: 'invoke', text: `START RequestId: ${requestId} Version: $LATEST` };
}

/** The platform's END and REPORT lines. */
export function endLines(requestId: string, fn: TwinFunction, durationMs: number, initDurationMs: number | undefined): LogLine[] {
  const init = initDurationMs === undefined ? '' : `\tInit Duration: ${initDurationMs.toFixed(2)} ms`;
  const report = `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(durationMs)} ms\tMemory Size: ${fn.memoryMiB} MB${init}`;
  return [
    { stream: 'platform', phase: 'invoke', text: `END RequestId: ${requestId}` },
    { stream: 'platform', phase: 'invoke', text: report },
  ];
}
