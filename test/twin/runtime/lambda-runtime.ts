/**
 * The twin's Lambda service: runs each function from its bundled asset on Node 24, in warm
 * execution environments (one invocation at a time each, more environments for concurrent
 * invocations), with the template's environment, the role's credentials and the simulated
 * clock; enforces reserved concurrency; implements asynchronous invocation (retries and the
 * failure destination, sent as the execution role through the proxy); turns EMF log lines and
 * Lambda's own metrics into data points.
 *
 * Lambda facts used here: "Understanding the Lambda execution environment lifecycle" (Init once
 * per environment, then Invoke; a failed environment is replaced), "Lambda function scaling"
 * and "Configuring reserved concurrency" (one invocation per environment; reserved concurrency
 * is the function's maximum, beyond it invocations are throttled; unreserved functions share
 * the account's concurrency, 1,000 by default, minus every reservation), the Invoke API
 * (TooManyRequestsException, 429, with Reason), and "Monitoring functions: types of metrics"
 * (AWS/Lambda Invocations, Errors, Throttles, Duration, DestinationDeliveryFailures by
 * FunctionName).
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SimClock, TwinFunction, TwinWorld } from '../world';
import { runAsyncInvocation } from './async-invoke';
import { CloudWatchForwarder } from './cloudwatch-forwarder';
import { parseEmfLine } from './emf';
import { lambdaEnvironment, sessionTokenFor } from './lambda-env';
import { MetricStore, type MetricDatum } from './metric-store';
import { ensureNode24 } from './node24';
import { endLines, responseBody, startLine } from './outcomes';
import type { AsyncOutcome, InvocationLog, InvocationRecord, InvokeOutcome, LogLine, LostEvent } from './types';
import { Worker, type PhaseOutcome } from './worker';

export { MetricStore, type MetricDatum } from './metric-store';
export type { AsyncOutcome, InvocationLog, InvocationRecord, InvokeOutcome, LogLine, LostEvent } from './types';

/** Options of {@link LambdaRuntime}. */
export interface LambdaRuntimeOptions {
  readonly world: TwinWorld;
  /** AWS_ENDPOINT_URL of every function, and the endpoint of destination deliveries. */
  readonly proxyUrl: string;
  /** The private moto, for PutMetricData (CloudWatch Logs' EMF extraction is not a proxied caller). */
  readonly motoUrl: string;
  readonly clock: SimClock;
  readonly metrics: MetricStore;
  /** Node 24 binary; default {@link ensureNode24}. */
  readonly node?: string;
  /** Real ms per configured timeout ms before a worker is killed. @default 1 */
  readonly timeoutScale?: number;
  /** Real ms the init phase (spawn + require) may take. @default 10000 (Lambda's init limit) */
  readonly initTimeoutMs?: number;
  /** The account's concurrency limit. @default 1000 */
  readonly accountConcurrency?: number;
}

const ASYNC_STATUS_NOT_FOUND = 404;

/**
 * Runs the world's functions as Lambda does.
 *
 * @example
 * const runtime = new LambdaRuntime({ world, proxyUrl, motoUrl, clock, metrics });
 * const out = await runtime.invokeSync('rekey-rotate', { keyring: 'payments' });
 * await runtime.close();
 */
export class LambdaRuntime {
  /** Every invocation's captured lines, in completion order (plaintext-hygiene hook). */
  public readonly invocationLogs: InvocationLog[] = [];
  /** Events Lambda gave up on and could not deliver to their failure destination. */
  public readonly lostEvents: LostEvent[] = [];
  /** PutMetricData failures (data points stay in the MetricStore). */
  public readonly forwardFailures: string[] = [];

  private readonly idle = new Map<string, Worker[]>();
  private readonly live = new Map<Worker, string>();
  private readonly inFlight = new Map<string, number>();
  private readonly coldStarts = new Map<string, number>();
  /** The function configuration each environment was initialized with (see {@link configFingerprint}). */
  private readonly configOf = new WeakMap<Worker, string>();
  private readonly waiters: (() => void)[] = [];
  private readonly pendingAsync = new Set<Promise<AsyncOutcome>>();
  private readonly forwarder: CloudWatchForwarder;
  private readonly runtimeDir = __dirname;
  private node: Promise<string> | undefined;
  private closed = false;

  public constructor(private readonly options: LambdaRuntimeOptions) {
    this.forwarder = new CloudWatchForwarder(options.motoUrl, options.world.region);
    if (options.node !== undefined) this.node = Promise.resolve(options.node);
  }

  /** A synchronous (RequestResponse) invocation. */
  public async invokeSync(fnNameOrArn: string, event: unknown): Promise<InvokeOutcome> {
    const fn = this.options.world.fn(fnNameOrArn);
    if (fn === undefined) return this.notFound(fnNameOrArn);
    return this.attempt(fn, event, randomUUID(), 'RequestResponse');
  }

  /** What the Step Functions driver calls for a Lambda task: a synchronous invocation. */
  public invokeForStepFunctions(fnNameOrArn: string, payload: unknown): Promise<InvokeOutcome> {
    return this.invokeSync(fnNameOrArn, payload);
  }

  /**
   * An asynchronous (Event) invocation, resolved once Lambda is done with the event (success,
   * retries exhausted and destination sent, or event lost).
   */
  public invokeAsync(fnNameOrArn: string, event: unknown): Promise<AsyncOutcome> {
    const fn = this.options.world.fn(fnNameOrArn);
    const requestId = randomUUID();
    if (fn === undefined) {
      return Promise.resolve({ requestId, functionName: fnNameOrArn, statusCode: ASYNC_STATUS_NOT_FOUND, attempts: [], succeeded: false, throttles: 0 });
    }
    const run = runAsyncInvocation({
      fn,
      event,
      requestId,
      now: () => this.options.clock.now(),
      attempt: (at) => this.attempt(fn, event, requestId, 'Event', at),
      // The invocation that held the capacity may have ended while the throttled attempt was
      // publishing its Throttles metric: waiting for its wake-up then would wait forever.
      capacityFreed: () => (this.throttleReason(fn) === undefined ? Promise.resolve() : new Promise<void>((resolve) => this.waiters.push(resolve))),
      deliver: (arn, record) => this.deliver(fn, arn, record),
    }).then((outcome) => {
      this.recordLoss(fn, event, outcome);
      return outcome;
    });
    this.pendingAsync.add(run);
    void run.finally(() => this.pendingAsync.delete(run));
    return run;
  }

  /** Resolves when every asynchronous invocation started so far is done. */
  public async settled(): Promise<void> {
    while (this.pendingAsync.size > 0) await Promise.allSettled([...this.pendingAsync]);
  }

  /** How many execution environments `fnName` has started (cold starts). */
  public coldStartCount(fnName: string): number {
    return this.coldStarts.get(fnName) ?? 0;
  }

  /** Live execution environments of `fnName` (idle or busy). */
  public workerCount(fnName: string): number {
    return [...this.live.values()].filter((name) => name === fnName).length;
  }

  /** Every captured line (function output and platform lines) of every invocation so far. */
  public logLines(functionName?: string): string[] {
    return this.invocationLogs.filter((l) => functionName === undefined || l.functionName === functionName).flatMap((l) => l.logs.map((line) => line.text));
  }

  /** Kills every execution environment and releases clients. */
  public async close(): Promise<void> {
    this.closed = true;
    for (const w of this.live.keys()) w.kill();
    this.live.clear();
    this.idle.clear();
    for (const wake of this.waiters.splice(0)) wake();
    this.forwarder.close();
  }

  private notFound(fnNameOrArn: string): InvokeOutcome {
    return {
      requestId: randomUUID(),
      functionName: fnNameOrArn,
      statusCode: 404,
      serviceError: { name: 'ResourceNotFoundException', statusCode: 404, message: `Function not found: ${fnNameOrArn}` },
      timedOut: false,
      coldStart: false,
      durationMs: 0,
      startedAt: this.options.clock.now(),
      logs: [],
    };
  }

  /** The concurrency an invocation of `fn` would exceed, if any. */
  private throttleReason(fn: TwinFunction): string | undefined {
    const running = this.inFlight.get(fn.name) ?? 0;
    if (fn.reservedConcurrency !== undefined) return running >= fn.reservedConcurrency ? 'ReservedFunctionConcurrentInvocationLimitExceeded' : undefined;
    const fns = [...this.options.world.functions.values()];
    const reserved = fns.reduce((sum, f) => sum + (f.reservedConcurrency ?? 0), 0);
    const unreservedRunning = fns.filter((f) => f.reservedConcurrency === undefined).reduce((sum, f) => sum + (this.inFlight.get(f.name) ?? 0), 0);
    return unreservedRunning >= (this.options.accountConcurrency ?? 1000) - reserved ? 'ConcurrentInvocationLimitExceeded' : undefined;
  }

  /**
   * One invocation. `at` is the simulated instant it starts (an asynchronous retry runs after
   * Lambda's documented wait: see async-invoke.ts); the twin's now when absent or earlier.
   */
  private async attempt(fn: TwinFunction, event: unknown, requestId: string, invocationType: InvocationLog['invocationType'], at?: number): Promise<InvokeOutcome> {
    const startedAt = Math.max(this.options.clock.now(), at ?? 0);
    const base = { requestId, functionName: fn.name, startedAt };
    if (this.closed) throw new Error(`twin: the Lambda runtime is closed (invoking ${fn.name})`);
    const reason = this.throttleReason(fn);
    if (reason !== undefined) {
      await this.publish([this.lambdaMetric(fn, 'Throttles', 1, 'Count', startedAt)]);
      return { ...base, statusCode: 429, serviceError: { name: 'TooManyRequestsException', statusCode: 429, message: 'Rate Exceeded.', reason }, timedOut: false, coldStart: false, durationMs: 0, logs: [] };
    }
    this.inFlight.set(fn.name, (this.inFlight.get(fn.name) ?? 0) + 1);
    try {
      const { worker, init, coldStart } = await this.acquire(fn);
      const logs: LogLine[] = [...(init?.logs ?? [])];
      logs.push(startLine(requestId));
      let phase: PhaseOutcome;
      if (init !== undefined && init.result.kind !== 'ok') {
        phase = { result: init.result, logs: [], durationMs: 0 };
      } else {
        phase = await worker.invoke({
          requestId,
          invokedFunctionArn: fn.arn,
          event,
          now: startedAt,
          timeoutMs: fn.timeoutSeconds * 1000,
          timeScale: this.options.timeoutScale ?? 1,
        });
      }
      logs.push(...phase.logs);
      const body = responseBody(phase.result, fn, requestId);
      // A timed-out, crashed or failed-init environment is not reused.
      if (worker.alive && (init === undefined || init.result.kind === 'ok') && !body.timedOut) this.release(fn, worker);
      else this.discard(worker);
      const durationMs = body.timedOut ? fn.timeoutSeconds * 1000 : phase.durationMs;
      logs.push(...endLines(requestId, fn, durationMs, coldStart ? init?.durationMs : undefined));
      const points = logs.filter((l) => l.stream === 'stdout').flatMap((l) => parseEmfLine(l.text));
      points.push(this.lambdaMetric(fn, 'Invocations', 1, 'Count', startedAt), this.lambdaMetric(fn, 'Duration', durationMs, 'Milliseconds', startedAt));
      if (body.functionError !== undefined) points.push(this.lambdaMetric(fn, 'Errors', 1, 'Count', startedAt));
      await this.publish(points);
      this.invocationLogs.push({ functionName: fn.name, requestId, invocationType, logs });
      return {
        ...base,
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(body.functionError === undefined ? {} : { functionError: body.functionError }),
        payloadText: body.payloadText,
        payload: JSON.parse(body.payloadText) as unknown,
        timedOut: body.timedOut,
        coldStart,
        ...(coldStart && init !== undefined ? { initDurationMs: init.durationMs } : {}),
        durationMs,
        logs,
      };
    } finally {
      this.inFlight.set(fn.name, (this.inFlight.get(fn.name) ?? 1) - 1);
      for (const wake of this.waiters.splice(0)) wake();
    }
  }

  /** A warm idle environment, or a new one (cold start: spawn and require the bundle). */
  private async acquire(fn: TwinFunction): Promise<{ worker: Worker; init?: PhaseOutcome; coldStart: boolean }> {
    const pool = this.idle.get(fn.name) ?? [];
    const config = configFingerprint(fn);
    for (let w = pool.pop(); w !== undefined; w = pool.pop()) {
      if (w.alive && this.configOf.get(w) === config) return { worker: w, coldStart: false };
      // An environment of an earlier configuration (a redeploy changed the code, environment or
      // role) is never reused: after UpdateFunctionConfiguration / UpdateFunctionCode the function
      // "is processing events with the new configuration" (Lambda API Reference,
      // UpdateFunctionConfiguration), in new execution environments.
      this.discard(w);
    }
    const role = this.options.world.roles.get(fn.roleArn);
    if (role === undefined) throw new Error(`twin: ${fn.name}'s execution role ${fn.roleArn} is not in the world`);
    this.node ??= ensureNode24();
    const node = await this.node;
    const now = this.options.clock.now();
    const env = lambdaEnvironment({
      fn,
      role,
      region: this.options.world.region,
      logStreamName: `${new Date(now).toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomUUID().replace(/-/g, '')}`,
      runtimeDir: this.runtimeDir,
      endpointUrl: this.options.proxyUrl,
    });
    const { worker, init } = await Worker.start({ node, taskRoot: path.resolve(fn.assetDir), env, now, initTimeoutMs: this.options.initTimeoutMs ?? 10_000 });
    this.live.set(worker, fn.name);
    this.configOf.set(worker, config);
    this.coldStarts.set(fn.name, this.coldStartCount(fn.name) + 1);
    return { worker, init, coldStart: true };
  }

  private release(fn: TwinFunction, worker: Worker): void {
    if (this.closed) return this.discard(worker);
    const pool = this.idle.get(fn.name) ?? [];
    pool.push(worker);
    this.idle.set(fn.name, pool);
  }

  private discard(worker: Worker): void {
    worker.kill();
    this.live.delete(worker);
  }

  private lambdaMetric(fn: TwinFunction, name: string, value: number, unit: string, timestamp: number): MetricDatum {
    return { namespace: 'AWS/Lambda', name, dimensions: { FunctionName: fn.name }, value, unit, timestamp };
  }

  private async publish(points: readonly MetricDatum[]): Promise<void> {
    for (const p of points) this.options.metrics.put(p);
    if (points.length === 0 || this.closed) return;
    try {
      await this.forwarder.put(points);
    } catch (err) {
      this.forwardFailures.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
  }

  /** Sends an invocation record to an SQS destination as the function's execution role, through the proxy. */
  private async deliver(fn: TwinFunction, destinationArn: string, record: InvocationRecord): Promise<void> {
    const [, , service, region, account, name] = destinationArn.split(':');
    if (service !== 'sqs' || name === undefined) throw new Error(`twin: destination ${destinationArn} is not an SQS queue (the twin delivers to SQS only)`);
    const role = this.options.world.roles.get(fn.roleArn);
    if (role === undefined) throw new Error(`twin: ${fn.name}'s execution role ${fn.roleArn} is not in the world`);
    const queue = [...this.options.world.queues.values()].find((q) => q.arn === destinationArn);
    const client = new SQSClient({
      endpoint: this.options.proxyUrl,
      region: region ?? this.options.world.region,
      credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey, sessionToken: sessionTokenFor(role) },
      maxAttempts: 1,
    });
    try {
      await client.send(new SendMessageCommand({ QueueUrl: queue?.url ?? `${this.options.proxyUrl}/${account}/${name}`, MessageBody: JSON.stringify(record) }));
    } finally {
      client.destroy();
    }
  }

  private recordLoss(fn: TwinFunction, event: unknown, outcome: AsyncOutcome): void {
    if (outcome.succeeded) return;
    const dest = outcome.destination;
    if (dest?.delivered === true) return;
    const reason = dest === undefined ? `${outcome.condition ?? 'failed'}; no failure destination configured` : `destination delivery failed: ${dest.error ?? 'unknown'}`;
    this.lostEvents.push({ functionName: fn.name, requestId: outcome.requestId, event, reason, ...(dest === undefined ? {} : { destinationArn: dest.arn, record: dest.record }) });
    if (dest !== undefined) void this.publish([this.lambdaMetric(fn, 'DestinationDeliveryFailures', 1, 'Count', this.options.clock.now())]);
  }
}

/** What an execution environment is initialized from: a change of any of it needs a new one. */
function configFingerprint(fn: TwinFunction): string {
  const { assetDir, handler, environment, roleArn, runtime, timeoutSeconds, memoryMiB } = fn;
  return JSON.stringify({ assetDir, handler, roleArn, runtime, timeoutSeconds, memoryMiB, environment: Object.entries(environment).sort(([a], [b]) => a.localeCompare(b)) });
}
