/**
 * Issue 13, the example application on the deployed-stack twin: examples/customer-records'
 * real handler (Middy + rekeyMiddleware, createRekeyClient({ outputs }) through the authorizing
 * proxy under the application's role, records in its own bucket via S3RecordBucket) serves a loop
 * of PUT and GET requests next to rekey, across (1) a scheduled rotation (the schedules alone
 * make version 2 active; GET re-wraps the records lazily) and (2) an emergency revocation
 * (`rekey --aws revoke`, then its settle window), with zero failed requests: every response is
 * 200 (a 503 with Retry-After counts as a failure here too), every record reads back at the end,
 * re-encrypted past the revoked version, and nothing was denied.
 *
 * The application's role is the deploy-time grantee of `pii` (`applicationRoleArns`) and its
 * bucket is `pii`'s declared record target (cdk.json `recordTargets`), as the revocation scenario
 * sets them up (./revocation-setup.ts). Events are API Gateway HTTP API payload format 2.0, built
 * by the example's own `httpApiEvent` (shape: "Create AWS Lambda proxy integrations for HTTP APIs
 * in API Gateway", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { createRekeyClient, type RekeyClient } from 'rekey-kms/client';
import { createHandler } from '../../../examples/customer-records/src/handler';
import { httpApiEvent } from '../../../examples/customer-records/src/local';
import { S3RecordBucket } from '../../../examples/customer-records/src/record-bucket';
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import { roleClientConfig } from '../application';
import { RECORD_BUCKET, RECORD_PREFIX, standUpRevocation, type RevocationWorld } from './revocation-setup';
import { auditOf, nothingUnexpected, snapshotEnvelopes, type Expected } from './revocation-steps';

jest.setTimeout(20 * 60_000);

const MINUTE = 60_000;
const DAY = 86_400_000;
const REVOKE_ARGV = ['revoke', 'pii', '--version', '1', '--reason', 'SEC-77 key exposed', '--yes'];
const EVENT_ID = /revocation requested: event (\S+) on bus (\S+);/;
const CUSTOMERS = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6'].map((id, i) => ({
  id,
  name: `Customer ${i + 1}`,
  email: `customer${i + 1}@example.com`,
  card: `41110000000000${String(i).padStart(2, '0')}`,
}));
const lambdaContext = { functionName: 'customer-records', awsRequestId: 'twin' } as Context;

/** One execution environment of the function: its SDK clients, rekey client and handler. */
interface Environment {
  readonly handler: ReturnType<typeof createHandler>;
  close(): Promise<void>;
}

describe('examples/customer-records on the deployed stack, across a rotation and a revocation', () => {
  let w: RevocationWorld;
  let env: Environment | undefined;
  const expected: Expected = { denied: new Set() };
  /** Every request the test made and its status: the "no failed request" ledger. */
  const statuses: Array<{ at: string; request: string; status: number; retryAfter?: string }> = [];
  /** What each customer's GET must return (PUTs update the name). */
  const current = new Map(CUSTOMERS.map((c) => [c.id, { ...c }]));
  let putCount = 0;

  /**
   * A fresh execution environment. The rekey client trusts a catalog for its TTL on real time,
   * while the stack runs on the simulated clock: after a simulated jump a warm environment would
   * keep a catalog hours old (simulated), so each jump gets a new one, as Lambda recycles them.
   */
  const boot = async (): Promise<Environment> => {
    await env?.close();
    const config = roleClientConfig(w.appRole, w.twin.proxyUrl, w.twin.world.region, w.twin.clock);
    const s3 = new S3Client({ ...config, forcePathStyle: true });
    const kms = new KMSClient(config);
    // SigV4 signs with the process clock; keep the offset on the simulated one (as ../application.ts).
    const resync = (): void => {
      for (const c of [s3.config, kms.config]) (c as { systemClockOffset: number }).systemClockOffset = w.twin.clock.now() - Date.now();
    };
    s3.middlewareStack.add((next) => (args) => (resync(), next(args)), { step: 'initialize', name: 'twinClock' });
    kms.middlewareStack.add((next) => (args) => (resync(), next(args)), { step: 'initialize', name: 'twinClock' });
    let rekey: RekeyClient | undefined;
    const handler = createHandler({
      rekey: {
        client: async () =>
          (rekey = await createRekeyClient({ outputs: w.twin.world.outputs, region: w.twin.world.region, clients: { s3, kms }, metrics: { put: () => undefined } })),
      },
      records: new S3RecordBucket({ bucket: RECORD_BUCKET, prefix: RECORD_PREFIX, client: s3 }),
    });
    env = {
      handler,
      close: async () => {
        await rekey?.close();
        s3.destroy();
        kms.destroy();
      },
    };
    return env;
  };

  const call = async (method: 'GET' | 'PUT', id: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const e = env ?? (await boot());
    const res = await e.handler(httpApiEvent(method, id, body === undefined ? undefined : JSON.stringify(body)), lambdaContext);
    const status = res.statusCode ?? 0;
    const retryAfter = res.headers?.['retry-after'];
    statuses.push({ at: new Date(w.twin.clock.now()).toISOString(), request: `${method} ${id}`, status, ...(retryAfter === undefined ? {} : { retryAfter: String(retryAfter) }) });
    return { status, json: JSON.parse(res.body ?? '{}') as Record<string, unknown> };
  };

  /** One round of traffic: a GET of every customer, then a PUT updating one of them. */
  const round = async (): Promise<void> => {
    for (const c of current.values()) {
      const got = await call('GET', c.id);
      if (got.status === 200) expect(got.json).toMatchObject(c);
    }
    const target = CUSTOMERS[putCount % CUSTOMERS.length];
    if (target === undefined) return;
    putCount++;
    const next = { ...target, name: `${target.name} (update ${putCount})` };
    const put = await call('PUT', next.id, { name: next.name, email: next.email, card: next.card });
    if (put.status === 200) current.set(next.id, next);
  };

  /** Stored envelope headers: id → [version, originVersion]. */
  const stored = async (): Promise<Map<string, [number, number]>> => {
    const out = new Map<string, [number, number]>();
    for (const [id, envelope] of await snapshotEnvelopes(w, current)) {
      const info = inspectEnvelope(envelope);
      out.set(id, [info.version, info.originVersion]);
    }
    return out;
  };
  const activeVersion = async (): Promise<number | undefined> => (await w.catalog()).versions.find((v) => v.state === 'active')?.version;
  const failures = (): typeof statuses => statuses.filter((s) => s.status !== 200);

  beforeAll(async () => {
    const t0 = Date.now();
    w = await standUpRevocation();
    console.log(`stand-up: ${Date.now() - t0} ms`);
  });
  afterAll(async () => {
    await env?.close();
    await w?.close();
  });

  it('stores and reads every customer under version 1', async () => {
    await boot();
    for (const c of CUSTOMERS) {
      const put = await call('PUT', c.id, { name: c.name, email: c.email, card: c.card });
      expect(put).toMatchObject({ status: 200, json: { id: c.id, name: c.name, email: c.email } });
    }
    await round();
    expect(failures()).toEqual([]);
    for (const [id, header] of await stored()) expect([id, header]).toEqual([id, [1, 1]]);
  });

  it('serves every request across a scheduled rotation; GET re-wraps the records to the new version', async () => {
    const t0 = Date.now();
    let steps = 0;
    // Coalesced days (each schedule once per step, a speed-up) until the schedules alone made
    // version 2 active: pii rotates every 30 days, then activates after its 15 min propagation.
    while ((await activeVersion()) === 1) {
      expect(steps).toBeLessThan(40);
      await w.twin.advance(DAY, { coalesce: true });
      steps++;
      await boot();
      await round();
    }
    expect(await activeVersion()).toBe(2);
    // One more round with a fresh environment: every GET has seen version 2 active.
    await boot();
    await round();
    expect(failures()).toEqual([]);
    // Re-wrapped (header only: the data key's origin stays 1) or rewritten by a PUT (origin 2).
    for (const [id, [version, origin]] of await stored()) expect([id, version, origin === 1 || origin === 2]).toEqual([id, 2, true]);
    console.log(`rotation: ${steps} coalesced days, ${Date.now() - t0} ms`);
  });

  it('serves every request across an emergency revocation of version 1 and its settle window', async () => {
    const t0 = Date.now();
    await boot();
    await round();
    const res = await w.twin.cli(REVOKE_ARGV, w.operator);
    expect(res.code).toBe(0);
    const eventId = EVENT_ID.exec(res.stdout)?.[1] ?? '';
    expect(eventId).not.toBe('');
    // The revocation re-encrypted the record target inline and activated version 3. No simulated
    // time passed: the warm environment keeps serving, its catalog (still naming version 2 active)
    // refreshed by the first envelope of version 3 it reads (UnknownVersionError -> reload).
    await round();
    // The settle window: revoke's first attempt reports `settling` until a catalog lifetime has
    // passed, Lambda retries it a minute later (./revocation-steps.ts settleRevocation). Traffic
    // goes on minute by minute.
    for (let minute = 0; minute < 5; minute++) {
      await w.twin.advance(MINUTE);
      await boot();
      await round();
    }
    expect(auditOf(w, eventId).events.map((e) => e.detail.action)).toContain('revocation.completed');
    expect((await w.catalog()).versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'revoked'],
      [2, 'rotating'],
      [3, 'active'],
    ]);
    expect(failures()).toEqual([]);
    // By design revoke's first attempt fails (retryably) while the revocation settles, and its
    // Errors alarm counts that one error: the only alarm, and it returns to OK once its evaluation
    // periods pass without another error. Traffic goes on meanwhile.
    const alarming = (): string[] => [...w.twin.world.alarms.values()].map((a) => a.name).filter((n) => w.twin.alarms.state(n) === 'ALARM');
    expect(alarming().every((n) => n.includes('FunctionErrorsrevoke'))).toBe(true);
    let step = 0;
    for (; alarming().length > 0; step++) {
      expect(step).toBeLessThan(12);
      await w.twin.advance(10 * MINUTE);
      await boot();
      await round();
    }
    expect(failures()).toEqual([]);
    console.log(`revocation: ${Date.now() - t0} ms, ${step} ten-minute steps until no alarm`);
  });

  it('ends with every record readable, re-encrypted past the revoked version, no failed request, nothing denied', async () => {
    await boot();
    for (const c of current.values()) expect(await call('GET', c.id)).toMatchObject({ status: 200, json: c });
    for (const [id, [version, origin]] of await stored()) expect([id, version, origin > 1]).toEqual([id, 3, true]);
    expect(failures()).toEqual([]);
    console.log(`requests: ${statuses.length}, all 200`);
    nothingUnexpected(w, expected);
  });
});
