/**
 * The twin's Step Functions runs the real synthesized sweep definition on a private moto_server:
 * the Distributed Map lists the record bucket AS THE STATE MACHINE'S ROLE through an authorizing
 * proxy (a small one in this file: the general proxy is another part of the twin), batches the
 * documented ItemReader items, invokes a recording fake Lambda (the Lambda runtime is another part),
 * retries per the definition's Retriers in simulated time, and writes the ResultWriter files.
 *
 * Shapes asserted here come from: "ItemReader (Map)" (items `{ Etag, Key, LastModified (epoch
 * seconds), Size, StorageClass }`), "ItemBatcher (Map)" (`{ BatchInput, Items }`), "ResultWriter
 * (Map)" (manifest.json, SUCCEEDED_0.json / FAILED_0.json, `{ MapRunArn, ResultWriterDetails }`),
 * the StartExecution API reference (idempotent names), all at
 * https://docs.aws.amazon.com/step-functions/latest/.
 */
import { synthesizeTwin } from './synth';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { AuthzRequest, RequestAuthorizer } from './authz/types';
import { TwinStepFunctions, StepFunctionsError, type LambdaInvokeResult } from './drivers/state-machine';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { SimClock, TwinWorld, TWIN_ACCOUNT } from './world';

const RECORDS = 'twin-records';
const CATALOG = 'twin-catalog';
const FN_ARN = `arn:aws:lambda:us-east-1:${TWIN_ACCOUNT}:function:reencrypt`;
const ROLE_ARN = `arn:aws:iam::${TWIN_ACCOUNT}:role/SweepRole`;
const N = 230;
const KEYS = Array.from({ length: N }, (_, i) => `pii/obj-${String(i).padStart(3, '0')}`);

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

/** Resolves the DefinitionString's Fn::Join with the few intrinsics it holds (the general stand-up is elsewhere). */
function resolveDefinition(template: Template): Record<string, unknown> {
  const sm = Object.values(template.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  const [sep, parts] = (sm?.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = parts.map((p) => {
    if (typeof p === 'string') return p;
    const o = p as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    if (o.Ref === 'AWS::Partition') return 'aws';
    if (o.Ref !== undefined && template.Resources[o.Ref]?.Type === 'AWS::S3::Bucket') return CATALOG;
    if (o['Fn::GetAtt'] !== undefined && template.Resources[o['Fn::GetAtt'][0]]?.Type === 'AWS::Lambda::Function') return FN_ARN;
    throw new Error(`unresolved intrinsic ${JSON.stringify(p)}`);
  }).join(sep);
  return JSON.parse(text) as Record<string, unknown>;
}

/** A table authorizer: `principal action resource` entries, `*` at the end of a resource as a wildcard. */
class TableAuthorizer implements RequestAuthorizer {
  public readonly asked: AuthzRequest[] = [];
  public constructor(public readonly allow: Set<string>) {}
  public async authorize(req: AuthzRequest): Promise<{ allowed: boolean; reason: string }> {
    this.asked.push(req);
    const who = req.principal.kind === 'role' ? req.principal.arn : req.principal.kind;
    const allowed = [...this.allow].some((e) => {
      const [p, a, r = ''] = e.split(' ');
      return p === who && a === req.action && (r.endsWith('*') ? req.resource.startsWith(r.slice(0, -1)) : r === req.resource);
    });
    return { allowed, reason: allowed ? 'allowed by table' : 'no identity-based policy allows the action' };
  }
}

const FULL_ACCESS = (): Set<string> => new Set([`${ROLE_ARN} s3:ListBucket arn:aws:s3:::${RECORDS}`, `${ROLE_ARN} s3:PutObject arn:aws:s3:::${CATALOG}/sweeps/*`, `${ROLE_ARN} lambda:InvokeFunction ${FN_ARN}`]);

/** A minimal authorizing S3 proxy: maps the SigV4 access key to the role, asks the authorizer, forwards to moto. */
function startProxy(world: TwinWorld, authz: { current: RequestAuthorizer }, motoUrl: string, log: string[]): Promise<Server> {
  const moto = new URL(motoUrl);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const akid = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const role = world.roleByAccessKey(akid);
    const action = req.method === 'GET' && key === '' ? 's3:ListBucket' : req.method === 'PUT' ? 's3:PutObject' : req.method === 'GET' ? 's3:GetObject' : `s3:${req.method ?? ''}`;
    const resource = action === 's3:ListBucket' ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
    void (role === undefined ? Promise.resolve({ allowed: false }) : authz.current.authorize({ principal: { kind: 'role', arn: role.arn }, action, resource })).then((d) => {
      log.push(`${role?.arn ?? 'anonymous'} ${action} ${resource} ${d.allowed ? 'allow' : 'deny'}`);
      if (!d.allowed) {
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>User: ${role?.arn ?? 'anonymous'} is not authorized to perform: ${action} on resource: "${resource}"</Message><RequestId>twin</RequestId></Error>`);
        return;
      }
      const upstream = request({ host: moto.hostname, port: moto.port, method: req.method, path: req.url, headers: { ...req.headers, host: moto.host } }, (up) => {
        res.writeHead(up.statusCode ?? 500, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let moto: PrivateMoto;
let proxy: Server;
let proxyUrl: string;
let s3: S3Client;
let definition: Record<string, unknown>;
const proxyLog: string[] = [];
const authz: { current: RequestAuthorizer } = { current: new TableAuthorizer(FULL_ACCESS()) };
const world = new TwinWorld();
const SIZES = new Map<string, number>();

beforeAll(async () => {
  definition = resolveDefinition((await synthesizeTwin()).template as unknown as Template);
  moto = await startPrivateMoto();
  s3 = new S3Client({ endpoint: moto.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: RECORDS }));
  await s3.send(new CreateBucketCommand({ Bucket: CATALOG }));
  const all = [...KEYS, 'other/a', 'other/b', 'other/c'];
  for (let i = 0; i < all.length; i += 25) {
    await Promise.all(all.slice(i, i + 25).map((Key, j) => {
      const body = 'x'.repeat(10 + ((i + j) % 7));
      SIZES.set(Key, body.length);
      return s3.send(new PutObjectCommand({ Bucket: RECORDS, Key, Body: body }));
    }));
  }
  proxy = await startProxy(world, authz, moto.url, proxyLog);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  world.roles.set('SweepRole', { logicalId: 'SweepRole', name: 'SweepRole', arn: ROLE_ARN, trust: { Statement: [] }, policies: [], accessKeyId: 'AKIATWINSWEEPROLE001', secretAccessKey: 'sweep-secret' });
  register('Sweep', definition);
}, 240_000);

afterAll(async () => {
  s3?.destroy();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await moto?.stop();
});

function register(name: string, def: Record<string, unknown>): string {
  const arn = `arn:aws:states:us-east-1:${TWIN_ACCOUNT}:stateMachine:${name}`;
  world.stateMachines.set(name, { logicalId: name, name, arn, roleArn: ROLE_ARN, definition: def });
  return arn;
}
const SWEEP_ARN = `arn:aws:states:us-east-1:${TWIN_ACCOUNT}:stateMachine:Sweep`;

interface Call { functionArn: string; payload: { BatchInput: Record<string, unknown>; Items: Record<string, unknown>[] }; caller: string }
interface CensusCall { functionArn: string; payload: { census: Record<string, unknown> }; caller: string }
type Behave = (call: Call, attempt: number) => Promise<LambdaInvokeResult> | LambdaInvokeResult;
const ok: Behave = (c) => ({ statusCode: 200, payload: { processed: c.payload.Items.length } });
const throttle = (): LambdaInvokeResult => ({ statusCode: 429, errorType: 'TooManyRequestsException', payload: { message: 'Rate Exceeded.' } });

function makeTwin(behave: Behave, opts: { random?: () => number; clock?: SimClock } = {}): { sfn: TwinStepFunctions; calls: Call[]; censusCalls: CensusCall[]; clock: SimClock } {
  const calls: Call[] = [];
  const censusCalls: CensusCall[] = [];
  const attempts = new Map<string, number>();
  const clock = opts.clock ?? new SimClock();
  const sfn = new TwinStepFunctions({
    world, proxyUrl, clock, authorizer: { authorize: (r) => authz.current.authorize(r) }, listPageSize: 50, random: opts.random,
    invokeLambda: async (functionArn, payload, caller) => {
      // The census step after the map (shared/usecases/record-census.ts), not a batch.
      if (typeof payload === 'object' && payload !== null && 'census' in payload) {
        censusCalls.push({ functionArn, payload: payload as CensusCall['payload'], caller });
        return { statusCode: 200, payload: { closed: true } };
      }
      const call = { functionArn, payload: payload as Call['payload'], caller };
      calls.push(call);
      const first = String(call.payload.Items[0]?.Key);
      const n = (attempts.get(first) ?? 0) + 1;
      attempts.set(first, n);
      return behave(call, n);
    },
  });
  return { sfn, calls, censusCalls, clock };
}

const INPUT = { keyring: 'pii', bucket: RECORDS, prefix: 'pii/', mode: 'rewrap' };
const getText = async (Key: string): Promise<string> => (await (await s3.send(new GetObjectCommand({ Bucket: CATALOG, Key }))).Body?.transformToString()) ?? '';
const getJson = async (Key: string): Promise<unknown> => JSON.parse((await getText(Key)) || 'null');
/** A result file: JSON Lines (the stack's WriterConfig OutputType) or one JSON array. */
const getEntries = async (Key: string): Promise<Record<string, unknown>[]> =>
  Key.endsWith('.jsonl') ? (await getText(Key)).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : ((await getJson(Key)) as Record<string, unknown>[]);
const tooManyRetrier = (): { IntervalSeconds: number; BackoffRate: number; MaxAttempts: number } => {
  const map = (definition.States as Record<string, { ItemProcessor: { States: Record<string, { Retry: { ErrorEquals: string[]; IntervalSeconds: number; BackoffRate: number; MaxAttempts: number }[] }> } }>).SweepTarget;
  const task = Object.values(map?.ItemProcessor.States ?? {})[0];
  const r = task?.Retry.find((x) => x.ErrorEquals.includes('Lambda.TooManyRequestsException'));
  if (r === undefined) throw new Error('the definition has no TooManyRequests retrier');
  return r;
};

beforeEach(() => { authz.current = new TableAuthorizer(FULL_ACCESS()); proxyLog.length = 0; });

describe('definition validation (asl-validator)', () => {
  it('accepts the synthesized sweep definition and refuses an invalid one at StartExecution', () => {
    const { sfn } = makeTwin(ok);
    expect(sfn.validateDefinition(definition)).toEqual({ isValid: true, errors: [] });
    const broken = { ...definition, States: { ...(definition.States as object), NamesVersion: { Type: 'Choice', Choices: [{ Variable: '$.version', IsPresent: true, Next: 'Nowhere' }], Default: 'SweepTarget' } } };
    expect(sfn.validateDefinition(broken).isValid).toBe(false);
    const arn = register('Broken', broken);
    expect(() => sfn.startExecution(arn, '{}')).toThrow(expect.objectContaining({ code: 'InvalidDefinition' }) as Error);
  });
});

describe('the sweep Distributed Map', () => {
  it('lists as the role, batches documented items with BatchInput, and writes the ResultWriter files', async () => {
    const { sfn, calls, censusCalls } = makeTwin(ok);
    const { executionArn } = sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT));
    const done = await sfn.waitForExecution(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    const record = sfn.executionRecord(executionArn);
    expect(record.mapRuns.map((m) => m.state)).toEqual(['SweepTarget']);
    const maxItems = ((definition.States as Record<string, { ItemBatcher: { MaxItemsPerBatch: number } }>).SweepTarget?.ItemBatcher.MaxItemsPerBatch) ?? 0;
    expect(calls.map((c) => c.payload.Items.length).sort((a, b) => b - a)).toEqual([maxItems, maxItems, N - 2 * maxItems]);
    for (const c of calls) {
      expect(c).toMatchObject({ functionArn: FN_ARN, caller: ROLE_ARN });
      expect(c.payload.BatchInput).toEqual(INPUT);
      for (const item of c.payload.Items) {
        expect(Object.keys(item).sort()).toEqual(['Etag', 'Key', 'LastModified', 'Size', 'StorageClass']);
        expect(item.Etag).toMatch(/^"[0-9a-f]{32}"$/);
        expect(Number.isInteger(item.LastModified)).toBe(true);
        expect(Math.abs(Number(item.LastModified) - Date.now() / 1000)).toBeLessThan(600);
        expect(item.Size).toBe(SIZES.get(String(item.Key)));
        expect(item.StorageClass).toBe('STANDARD');
      }
    }
    expect(calls.flatMap((c) => c.payload.Items.map((i) => i.Key)).sort()).toEqual(KEYS);
    // Listing through the proxy as the role, one ListObjectsV2 per 50-key page.
    expect(proxyLog.filter((l) => l === `${ROLE_ARN} s3:ListBucket arn:aws:s3:::${RECORDS} allow`)).toHaveLength(Math.ceil(N / 50));
    // ResultWriter: the map's output (at ResultPath $.map, beside the input), manifest.json and SUCCEEDED_0.jsonl (WriterConfig JSONL, NONE).
    const execOutput = JSON.parse(done.output ?? '{}') as Record<string, unknown> & { map: { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } } };
    expect(execOutput).toMatchObject({ ...INPUT, census: { closed: true } });
    const output = execOutput.map;
    // Then the census step, once, as the role, with the target, the execution's start and id, and the manifest.
    expect(censusCalls).toEqual([
      {
        functionArn: FN_ARN,
        caller: ROLE_ARN,
        payload: { census: { keyring: INPUT.keyring, bucket: INPUT.bucket, prefix: INPUT.prefix, startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string, execution: executionArn, results: output.ResultWriterDetails } },
      },
    ]);
    const mapRunId = output.MapRunArn.split(':').pop() ?? '';
    expect(output.MapRunArn).toBe(`arn:aws:states:us-east-1:${TWIN_ACCOUNT}:mapRun:Sweep/Sweep:${mapRunId}`);
    expect(output.ResultWriterDetails).toEqual({ Bucket: CATALOG, Key: `sweeps/${mapRunId}/manifest.json` });
    const manifest = (await getJson(output.ResultWriterDetails.Key)) as Record<string, unknown>;
    expect(manifest).toEqual({ DestinationBucket: CATALOG, MapRunArn: output.MapRunArn, ResultFiles: { FAILED: [], PENDING: [], SUCCEEDED: [{ Key: `sweeps/${mapRunId}/SUCCEEDED_0.jsonl`, Size: expect.any(Number) as number }] } });
    const succeeded = await getEntries(`sweeps/${mapRunId}/SUCCEEDED_0.jsonl`);
    expect(succeeded).toHaveLength(calls.length);
    for (const e of succeeded) {
      expect(Object.keys(e).sort()).toEqual(['ExecutionArn', 'Input', 'InputDetails', 'Name', 'Output', 'OutputDetails', 'RedriveCount', 'RedriveStatus', 'RedriveStatusReason', 'StartDate', 'StateMachineArn', 'Status', 'StopDate']);
      expect(e).toMatchObject({ Status: 'SUCCEEDED', StateMachineArn: `arn:aws:states:us-east-1:${TWIN_ACCOUNT}:stateMachine:Sweep/Sweep`, InputDetails: { Included: true } });
      const input = JSON.parse(String(e.Input)) as Call['payload'];
      expect(JSON.parse(String(e.Output))).toEqual({ processed: input.Items.length });
      expect(e.ExecutionArn).toBe(`arn:aws:states:us-east-1:${TWIN_ACCOUNT}:execution:Sweep/Sweep:${String(e.Name)}`);
    }
  });

  it('takes the version branch when the input names a version (Choice IsPresent)', async () => {
    const { sfn, calls } = makeTwin(ok);
    const { executionArn } = sfn.startExecution(SWEEP_ARN, JSON.stringify({ ...INPUT, mode: 'reencrypt', version: 3 }));
    expect((await sfn.waitForExecution(executionArn)).status).toBe('SUCCEEDED');
    expect(sfn.executionRecord(executionArn).mapRuns.map((m) => m.state)).toEqual(['SweepTargetVersion']);
    for (const c of calls) expect(c.payload.BatchInput).toEqual({ ...INPUT, mode: 'reencrypt', version: 3 });
  });

  it('never runs more than MaxConcurrency child executions at once, and does run that many', async () => {
    const small = structuredClone(definition) as { States: Record<string, { ItemBatcher: { MaxItemsPerBatch: number }; MaxConcurrency: number }> };
    const target = small.States.SweepTarget!;
    target.ItemBatcher.MaxItemsPerBatch = 5;
    const arn = register('SweepSmall', small as unknown as Record<string, unknown>);
    let inFlight = 0;
    let peak = 0;
    const { sfn, calls } = makeTwin(async (c) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 10));
      inFlight--;
      return ok(c, 1);
    });
    const { executionArn } = sfn.startExecution(arn, JSON.stringify(INPUT));
    expect((await sfn.waitForExecution(executionArn)).status).toBe('SUCCEEDED');
    expect(calls).toHaveLength(Math.ceil(N / 5));
    for (const c of calls) expect(c.payload.Items.length).toBeLessThanOrEqual(5);
    expect(peak).toBe(target.MaxConcurrency);
    expect(sfn.executionRecord(executionArn).mapRuns[0]?.maxInFlight).toBe(target.MaxConcurrency);
  });

  it('retries a throttled invoke with the definition backoff in simulated time, then succeeds', async () => {
    const retrier = tooManyRetrier();
    const { sfn } = makeTwin((c, n) => (c.payload.Items[0]?.Key === KEYS[0] && n <= 3 ? throttle() : ok(c, n)), { random: () => 0.5 });
    const t0 = Date.now();
    const { executionArn } = sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT));
    const done = await sfn.waitForExecution(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    const retries = sfn.executionRecord(executionArn).retries;
    const expected = [1, 2, 3].map((k) => retrier.IntervalSeconds * Math.pow(retrier.BackoffRate, k - 1));
    expect(retries.map((r) => [r.error, r.attempt, r.baseDelaySeconds, r.delaySeconds])).toEqual(expected.map((b, i) => ['Lambda.TooManyRequestsException', i + 1, b, b * 0.5]));
    // Simulated: the execution's stopDate moved by the delays, the test did not wait them.
    expect((done.stopDate?.getTime() ?? 0) - done.startDate.getTime()).toBeGreaterThanOrEqual(expected.reduce((a, b) => a + b, 0) * 500);
    expect(Date.now() - t0).toBeLessThan(expected.reduce((a, b) => a + b, 0) * 500);
  });

  it('fails the map run with States.ExceedToleratedFailureThreshold when a batch keeps failing, and reports it', async () => {
    const retrier = tooManyRetrier();
    const { sfn } = makeTwin((c, n) => (c.payload.Items[0]?.Key === KEYS[0] ? throttle() : ok(c, n)));
    const { executionArn } = sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT));
    const done = await sfn.waitForExecution(executionArn);
    expect(done).toMatchObject({ status: 'FAILED', error: 'States.ExceedToleratedFailureThreshold' });
    const record = sfn.executionRecord(executionArn);
    expect(record.retries.filter((r) => r.error === 'Lambda.TooManyRequestsException')).toHaveLength(retrier.MaxAttempts);
    const failedChild = record.childExecutions.find((c) => c.status === 'FAILED');
    expect(failedChild).toMatchObject({ error: 'Lambda.TooManyRequestsException' });
    const run = record.mapRuns[0]!;
    expect(run.status).toBe('FAILED');
    const manifest = (await getJson(run.resultKeys[0] ?? '')) as { ResultFiles: Record<string, { Key: string }[]> };
    expect(manifest.ResultFiles.FAILED).toHaveLength(1);
    const failed = await getEntries(manifest.ResultFiles.FAILED?.[0]?.Key ?? '');
    expect(failed).toEqual([expect.objectContaining({ Status: 'FAILED', Error: 'Lambda.TooManyRequestsException', ExecutionArn: failedChild?.executionArn })]);
  });

  it('fails the execution when the role may not s3:ListBucket the target', async () => {
    const allow = FULL_ACCESS();
    allow.delete(`${ROLE_ARN} s3:ListBucket arn:aws:s3:::${RECORDS}`);
    authz.current = new TableAuthorizer(allow);
    const { sfn, calls } = makeTwin(ok);
    const { executionArn } = sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT));
    const done = await sfn.waitForExecution(executionArn);
    expect(done).toMatchObject({ status: 'FAILED', error: 'States.ItemReaderFailed' });
    expect(done.cause).toContain('AccessDenied');
    expect(calls).toHaveLength(0);
    expect(proxyLog).toContain(`${ROLE_ARN} s3:ListBucket arn:aws:s3:::${RECORDS} deny`);
  });

  it('reports a denied lambda:InvokeFunction as Lambda.AWSLambdaException', async () => {
    const allow = FULL_ACCESS();
    allow.delete(`${ROLE_ARN} lambda:InvokeFunction ${FN_ARN}`);
    authz.current = new TableAuthorizer(allow);
    const { sfn, calls } = makeTwin(ok);
    const { executionArn } = sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT));
    expect((await sfn.waitForExecution(executionArn)).status).toBe('FAILED');
    expect(calls).toHaveLength(0);
    const failure = sfn.executionRecord(executionArn).failures.find((f) => f.error === 'Lambda.AWSLambdaException');
    expect(failure?.cause).toMatch(/is not authorized to perform: lambda:InvokeFunction on resource: .*Error Code: AccessDeniedException/);
  });

  it('ends TIMED_OUT when simulated retry delays pass TimeoutSeconds', async () => {
    const arn = register('SweepShort', { ...definition, TimeoutSeconds: 5 });
    const { sfn } = makeTwin(() => throttle(), { random: () => 1 });
    const { executionArn } = sfn.startExecution(arn, JSON.stringify(INPUT));
    expect(await sfn.waitForExecution(executionArn)).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
  });
});

describe('StartExecution names', () => {
  it('is idempotent for the same name and input while running; ExecutionAlreadyExists otherwise', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const { sfn, clock } = makeTwin(async (c, n) => { await gate; return ok(c, n); });
    const first = sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT), { name: 'sweep-pii-1' });
    clock.set(clock.now() + 1000);
    expect(sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT), { name: 'sweep-pii-1' })).toEqual(first);
    expect(() => sfn.startExecution(SWEEP_ARN, JSON.stringify({ ...INPUT, mode: 'reencrypt' }), { name: 'sweep-pii-1' })).toThrow(StepFunctionsError);
    release();
    expect((await sfn.waitForExecution(first.executionArn)).status).toBe('SUCCEEDED');
    expect(() => sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT), { name: 'sweep-pii-1' })).toThrow(expect.objectContaining({ code: 'ExecutionAlreadyExists' }) as Error);
    clock.set(clock.now() + 91 * 24 * 3600 * 1000);
    const again = sfn.startExecution(SWEEP_ARN, JSON.stringify(INPUT), { name: 'sweep-pii-1' });
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate.getTime()).toBeGreaterThan(first.startDate.getTime());
    await sfn.waitForExecution(again.executionArn);
  });

  it('serves StartExecution / DescribeExecution to the real SFN client (AWS JSON 1.0)', async () => {
    const { sfn } = makeTwin(ok);
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target']).split('.')[1] ?? '';
        void sfn.serveStepFunctionsRequest(operation, JSON.parse(body) as Record<string, unknown>, ROLE_ARN).then(({ status, body: out }) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify(out));
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = new SFNClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
    try {
      const started = await client.send(new StartExecutionCommand({ stateMachineArn: SWEEP_ARN, input: JSON.stringify(INPUT), name: 'via-sdk' }));
      expect(started.startDate).toBeInstanceOf(Date);
      await sfn.waitForExecution(started.executionArn ?? '');
      const described = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
      expect(described).toMatchObject({ status: 'SUCCEEDED', name: 'via-sdk', stateMachineArn: SWEEP_ARN, input: JSON.stringify(INPUT) });
      expect(described.stopDate).toBeInstanceOf(Date);
      expect(JSON.parse(described.output ?? '{}')).toHaveProperty('map.ResultWriterDetails.Bucket', CATALOG);
      await expect(client.send(new StartExecutionCommand({ stateMachineArn: SWEEP_ARN, input: '{}', name: 'via-sdk' }))).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    } finally {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
