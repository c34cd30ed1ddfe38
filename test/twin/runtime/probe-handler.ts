/**
 * A tiny Lambda handler for the runtime's own tests (test/twin/runtime.test.ts), bundled like a
 * rekey function: it reports what an execution environment looks like from inside (Node
 * version, environment, Date, context) and misbehaves on request (throws, sleeps, exits).
 * It is not deployed.
 */
import { createRequire } from 'node:module';
import type { Context } from 'aws-lambda';

/** What the probe can be asked to do. */
export type ProbeEvent =
  | { readonly action: 'inspect' }
  | { readonly action: 'throw'; readonly message: string }
  /** Throws (a retryable error) while its simulated Date is before `until` (ms since the epoch), then returns that Date. */
  | { readonly action: 'fail-until'; readonly until: number }
  | { readonly action: 'sleep'; readonly ms: number }
  | { readonly action: 'exit'; readonly code: number }
  | { readonly action: 'require'; readonly module: string }
  | { readonly action: 'log'; readonly lines: readonly string[] };

// Module scope lives as long as the execution environment: a warm invocation sees the count go on.
let invocations = 0;
const loadedAt = Date.now();

/** The probe's entry point. */
export async function handler(event: ProbeEvent, context: Context): Promise<unknown> {
  invocations += 1;
  switch (event.action) {
    case 'inspect':
      return {
        version: process.version,
        pid: process.pid,
        invocations,
        loadedAt,
        env: { ...process.env },
        now: Date.now(),
        iso: new Date().toISOString(),
        dateString: Date(),
        dateParse: new Date('2020-01-01T00:00:00Z').getTime(),
        instanceOfDate: new Date() instanceof Date,
        timezoneOffset: new Date().getTimezoneOffset(),
        context: {
          awsRequestId: context.awsRequestId,
          functionName: context.functionName,
          functionVersion: context.functionVersion,
          invokedFunctionArn: context.invokedFunctionArn,
          memoryLimitInMB: context.memoryLimitInMB,
          logGroupName: context.logGroupName,
          logStreamName: context.logStreamName,
          callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
          remaining: context.getRemainingTimeInMillis(),
        },
      };
    case 'throw':
      throw new TypeError(event.message);
    case 'fail-until': {
      const now = Date.now();
      if (now < event.until) throw new Error(`settling until ${new Date(event.until).toISOString()} (now ${new Date(now).toISOString()})`);
      return { now };
    }
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, event.ms));
      return { slept: event.ms, remaining: context.getRemainingTimeInMillis() };
    case 'exit':
      process.exit(event.code);
      return undefined;
    case 'require':
      // The bundle leaves this module external on purpose: Lambda would not find it either.
      return { loaded: typeof createRequire(__filename)(event.module) };
    case 'log':
      for (const line of event.lines) process.stdout.write(`${line}\n`);
      console.log('logged %d lines', event.lines.length);
      return { logged: event.lines.length };
  }
}
