/**
 * What the twin's Lambda runtime returns and records. Shapes follow the Lambda Invoke API
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: StatusCode, FunctionError,
 * ExecutedVersion, Payload; TooManyRequestsException with Reason) and "Capturing records of
 * Lambda asynchronous invocations" (the invocation record).
 */

/** One line a function (or the Lambda platform) wrote to its log stream. */
export interface LogLine {
  /** `platform`: the START / END / REPORT lines Lambda itself writes. */
  readonly stream: 'stdout' | 'stderr' | 'platform';
  /** `init`: written while the bundle was required (cold start), before START. */
  readonly phase: 'init' | 'invoke';
  readonly text: string;
}

/** `{ errorType, errorMessage, trace }`: Lambda's Node.js error document. */
export interface LambdaErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

/** An error of the Invoke call itself (the function did not run). */
export interface LambdaServiceError {
  /** `TooManyRequestsException` (429) or `ResourceNotFoundException` (404). */
  readonly name: 'TooManyRequestsException' | 'ResourceNotFoundException';
  readonly statusCode: 429 | 404;
  readonly message: string;
  /** TooManyRequestsException's `Reason` (`ReservedFunctionConcurrentInvocationLimitExceeded`, ...). */
  readonly reason?: string;
}

/** The result of one synchronous (RequestResponse) invocation. */
export interface InvokeOutcome {
  readonly requestId: string;
  readonly functionName: string;
  /** 200 when the function ran (also with a function error); 429 throttled; 404 unknown function. */
  readonly statusCode: number;
  readonly executedVersion?: '$LATEST';
  /** Present when the function failed: Lambda reports every runtime-caught error as `Unhandled`. */
  readonly functionError?: 'Unhandled';
  /** The response payload as Invoke returns it (JSON text): the result, or the error document. */
  readonly payloadText?: string;
  /** `payloadText` parsed. */
  readonly payload?: unknown;
  readonly serviceError?: LambdaServiceError;
  /** The function timed out (the worker was killed). */
  readonly timedOut: boolean;
  /** A new execution environment was started (and the bundle required) for this invocation. */
  readonly coldStart: boolean;
  /** Real milliseconds the cold start took (spawn + require), when `coldStart`. */
  readonly initDurationMs?: number;
  /** Real milliseconds the handler ran. */
  readonly durationMs: number;
  /** Simulated time the invocation started at. */
  readonly startedAt: number;
  readonly logs: readonly LogLine[];
}

/** One attempt of an asynchronous invocation. */
export interface AsyncAttempt {
  readonly attempt: number;
  /** How long Lambda waited before this attempt (0, then about 1 and 2 minutes): simulated, not slept (the attempt's startedAt is that much later). */
  readonly simulatedDelayMs: number;
  readonly outcome: InvokeOutcome;
}

/** The invocation record Lambda sends to a destination ("Capturing records of Lambda asynchronous invocations"). */
export interface InvocationRecord {
  readonly version: '1.0';
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';
    readonly approximateInvokeCount: number;
  };
  readonly requestPayload: unknown;
  readonly responseContext: { readonly statusCode: number; readonly executedVersion: string; readonly functionError?: string };
  readonly responsePayload: unknown;
}

/** An event Lambda gave up on and could not hand to its failure destination. */
export interface LostEvent {
  readonly functionName: string;
  readonly requestId: string;
  readonly event: unknown;
  readonly reason: string;
  readonly destinationArn?: string;
  readonly record?: InvocationRecord;
}

/** The result of one asynchronous (Event) invocation, after every retry and the destination. */
export interface AsyncOutcome {
  readonly requestId: string;
  readonly functionName: string;
  /** 202 when the event was queued; 404 unknown function (nothing ran). */
  readonly statusCode: 202 | 404;
  readonly attempts: readonly AsyncAttempt[];
  readonly succeeded: boolean;
  /** Why Lambda gave up (absent when an attempt succeeded). */
  readonly condition?: 'RetriesExhausted' | 'EventAgeExceeded';
  /** The failure destination delivery, when one is configured and Lambda gave up. */
  readonly destination?: { readonly arn: string; readonly record: InvocationRecord; readonly delivered: boolean; readonly error?: string };
  /** Throttled attempts Lambda put back in its queue (they do not count as retries). */
  readonly throttles: number;
}

/** One invocation's captured output, for plaintext-hygiene assertions. */
export interface InvocationLog {
  readonly functionName: string;
  readonly requestId: string;
  readonly invocationType: 'RequestResponse' | 'Event';
  readonly logs: readonly LogLine[];
}
