/**
 * A DynamoDB record target as deployed: the stack synthesized with `tableTargets` (pii → the
 * application team's table, SEGMENTS parallel-scan segments), the real reencrypt / revoke bundles
 * under their template roles, every DynamoDB request authorized against the template's IAM
 * (request-map/dynamodb.ts) before moto sees it.
 *
 * 1. Scheduled sweep: records written by the application under version 1; a rotation makes 2
 *    active; the sweep schedule of the table target starts an execution whose Distributed Map fans
 *    out over `$.segments` (one child per segment, looping on the returned cursor). Every record
 *    ends on version 2 and decrypts to its plaintext; no request was denied (the template's
 *    least-privilege statements are sufficient).
 * 2. Planted fault: the reencrypt role without the table's index ARNs. The sweep fails loudly (the
 *    execution FAILED, SweepStalled in ALARM and delivered), the denial is exactly the index Query,
 *    nothing is lost; with the statements back, the next run finishes.
 * 3. Revocation of version 1: the reencrypt-mode execution over the table re-encrypts every record
 *    (version and origin advanced past 1), the application reads everything back.
 *
 * Shapes: execution input `{ keyring, table, mode, segments: [0..N-1], totalSegments, version? }`
 * and the per-segment event are H5a's (infra/constructs/sweep-state-machine.ts TSDoc); DynamoDB
 * actions and ARNs from "Actions, resources, and condition keys for Amazon DynamoDB"
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).
 */
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import type { Twin } from '../twin';
import { functionRole, RECORD_TABLE, SEGMENTS, standUpTableTarget, expectPaged, withoutIndexArns, type TableStack } from './dynamodb-target-setup';

jest.setTimeout(600_000);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RECORD_COUNT = 40;
const REVOKE_ARGV = ['revoke', 'pii', '--version', '1', '--reason', 'SEC-91 table key exposed', '--yes'];

async function writeRecords(stack: TableStack, n: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const id = `order-${String(i).padStart(4, '0')}`;
    const plaintext = `card 4111-0000-0000-${String(i).padStart(4, '0')}`;
    await stack.app.records.put(id, 'pii', Buffer.from(plaintext));
    out.set(id, plaintext);
  }
  return out;
}

/** The sweep executions over the table (their input names it), oldest first. */
function tableSweeps(twin: Twin): ReturnType<Twin['stepFunctions']['describeExecution']>[] {
  const sm = twin.world.outputs.SweepStateMachineArn ?? '';
  return twin.stepFunctions
    .listExecutionArns(sm)
    .map((arn) => twin.stepFunctions.describeExecution(arn))
    .filter((e) => (JSON.parse(e.input) as { table?: string }).table === RECORD_TABLE)
    .sort((a, b) => a.startDate.getTime() - b.startDate.getTime());
}

/** Every record's stored version and origin, read as admin. */
async function storedVersions(stack: TableStack, ids: Iterable<string>): Promise<Map<string, { version: number; origin: number }>> {
  const out = new Map<string, { version: number; origin: number }>();
  for (const id of ids) {
    const stored = await stack.admin.get(id);
    if (stored === undefined) throw new Error(`record ${id} is gone`);
    const info = inspectEnvelope(stored.envelope);
    out.set(id, { version: info.version, origin: info.originVersion });
  }
  return out;
}

/** A fresh application instance reads every record back to its plaintext. */
async function readAllBack(stack: TableStack, plaintexts: ReadonlyMap<string, string>): Promise<void> {
  const app = stack.app.restart();
  try {
    for (const [id, plaintext] of plaintexts) expect([id, (await app.records.get(id)).plaintext.toString()]).toEqual([id, plaintext]);
  } finally {
    app.close();
  }
}

/** Rotates pii now (operator CLI) and lets the propagation window pass at full fidelity: version 2 active. */
async function rotate(stack: TableStack): Promise<void> {
  const res = await stack.twin.cli(['rotate', 'pii', '--reason', 'table-target scenario'], stack.operator);
  expect(res).toMatchObject({ code: 0 });
  await stack.twin.advance(HOUR);
  expect((await stack.catalog()).versions.find((v) => v.state === 'active')?.version).toBe(2);
}

describe('a scheduled sweep over a DynamoDB table target', () => {
  let stack: TableStack;
  let plaintexts: Map<string, string>;

  beforeAll(async () => {
    stack = await standUpTableTarget();
    plaintexts = await writeRecords(stack, RECORD_COUNT);
    await rotate(stack);
    // Each schedule once over the next day and a half (coalesced: a speed-up, not AWS behaviour).
    await stack.twin.advance(DAY + 12 * HOUR, { coalesce: true });
    await stack.twin.settle();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('ran the table sweep as a Distributed Map over the segments, and it succeeded', () => {
    const runs = tableSweeps(stack.twin);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.map((r) => r.status)).toEqual(runs.map(() => 'SUCCEEDED'));
    const input = JSON.parse(runs[0]?.input ?? '{}') as Record<string, unknown>;
    expect(input).toMatchObject({ keyring: 'pii', table: RECORD_TABLE, mode: 'rewrap' });
    const record = stack.twin.stepFunctions.executionRecord(runs[0]?.executionArn ?? '');
    expect(record.mapRuns.map((m) => m.itemCount)).toEqual([SEGMENTS]);
    const segments = record.childExecutions.map((c) => (c.input as { segment?: number }).segment).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(segments).toEqual(Array.from({ length: SEGMENTS }, (_, i) => i));
  });

  it('moved every record to version 2, each decrypting to its plaintext', async () => {
    const versions = await storedVersions(stack, plaintexts.keys());
    expect(new Set([...versions.values()].map((v) => v.version))).toEqual(new Set([2]));
    await readAllBack(stack, plaintexts);
  });

  it('needed no permission the template does not grant', () => {
    expect(stack.twin.deniedRequests().map((d) => `${d.caller} ${d.action} ${d.resources.join(',')}`)).toEqual([]);
    expect(stack.twin.backgroundErrors).toEqual([]);
    // The sweep did talk DynamoDB, as the reencrypt role, on the table and its index only.
    const reencrypt = functionRole(stack.twin, 'reencrypt');
    const calls = stack.twin.world.requestLog.filter((r) => r.caller === reencrypt.arn && r.service === 'dynamodb');
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) for (const r of c.resources) expect(r.startsWith(`arn:aws:dynamodb:${stack.twin.world.region}:${stack.twin.world.account}:table/${RECORD_TABLE}`)).toBe(true);
  });
});

describe('a reencrypt role missing the index ARNs (planted fault)', () => {
  let stack: TableStack;
  let plaintexts: Map<string, string>;
  let restore: () => void;

  beforeAll(async () => {
    stack = await standUpTableTarget();
    restore = withoutIndexArns(functionRole(stack.twin, 'reencrypt'));
    plaintexts = await writeRecords(stack, 12);
    await rotate(stack);
    await stack.twin.advance(DAY + 12 * HOUR, { coalesce: true });
    await stack.twin.settle();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('fails the sweep loudly: execution FAILED, SweepStalled pages, the denial is the index Query', async () => {
    const runs = tableSweeps(stack.twin);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.map((r) => r.status)).toContain('FAILED');
    const reencrypt = functionRole(stack.twin, 'reencrypt');
    const denied = stack.twin.deniedRequests();
    expect(denied.length).toBeGreaterThan(0);
    for (const d of denied) {
      expect(d.caller).toBe(reencrypt.arn);
      expect(d.resources.every((r) => r.includes(`table/${RECORD_TABLE}/index/`))).toBe(true);
    }
    await stack.twin.advance(10 * 60_000);
    await stack.twin.alarms.evaluate();
    await expectPaged(stack, 'SweepStalled');
  });

  it('lost nothing: every record still decrypts, and with the statements back the next run finishes', async () => {
    await readAllBack(stack, plaintexts);
    restore();
    const before = tableSweeps(stack.twin).length;
    await stack.twin.advance(DAY, { coalesce: true });
    await stack.twin.settle();
    const runs = tableSweeps(stack.twin);
    expect(runs.length).toBeGreaterThan(before);
    expect(runs[runs.length - 1]?.status).toBe('SUCCEEDED');
    const versions = await storedVersions(stack, plaintexts.keys());
    expect(new Set([...versions.values()].map((v) => v.version))).toEqual(new Set([2]));
    await readAllBack(stack, plaintexts);
  });
});

describe('revoking version 1 re-encrypts the table through a reencrypt-mode execution', () => {
  let stack: TableStack;
  let plaintexts: Map<string, string>;

  beforeAll(async () => {
    stack = await standUpTableTarget();
    // REKEY_INLINE_SWEEP_LIMIT is read by revoke only (a test knob, as in revocation.test.ts): 8 records > 2 go to the map.
    stack.twin.fn('revoke').environment.REKEY_INLINE_SWEEP_LIMIT = '2';
    plaintexts = await writeRecords(stack, 8);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('revokes, runs the table map in reencrypt mode, and every record leaves origin 1', async () => {
    const before = await storedVersions(stack, plaintexts.keys());
    expect(new Set([...before.values()].map((v) => v.origin))).toEqual(new Set([1]));
    const res = await stack.twin.cli(REVOKE_ARGV, stack.operator);
    expect(res.code).toBe(0);
    await stack.twin.advance(30 * 60_000);
    await stack.twin.settle();
    const runs = tableSweeps(stack.twin);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(runs[0]?.input ?? '{}')).toMatchObject({ keyring: 'pii', table: RECORD_TABLE, mode: 'reencrypt', version: 1 });
    expect(runs.map((r) => r.status)).toEqual(runs.map(() => 'SUCCEEDED'));
    const after = await storedVersions(stack, plaintexts.keys());
    const active = (await stack.catalog()).versions.find((v) => v.state === 'active')?.version;
    for (const [id, v] of after) expect([id, v.version, v.origin > 1]).toEqual([id, active, true]);
    await readAllBack(stack, plaintexts);
    expect(stack.twin.deniedRequests().map((d) => `${d.caller} ${d.action} ${d.resources.join(',')}`)).toEqual([]);
  });
});
