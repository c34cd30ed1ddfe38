/**
 * The twin's Lambda runtime, on Node 24 with real bundles: a real rekey handler (grace-period,
 * built with the stack's esbuild options) and a probe handler of the runtime's own, each run in
 * worker processes with the template's environment, on a private moto_server for SQS
 * destinations and CloudWatch metrics. There is no proxy in this test: the functions' endpoint
 * points straight at moto.
 */
import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ESBUILD_OPTIONS, FUNCTION_ENTRIES } from '../../infra/defaults';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { parseEmfLine } from './runtime/emf';
import { LambdaRuntime, MetricStore, type InvocationRecord } from './runtime/lambda-runtime';
import { RESERVED_VARIABLES } from './runtime/lambda-env';
import { ensureNode24 } from './runtime/node24';
import { SimClock, TwinWorld, type TwinFunction, type TwinRole } from './world';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'node_modules', '.cache', 'rekey-twin-runtime-test');
const START = Date.parse('2027-01-01T00:00:00Z');
const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };

async function bundle(name: string, entry: string, external: string[] = []): Promise<string> {
  const dir = path.join(OUT, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await build({ ...ESBUILD_OPTIONS, mainFields: [...ESBUILD_OPTIONS.mainFields], external: [...ESBUILD_OPTIONS.external, ...external], entryPoints: [path.join(ROOT, entry)], outfile: path.join(dir, 'index.js'), logLevel: 'silent' });
  return dir;
}

const role: TwinRole = {
  logicalId: 'ProbeRole',
  name: 'probe-role',
  arn: 'arn:aws:iam::123456789012:role/probe-role',
  trust: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
  policies: [],
  accessKeyId: 'AKIATWINPROBE0000001',
  secretAccessKey: 'probe-secret-access-key-0000000000000000',
};

function twinFunction(name: string, assetDir: string, extra: Partial<TwinFunction> = {}): TwinFunction {
  return {
    logicalId: name.replace(/-/g, ''),
    name,
    arn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    roleArn: role.arn,
    handler: 'index.handler',
    assetDir,
    runtime: 'nodejs24.x',
    environment: { REKEY_PROBE: 'from-the-template', POWERTOOLS_SERVICE_NAME: name },
    timeoutSeconds: 30,
    memoryMiB: 256,
    permissions: [],
    ...extra,
  };
}

let moto: PrivateMoto;
let node: string;
let probeDir: string;
let graceDir: string;
let sqs: SQSClient;

beforeAll(async () => {
  [moto, node, probeDir, graceDir] = await Promise.all([
    startPrivateMoto(),
    ensureNode24(),
    bundle('probe', 'test/twin/runtime/probe-handler.ts', ['zod']),
    bundle('grace-period', FUNCTION_ENTRIES['grace-period']),
  ]);
  sqs = new SQSClient({ endpoint: moto.url, region: 'us-east-1', credentials: ADMIN });
});

afterAll(async () => {
  sqs?.destroy();
  await moto?.stop();
});

interface Setup {
  world: TwinWorld;
  clock: SimClock;
  metrics: MetricStore;
  runtime: LambdaRuntime;
}

const open: LambdaRuntime[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

function setup(fns: TwinFunction[], options: { timeoutScale?: number } = {}): Setup {
  const world = new TwinWorld();
  world.roles.set(role.arn, role);
  for (const fn of fns) world.functions.set(fn.name, fn);
  const clock = new SimClock(START);
  const metrics = new MetricStore();
  const runtime = new LambdaRuntime({ world, proxyUrl: moto.url, motoUrl: moto.url, clock, metrics, node, ...options });
  open.push(runtime);
  return { world, clock, metrics, runtime };
}

interface Inspection {
  version: string;
  pid: number;
  invocations: number;
  env: Record<string, string>;
  now: number;
  iso: string;
  dateString: string;
  dateParse: number;
  instanceOfDate: boolean;
  timezoneOffset: number;
  context: Record<string, unknown> & { remaining: number };
}

describe('execution environments', () => {
  it('runs the bundle on Node 24 with exactly the template environment plus Lambda’s variables', async () => {
    const fn = twinFunction('probe', probeDir);
    const { runtime } = setup([fn]);
    const out = await runtime.invokeSync(fn.name, { action: 'inspect' });
    expect(out.functionError).toBeUndefined();
    const seen = out.payload as Inspection;
    expect(seen.version).toMatch(/^v24\./);
    const lambdaDefined = RESERVED_VARIABLES.filter((k) => !['_X_AMZN_TRACE_ID', 'AWS_LAMBDA_RUNTIME_API'].includes(k));
    const expected = [...Object.keys(fn.environment), ...lambdaDefined, 'LANG', 'PATH', 'LD_LIBRARY_PATH', 'NODE_PATH', 'AWS_ENDPOINT_URL', 'NODE_EXTRA_CA_CERTS'].sort();
    expect(Object.keys(seen.env).sort()).toEqual(expected);
    expect(seen.env).toMatchObject({
      REKEY_PROBE: 'from-the-template',
      _HANDLER: 'index.handler',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      AWS_LAMBDA_FUNCTION_NAME: 'probe',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/probe',
      AWS_ACCESS_KEY_ID: role.accessKeyId,
      AWS_SECRET_ACCESS_KEY: role.secretAccessKey,
      LAMBDA_TASK_ROOT: probeDir,
      TZ: ':UTC',
      AWS_ENDPOINT_URL: moto.url,
    });
    expect(seen.env.AWS_SESSION_TOKEN).toMatch(/^TwinSession/);
    expect(seen.env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(/^2027\/01\/01\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(seen.context).toMatchObject({
      awsRequestId: out.requestId,
      functionName: 'probe',
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/probe',
      logStreamName: seen.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(seen.context.remaining).toBeLessThanOrEqual(30_000);
    expect(seen.context.remaining).toBeGreaterThan(25_000);
  });

  it('shows the simulated clock to Date inside the function, warm or cold', async () => {
    const fn = twinFunction('probe', probeDir);
    const { runtime, clock } = setup([fn]);
    const first = (await runtime.invokeSync(fn.name, { action: 'inspect' })).payload as Inspection;
    expect(first.now).toBeGreaterThanOrEqual(START);
    expect(first.now).toBeLessThan(START + 10_000);
    expect(Date.parse(first.iso)).toBeGreaterThanOrEqual(START);
    expect(first.dateString).toContain('2027');
    expect(first.dateParse).toBe(Date.parse('2020-01-01T00:00:00Z'));
    expect(first.instanceOfDate).toBe(true);
    expect(first.timezoneOffset).toBe(0);
    clock.set(START + 86_400_000);
    const second = (await runtime.invokeSync(fn.name, { action: 'inspect' })).payload as Inspection;
    expect(second.pid).toBe(first.pid);
    expect(second.now).toBeGreaterThanOrEqual(START + 86_400_000);
    expect(second.now).toBeLessThan(START + 86_400_000 + 10_000);
  });

  it('reuses a warm environment: one cold start for two sequential invocations', async () => {
    const fn = twinFunction('probe', probeDir);
    const { runtime } = setup([fn]);
    const a = await runtime.invokeSync(fn.name, { action: 'inspect' });
    const b = await runtime.invokeSync(fn.name, { action: 'inspect' });
    expect([a.coldStart, b.coldStart]).toEqual([true, false]);
    expect(a.initDurationMs).toBeGreaterThan(0);
    expect(runtime.coldStartCount(fn.name)).toBe(1);
    expect(runtime.workerCount(fn.name)).toBe(1);
    expect([(a.payload as Inspection).invocations, (b.payload as Inspection).invocations]).toEqual([1, 2]);
    expect(a.logs.map((l) => l.text)[0]).toBe(`START RequestId: ${a.requestId} Version: $LATEST`);
    expect(b.logs.some((l) => l.text.startsWith(`REPORT RequestId: ${b.requestId}\tDuration: `))).toBe(true);
  });

  it('starts a new environment after a redeploy changed the configuration (never a warm one of the old environment)', async () => {
    const fn = twinFunction('probe', probeDir);
    const { world, runtime } = setup([fn]);
    const a = await runtime.invokeSync(fn.name, { action: 'inspect' });
    world.functions.set(fn.name, { ...fn, environment: { ...fn.environment, REKEY_PROBE: 'after-the-redeploy' } });
    const b = await runtime.invokeSync(fn.name, { action: 'inspect' });
    expect([a.coldStart, b.coldStart]).toEqual([true, true]);
    expect([(a.payload as Inspection).env['REKEY_PROBE'], (b.payload as Inspection).env['REKEY_PROBE']]).toEqual(['from-the-template', 'after-the-redeploy']);
    expect(runtime.workerCount(fn.name)).toBe(1);
  });

  it('throttles the invocation beyond reserved concurrency with TooManyRequestsException (429)', async () => {
    const fn = twinFunction('probe', probeDir, { reservedConcurrency: 2 });
    const { runtime, metrics } = setup([fn]);
    const outs = await Promise.all([1, 2, 3].map(() => runtime.invokeSync(fn.name, { action: 'sleep', ms: 300 })));
    const throttled = outs.filter((o) => o.statusCode === 429);
    expect(throttled).toHaveLength(1);
    expect(throttled[0]!.serviceError).toEqual({ name: 'TooManyRequestsException', statusCode: 429, message: 'Rate Exceeded.', reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
    expect(outs.filter((o) => o.statusCode === 200 && o.functionError === undefined)).toHaveLength(2);
    expect(runtime.coldStartCount(fn.name)).toBe(2);
    expect(metrics.query({ namespace: 'AWS/Lambda', name: 'Throttles', dimensions: { FunctionName: 'probe' }, from: START, to: START + 60_000 })).toHaveLength(1);
    // Once the two finish, capacity is back.
    expect((await runtime.invokeSync(fn.name, { action: 'sleep', ms: 1 })).statusCode).toBe(200);
  });

  it('answers a thrown error with Lambda’s Node.js error document and FunctionError Unhandled', async () => {
    const fn = twinFunction('probe', probeDir);
    const { runtime, metrics } = setup([fn]);
    const out = await runtime.invokeSync(fn.name, { action: 'throw', message: 'no such keyring' });
    expect(out.statusCode).toBe(200);
    expect(out.functionError).toBe('Unhandled');
    const payload = out.payload as { errorType: string; errorMessage: string; trace: string[] };
    expect(payload.errorType).toBe('TypeError');
    expect(payload.errorMessage).toBe('no such keyring');
    expect(payload.trace[0]).toBe('TypeError: no such keyring');
    expect(Object.keys(payload).sort()).toEqual(['errorMessage', 'errorType', 'trace']);
    expect(out.logs.some((l) => l.text.includes('\tERROR\tInvoke Error') && l.text.includes('no such keyring'))).toBe(true);
    expect(metrics.query({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: 'probe' }, from: START, to: START + 60_000 })).toHaveLength(1);
  });

  it('kills a function past its timeout and replaces crashed environments', async () => {
    const fn = twinFunction('probe', probeDir, { timeoutSeconds: 2 });
    const { runtime } = setup([fn], { timeoutScale: 0.25 });
    const slow = await runtime.invokeSync(fn.name, { action: 'sleep', ms: 5_000 });
    expect(slow.timedOut).toBe(true);
    expect(slow.functionError).toBe('Unhandled');
    expect(slow.payload).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${slow.requestId} Error: Task timed out after 2.00 seconds` });
    const crash = await runtime.invokeSync(fn.name, { action: 'exit', code: 3 });
    expect(crash.coldStart).toBe(true);
    expect(crash.payload).toEqual({ errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${crash.requestId} Error: Runtime exited with error: exit status 3` });
    const after = await runtime.invokeSync(fn.name, { action: 'sleep', ms: 1 });
    expect(after.coldStart).toBe(true);
    expect(after.functionError).toBeUndefined();
    expect(runtime.coldStartCount(fn.name)).toBe(3);
  });

  it('resolves modules only inside the asset, as Lambda would', async () => {
    const fn = twinFunction('probe', probeDir);
    const { runtime } = setup([fn]);
    const out = await runtime.invokeSync(fn.name, { action: 'require', module: 'zod' });
    expect(out.functionError).toBe('Unhandled');
    expect((out.payload as { errorMessage: string }).errorMessage).toContain("Cannot find module 'zod'");
  });

  it('captures every output line per invocation, for plaintext-hygiene checks', async () => {
    const fn = twinFunction('probe', probeDir);
    const { runtime } = setup([fn]);
    await runtime.invokeSync(fn.name, { action: 'log', lines: ['first line', '{"json":true}'] });
    const lines = runtime.logLines('probe');
    expect(lines).toEqual(expect.arrayContaining(['first line', '{"json":true}']));
    expect(lines.some((l) => /^2027-01-01T00:00:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tINFO\tlogged 2 lines$/.test(l))).toBe(true);
    expect(runtime.invocationLogs).toHaveLength(1);
  });
});

describe('asynchronous invocation', () => {
  async function queue(name: string): Promise<{ url: string; arn: string }> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl!, arn: attrs.Attributes!.QueueArn! };
  }

  it('retries twice, then sends the invocation record to the failure queue as the execution role', async () => {
    const q = await queue('probe-failures');
    const fn = twinFunction('probe', probeDir, { asyncConfig: { maximumRetryAttempts: 2, onFailureArn: q.arn } });
    const { runtime, world } = setup([fn]);
    world.queues.set('ProbeFailures', { logicalId: 'ProbeFailures', name: 'probe-failures', arn: q.arn, url: q.url });
    const event = { action: 'throw', message: 'backend down' };
    const out = await runtime.invokeAsync(fn.arn, event);
    expect(out.statusCode).toBe(202);
    expect(out.succeeded).toBe(false);
    expect(out.condition).toBe('RetriesExhausted');
    expect(out.attempts.map((a) => a.simulatedDelayMs)).toEqual([0, 60_000, 120_000]);
    expect(out.destination?.delivered).toBe(true);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(got.Messages).toHaveLength(1);
    const record = JSON.parse(got.Messages![0]!.Body!) as InvocationRecord;
    expect(record).toMatchObject({
      version: '1.0',
      requestContext: { requestId: out.requestId, functionArn: `${fn.arn}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'TypeError', errorMessage: 'backend down' },
    });
    expect(Date.parse(record.timestamp)).toBeGreaterThanOrEqual(START);
    expect(runtime.lostEvents).toEqual([]);
  });

  it('runs the retry of a function that failed once about a minute later on the simulated clock', async () => {
    // Lambda waits about 1 minute before the first retry (invocation-async-error-handling.html):
    // a function that fails until its Date reaches now + 30 s succeeds on that retry.
    const fn = twinFunction('probe', probeDir, { asyncConfig: { maximumRetryAttempts: 2 } });
    const { runtime, clock } = setup([fn]);
    const queuedAt = clock.now();
    const out = await runtime.invokeAsync(fn.arn, { action: 'fail-until', until: queuedAt + 30_000 });
    expect(out.succeeded).toBe(true);
    expect(out.attempts.map((a) => [a.simulatedDelayMs, a.outcome.functionError ?? 'ok'])).toEqual([
      [0, 'Unhandled'],
      [60_000, 'ok'],
    ]);
    const retryNow = (out.attempts[1]!.outcome.payload as { now: number }).now;
    expect(retryNow).toBeGreaterThanOrEqual(queuedAt + 60_000);
    expect(retryNow).toBeLessThan(queuedAt + 120_000);
    expect(out.attempts[1]!.outcome.startedAt).toBe(queuedAt + 60_000);
    // The twin's own clock does not move: the retry's time is its own.
    expect(clock.now()).toBe(queuedAt);
    expect(runtime.lostEvents).toEqual([]);
  });

  it('sends a function that fails thrice to its failure destination after the second retry, 3 minutes on', async () => {
    const q = await queue('probe-failures-late');
    const fn = twinFunction('probe', probeDir, { asyncConfig: { maximumRetryAttempts: 2, onFailureArn: q.arn } });
    const { runtime, world, clock } = setup([fn]);
    world.queues.set('ProbeFailuresLate', { logicalId: 'ProbeFailuresLate', name: 'probe-failures-late', arn: q.arn, url: q.url });
    const queuedAt = clock.now();
    // Fails until 10 minutes on: the retries at +1 min and +3 min fail too.
    const out = await runtime.invokeAsync(fn.arn, { action: 'fail-until', until: queuedAt + 600_000 });
    expect(out.succeeded).toBe(false);
    expect(out.condition).toBe('RetriesExhausted');
    expect(out.attempts.map((a) => a.outcome.startedAt - queuedAt)).toEqual([0, 60_000, 180_000]);
    expect(out.attempts.map((a) => (a.outcome.payload as { errorMessage: string }).errorMessage)).toEqual([0, 60_000, 180_000].map((d) => expect.stringContaining(`(now ${new Date(queuedAt + d).toISOString().slice(0, 16)}`)));
    expect(out.destination?.delivered).toBe(true);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(got.Messages).toHaveLength(1);
    const record = JSON.parse(got.Messages![0]!.Body!) as InvocationRecord;
    expect(record.requestContext).toMatchObject({ requestId: out.requestId, condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    expect(Date.parse(record.timestamp)).toBeGreaterThanOrEqual(queuedAt + 180_000);
  });

  it('discards an event whose next retry would exceed MaximumEventAgeInSeconds', async () => {
    // Age 1 min after the first retry's wait; the second retry would make it 3 min > 2 min.
    const fn = twinFunction('probe', probeDir, { asyncConfig: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 120 } });
    const { runtime, clock } = setup([fn]);
    const out = await runtime.invokeAsync(fn.arn, { action: 'fail-until', until: clock.now() + 600_000 });
    expect(out.condition).toBe('EventAgeExceeded');
    expect(out.attempts.map((a) => a.simulatedDelayMs)).toEqual([0, 60_000]);
  });

  it('puts a throttled event back in the queue until the function has capacity (not a retry)', async () => {
    const fn = twinFunction('probe', probeDir, { reservedConcurrency: 1 });
    const { runtime } = setup([fn]);
    const busy = runtime.invokeSync(fn.name, { action: 'sleep', ms: 400 });
    const queued = await runtime.invokeAsync(fn.name, { action: 'sleep', ms: 1 });
    expect((await busy).statusCode).toBe(200);
    expect(queued.succeeded).toBe(true);
    expect(queued.throttles).toBeGreaterThanOrEqual(1);
    expect(queued.attempts).toHaveLength(1);
    await runtime.settled();
  });

  it('wakes a throttled event even when the invocation holding the capacity ended while the throttle was recorded', async () => {
    // Many short events against reserved concurrency 1: some blocker always ends while a throttled
    // attempt is still publishing its Throttles metric (a lost wake-up hung the year scenario).
    const fn = twinFunction('probe', probeDir, { reservedConcurrency: 1 });
    const { runtime } = setup([fn]);
    const runs = Array.from({ length: 12 }, () => runtime.invokeAsync(fn.name, { action: 'sleep', ms: 1 }));
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 30_000)));
    const outcome = await Promise.race([Promise.all(runs), hung]);
    clearTimeout(timer);
    expect(outcome === 'hung' ? 'hung' : outcome.map((o) => o.succeeded)).toEqual(Array(12).fill(true));
    expect((outcome as { throttles: number }[]).reduce((n, o) => n + o.throttles, 0)).toBeGreaterThan(0);
  });

  it('honours MaximumRetryAttempts 0 and records an undeliverable record as a lost event', async () => {
    const missing = 'arn:aws:sqs:us-east-1:123456789012:no-such-queue';
    const fn = twinFunction('probe', probeDir, { asyncConfig: { maximumRetryAttempts: 0, onFailureArn: missing } });
    const { runtime } = setup([fn]);
    const out = await runtime.invokeAsync(fn.name, { action: 'throw', message: 'x' });
    expect(out.attempts).toHaveLength(1);
    expect(out.destination?.delivered).toBe(false);
    expect(runtime.lostEvents).toHaveLength(1);
    expect(runtime.lostEvents[0]).toMatchObject({ functionName: 'probe', requestId: out.requestId, destinationArn: missing });
    expect(runtime.lostEvents[0]!.reason).toMatch(/destination delivery failed/);
  });
});

describe('a real rekey handler and its metrics', () => {
  it('runs grace-period on Node 24: an invalid event gets its validation failure, and its EMF reaches the store and moto', async () => {
    const fn = twinFunction('rekey-grace-period', graceDir, { environment: { POWERTOOLS_LOG_LEVEL: 'INFO' }, memoryMiB: 512, timeoutSeconds: 300 });
    const { runtime, metrics } = setup([fn]);
    const out = await runtime.invokeSync(fn.name, { keyring: 42, unexpected: true });
    expect(out.statusCode).toBe(200);
    expect(out.functionError).toBeUndefined();
    expect(out.payload).toMatchObject({ ok: false, error: { code: 'VALIDATION', retryable: false } });
    // Powertools' structured line, with the Lambda context it injected from ours.
    const warned = out.logs.filter((l) => l.text.startsWith('{"level":"WARN"')).map((l) => JSON.parse(l.text) as Record<string, unknown>);
    expect(warned).toEqual([
      expect.objectContaining({ function_request_id: out.requestId, function_name: fn.name, function_memory_size: '512', cold_start: true, error: expect.objectContaining({ code: 'VALIDATION' }) }),
    ]);
    const failures = metrics.query({ namespace: 'Rekey', name: 'HandlerFailures', dimensions: { function: 'grace-period', code: 'VALIDATION' }, from: START, to: START + 60_000 });
    expect(failures.map((d) => d.value)).toEqual([1]);
    expect(metrics.query({ namespace: 'AWS/Lambda', name: 'Invocations', dimensions: { FunctionName: fn.name }, from: START, to: START + 60_000 })).toHaveLength(1);
    expect(runtime.forwardFailures).toEqual([]);
    const cw = new CloudWatchClient({ endpoint: moto.url, region: 'us-east-1', credentials: ADMIN });
    try {
      const res = await cw.send(
        new GetMetricDataCommand({
          StartTime: new Date(START - 60_000),
          EndTime: new Date(START + 300_000),
          MetricDataQueries: [
            { Id: 'f', MetricStat: { Metric: { Namespace: 'Rekey', MetricName: 'HandlerFailures', Dimensions: [{ Name: 'code', Value: 'VALIDATION' }, { Name: 'function', Value: 'grace-period' }] }, Period: 60, Stat: 'Sum' } },
            { Id: 'i', MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: fn.name }] }, Period: 60, Stat: 'Sum' } },
          ],
        }),
      );
      const sum = (id: string) => (res.MetricDataResults ?? []).find((r) => r.Id === id)?.Values?.reduce((a, b) => a + b, 0);
      expect(sum('f')).toBe(1);
      expect(sum('i')).toBe(1);
    } finally {
      cw.destroy();
    }
  });

  it('parses EMF documents as the specification defines them', () => {
    const line = JSON.stringify({
      _aws: { Timestamp: 1_800_000_000_000, CloudWatchMetrics: [{ Namespace: 'Rekey', Dimensions: [['keyring'], ['keyring', 'version']], Metrics: [{ Name: 'DecryptAttempts', Unit: 'Count' }] }] },
      keyring: 'payments',
      version: '3',
      DecryptAttempts: [2, 5],
    });
    const points = parseEmfLine(line);
    expect(points).toHaveLength(4);
    expect(points.filter((p) => p.dimensions.version === '3').map((p) => p.value)).toEqual([2, 5]);
    expect(points.every((p) => p.timestamp === 1_800_000_000_000 && p.unit === 'Count' && p.dimensions.keyring === 'payments')).toBe(true);
    expect(parseEmfLine('{"level":"INFO","message":"not a metric"}')).toEqual([]);
    expect(parseEmfLine(JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['missing']], Metrics: [{ Name: 'M' }] }] }, M: 1 }))).toEqual([]);
  });
});
