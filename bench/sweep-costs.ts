/**
 * `npm run bench -- sweep-costs`: what one re-wrap sweep costs on AWS, read off the deployed-stack
 * twin's request log (test/twin/README.md).
 *
 * For each record target kind (an S3 prefix, a DynamoDB table) the twin stands the stack up with
 * that one target, the records are seeded under version 1, an operator rotates (`rekey --aws
 * rotate`) and the propagation window passes at full fidelity; then the log is marked, the clock
 * goes to the target's next sweep occurrence (the schedule starts the state machine, whose
 * Distributed Map drives the reencrypt function: exactly the deployed path), and the slice after
 * the mark is what the sweep cost: requests by service and action, bytes in and out, normalized
 * per 10,000 records swept, and dollars per 1,000,000 records swept at the list prices of
 * bench/lib/aws-prices.ts.
 *
 * Seeding is not part of any figure: records are written as the account's administrator straight
 * to the twin's moto_server (the same RecordService and envelope code the application runs, with
 * clients that skip the proxy), so it neither costs nor authorizes anything; the bytes are what
 * the application would have written.
 *
 * Only the sweep's own principals are counted (the scheduler's role for the sweep schedule, the
 * state machine's role, the reencrypt function's role); the rest of the window (other schedules
 * fired by the coalesced step) is counted apart as `excluded`. Lambda invocations and Step
 * Functions transitions are not HTTP requests in the twin (its drivers call the runtime
 * directly): invocations and billed durations come from the runtime's REPORT lines, transitions
 * from the executions' records walked over the deployed definition (see {@link transitionsOf}).
 *
 * REKEY_BENCH_SWEEP_RECORDS: records per target (default 5,000: both targets in under ten minutes
 * on a busy 2-core machine; 10,000 took 17 minutes there at a load average of 10). Figures are
 * scaled to 10,000 and 1,000,000 records and the table says N: a smaller N inflates the
 * per-record share of what every sweep does once (catalog reads, listing, the parent's states).
 * REKEY_BENCH_SWEEP_RECORD_BYTES: plaintext bytes per record (default 1,024).
 * REKEY_BENCH_SWEEP_TARGETS: `s3,s3-metadata,dynamodb` (default all three; s3-metadata is an S3
 * target in the metadata layout, whose re-wrap is a HEAD and a metadata-only CopyObject).
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDbRecordStore } from '../shared/adapters/aws/dynamodb-record-store';
import { createRecordTable, INDEX_PROJECTED_ATTRIBUTES } from '../shared/adapters/aws/dynamodb-record-table';
import { KmsKeyVault } from '../shared/adapters/aws/kms-key-vault';
import { S3CatalogStore } from '../shared/adapters/aws/s3-catalog-store';
import { S3RecordStore, type S3RecordLayout } from '../shared/adapters/aws/s3-record-store';
import { EnvelopeClient } from '../shared/envelope/envelope-client';
import { CatalogKeyProvider } from '../shared/keys/catalog-key-provider';
import type { RecordStore } from '../shared/ports/record-store';
import { RecordService, type ImportItem } from '../shared/reencrypt/record-service';
import { Twin } from '../test/twin/twin';
import type { RequestLogEntry, TwinSchedule } from '../test/twin/world';
import { RECORD_TABLE, tableTargetContext } from '../test/twin/scenarios/dynamodb-target-setup';
import { APP_ROLE, OPERATOR_ROLE, RECORD_BUCKET, RECORD_PREFIX, operatorPolicyFromDoc, revocationContext } from '../test/twin/scenarios/revocation-setup';
import { AWS_PRICES, PRICES_AS_OF, PRICES_REGION, dollars, s3PriceOf, type PriceName } from './lib/aws-prices';
import { printTable } from './lib/measure';

/** Record target kinds the benchmark sweeps. */
export type SweepTargetKind = 's3' | 's3-metadata' | 'dynamodb';

/** Options of {@link runSweepCostsBench}. */
export interface SweepCostsOptions {
  /** Records seeded per target. @default 5000 */
  readonly records?: number;
  /** Plaintext bytes per record. @default 1024 */
  readonly recordBytes?: number;
  /** @default ['s3', 's3-metadata', 'dynamodb'] */
  readonly targets?: readonly SweepTargetKind[];
  /** Progress lines (stderr in `npm run bench`). */
  readonly log?: (line: string) => void;
}

/** Requests and bytes of one service and action during the sweep. */
export interface ActionTally {
  readonly service: string;
  readonly action: string;
  readonly requests: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Billable units the sweep consumed (absolute, for N records). */
export interface SweepUnits {
  readonly s3Tier1: number;
  readonly s3Tier2: number;
  readonly kmsRequest: number;
  readonly dynamoDbWrite: number;
  readonly dynamoDbRead: number;
  readonly lambdaRequest: number;
  readonly lambdaGbSecond: number;
  readonly stepFunctionsTransition: number;
}

/** Dollars per 1,000,000 records swept, by service. */
export interface CostPerMillion {
  readonly s3: number;
  readonly kms: number;
  readonly dynamodb: number;
  readonly lambdaRequests: number;
  /** GB-s at the template's memory over the durations measured in the twin (indicative only: see NOT_MODELED). */
  readonly lambdaDuration: number;
  readonly states: number;
  /** Everything but {@link lambdaDuration}: the part that does not depend on the twin's speed. */
  readonly requestsTotal: number;
  readonly total: number;
}

/** What the Lambda side of the sweep did. */
export interface LambdaUse {
  readonly function: string;
  readonly memoryMiB: number;
  readonly invocations: number;
  readonly coldStarts: number;
  /** Sum of REPORT `Billed Duration` plus `Init Duration` (billed since 2025-08-01), ms, as measured in the twin. */
  readonly billedMs: number;
  readonly initMs: number;
}

/** Step Functions work of the sweep. */
export interface StatesUse {
  readonly executions: number;
  readonly childExecutions: number;
  readonly parentTransitions: number;
  readonly childTransitions: number;
  readonly retries: number;
}

/** DynamoDB item sizes (DynamoDB's own size rules) the capacity units were derived from. */
export interface ItemSizes {
  readonly itemBefore: number;
  readonly itemAfter: number;
  readonly indexEntry: number;
}

/** One target's measurement. */
export interface TargetSweepCost {
  readonly target: SweepTargetKind;
  readonly records: number;
  readonly recordBytes: number;
  readonly actions: readonly ActionTally[];
  /** Requests the window held from other principals (other schedules of the coalesced step): not counted. */
  readonly excludedRequests: number;
  /** The excluded requests by caller (role name) and action, most first (the ten largest). */
  readonly excludedTop: readonly { readonly caller: string; readonly action: string; readonly requests: number }[];
  readonly deniedRequests: number;
  readonly lambda: LambdaUse;
  readonly states: StatesUse;
  readonly itemSizes?: ItemSizes;
  readonly units: SweepUnits;
  readonly costPerMillion: CostPerMillion;
  readonly sweepWallMs: number;
  readonly seedWallMs: number;
}

/** The benchmark's result (bench/results/sweep-costs.json). */
export interface SweepCostsResult {
  readonly pricesAsOf: string;
  readonly region: string;
  readonly prices: typeof AWS_PRICES;
  readonly targets: readonly TargetSweepCost[];
  readonly notModeled: readonly string[];
}

const HOUR = 3_600_000;
const MINUTE = 60_000;
const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const SWEEP_KEYRING = 'pii';

/** What the figures leave out; printed under the table and kept in the JSON. */
export const NOT_MODELED: readonly string[] = Object.freeze([
  'Lambda durations are the twin\'s (Node 24 workers on this machine, every call through the authorizing proxy to moto_server): real AWS latencies differ, so GB-s is indicative only',
  'DynamoDB capacity units are derived from item sizes and request counts (the log has no ConsumedCapacity): Scan reads are bounded assuming each index entry is read at most twice (once under the old version, once after its re-write moved it); GetItem is one item per request, BatchGetItem at most one item per record',
  'CloudWatch Logs ingestion of the functions\' and state machine\'s logs, X-Ray traces, EMF metrics, CloudTrail data events: not counted',
  'free tiers, Savings Plans, KMS key-version storage ($1/month each), S3 storage of the extra object versions a re-write leaves in a versioned bucket, EventBridge Scheduler invocations ($1.00/million, one per sweep)',
  'a run without faults: no SDK retries, no throttling (Step Functions retries are counted when they happen and shown as retries)',
  'downstream work the sweep triggers but does not do (CloudTrail of its KMS calls delivered to the key-use function) falls under the excluded requests and is not priced',
]);

/**
 * Runs the benchmark: one twin stand-up per target kind, seed, rotate, sweep as deployed, tally.
 *
 * @example
 * const r = await runSweepCostsBench({ records: 200, targets: ['s3'] });
 * printSweepCosts(r);
 */
export async function runSweepCostsBench(options: SweepCostsOptions = {}): Promise<SweepCostsResult> {
  const records = options.records ?? 5_000;
  const recordBytes = options.recordBytes ?? 1_024;
  const log = options.log ?? (() => undefined);
  if (!Number.isSafeInteger(records) || records < 1) throw new RangeError('records must be a positive integer');
  if (!Number.isSafeInteger(recordBytes) || recordBytes < 1) throw new RangeError('recordBytes must be a positive integer');
  const out: TargetSweepCost[] = [];
  for (const target of options.targets ?? ['s3', 's3-metadata', 'dynamodb']) out.push(await measureTarget(target, records, recordBytes, log));
  return { pricesAsOf: PRICES_AS_OF, region: PRICES_REGION, prices: AWS_PRICES, targets: out, notModeled: NOT_MODELED };
}

/**
 * The benchmark's options from REKEY_BENCH_SWEEP_RECORDS, REKEY_BENCH_SWEEP_RECORD_BYTES and
 * REKEY_BENCH_SWEEP_TARGETS (see the file header).
 *
 * @example
 * await runSweepCostsBench({ ...sweepCostsOptionsFromEnv(), log: console.error });
 */
export function sweepCostsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SweepCostsOptions {
  const targets = env.REKEY_BENCH_SWEEP_TARGETS?.split(',').map((t) => t.trim()).filter((t) => t !== '');
  for (const t of targets ?? []) if (t !== 's3' && t !== 's3-metadata' && t !== 'dynamodb') throw new RangeError(`REKEY_BENCH_SWEEP_TARGETS: unknown target ${t} (s3, s3-metadata, dynamodb)`);
  return {
    ...(env.REKEY_BENCH_SWEEP_RECORDS === undefined ? {} : { records: Number(env.REKEY_BENCH_SWEEP_RECORDS) }),
    ...(env.REKEY_BENCH_SWEEP_RECORD_BYTES === undefined ? {} : { recordBytes: Number(env.REKEY_BENCH_SWEEP_RECORD_BYTES) }),
    ...(targets === undefined ? {} : { targets: targets as SweepTargetKind[] }),
  };
}

/** The `rekey` context of a stack with exactly one target of `kind` on keyring pii. */
function contextOf(kind: SweepTargetKind): Record<string, unknown> {
  if (kind === 'dynamodb') return tableTargetContext();
  return { ...revocationContext(), recordTargets: [{ keyring: SWEEP_KEYRING, bucket: RECORD_BUCKET, prefix: RECORD_PREFIX, ...(kind === 's3-metadata' ? { layout: 'metadata' } : {}) }] };
}

async function measureTarget(kind: SweepTargetKind, records: number, recordBytes: number, log: (line: string) => void): Promise<TargetSweepCost> {
  log(`sweep-costs ${kind}: standing the twin up`);
  const twin = await Twin.standUp({ context: contextOf(kind), roles: [{ name: APP_ROLE, policies: [] }, { name: OPERATOR_ROLE, policies: [] }] });
  const config = { endpoint: twin.moto.url, region: twin.world.region, credentials: ADMIN };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const kms = new KMSClient(config);
  const dynamo = new DynamoDBClient(config);
  try {
    twin.role(OPERATOR_ROLE).policies.push(operatorPolicyFromDoc(twin));
    const store: RecordStore = kind === 'dynamodb' ? await tableTarget(dynamo) : await s3Target(twin, s3, kind === 's3-metadata' ? 'metadata' : 'body');
    const seedStart = Date.now();
    await seed(twin, s3, kms, store, records, recordBytes);
    const seedWallMs = Date.now() - seedStart;
    log(`sweep-costs ${kind}: seeded ${records} records in ${(seedWallMs / 1000).toFixed(1)} s`);
    await expectVersions(store, records, 1, 'after seeding');

    const rotated = await twin.cli(['rotate', SWEEP_KEYRING, '--reason', 'sweep-costs benchmark'], twin.role(OPERATOR_ROLE));
    if (rotated.code !== 0) throw new Error(`rekey rotate failed: ${rotated.stderr}`);
    // Full fidelity through the propagation window: version 2 becomes active on the schedule's own tick.
    await twin.advance(HOUR);
    await expectVersions(store, records, 1, 'after the rotation (before the sweep)');
    const before = kind === 'dynamodb' ? await tableItemSizes(dynamo) : undefined;

    const schedule = sweepSchedule(twin, kind);
    const tick = twin.scheduler.occurrences(schedule, twin.clock.now(), twin.clock.now() + 3 * 24 * HOUR)[0];
    if (tick === undefined) throw new Error(`${schedule.name} has no occurrence in the next 3 days`);
    const sm = twin.world.outputs.SweepStateMachineArn ?? '';
    const executionsBefore = new Set(twin.stepFunctions.listExecutionArns(sm));
    const reencrypt = twin.fn('reencrypt');
    const from = { requests: twin.world.requestLog.length, invocations: twin.runtime.invocationLogs.length, coldStarts: twin.runtime.coldStartCount(reencrypt.name) };
    const sweepStart = Date.now();
    const earlier = twin.runtime.invocationLogs.filter((l) => l.functionName === reencrypt.name).length;
    log(`sweep-costs ${kind}: sweeping (schedule ${schedule.name} at ${new Date(tick).toISOString()}; reencrypt invoked ${earlier} times and started ${from.coldStarts} environments before, ${executionsBefore.size} executions before)`);
    // Each schedule once at the tick (coalesced: a speed-up, not AWS behaviour); the sweep
    // itself is the deployed execution. Other schedules' requests are excluded by principal.
    await twin.advanceTo(tick + MINUTE, { coalesce: true });
    await twin.settle();
    const sweepWallMs = Date.now() - sweepStart;
    const executions = twin.stepFunctions.listExecutionArns(sm).filter((a) => !executionsBefore.has(a));
    const failed = executions.map((a) => twin.stepFunctions.describeExecution(a)).filter((e) => e.status !== 'SUCCEEDED');
    if (executions.length === 0) throw new Error(`the ${kind} sweep did not start`);
    if (failed.length > 0) throw new Error(`sweep execution(s) ${failed.map((e) => `${e.name}: ${e.status}`).join(', ')}`);
    if (twin.backgroundErrors.length > 0) throw new Error(`twin background errors: ${twin.backgroundErrors.join('; ')}`);
    await expectVersions(store, records, 2, 'after the sweep');
    log(`sweep-costs ${kind}: swept in ${(sweepWallMs / 1000).toFixed(1)} s`);

    const window = twin.world.requestLog.slice(from.requests);
    const machine = [...twin.world.stateMachines.values()].find((m) => m.arn === sm);
    if (machine === undefined) throw new Error('no sweep state machine in the world');
    const principals = new Set([reencrypt.roleArn, machine.roleArn, schedule.roleArn]);
    const counted = window.filter((r) => principals.has(r.caller));
    const lambda = lambdaUseOf(twin.runtime.invocationLogs.slice(from.invocations).filter((l) => l.functionName === reencrypt.name), reencrypt.name, reencrypt.memoryMiB, twin.runtime.coldStartCount(reencrypt.name) - from.coldStarts);
    const states = transitionsOf(machine.definition, executions.map((a) => ({ input: JSON.parse(twin.stepFunctions.describeExecution(a).input) as unknown, record: twin.stepFunctions.executionRecord(a) })), lambda.invocations);
    const itemSizes = before === undefined ? undefined : { ...(await tableItemSizes(dynamo)), itemBefore: before.itemBefore };
    const actions = tally(counted);
    const units = unitsOf(actions, lambda, states, records, itemSizes);
    return {
      target: kind,
      records,
      recordBytes,
      actions,
      excludedRequests: window.length - counted.length,
      excludedTop: topCallers(window.filter((r) => !principals.has(r.caller)), 10),
      deniedRequests: counted.filter((r) => !r.allowed).length,
      lambda,
      states,
      ...(itemSizes === undefined ? {} : { itemSizes }),
      units,
      costPerMillion: costPerMillion(units, records),
      sweepWallMs,
      seedWallMs,
    };
  } finally {
    for (const c of [s3, kms, dynamo]) c.destroy();
    await twin.close();
  }
}

/** The record bucket, created as its owner would (versioned, before anything uses it). */
async function s3Target(twin: Twin, s3: S3Client, layout: S3RecordLayout): Promise<RecordStore> {
  await s3.send(new CreateBucketCommand({ Bucket: RECORD_BUCKET }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: RECORD_BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  twin.world.buckets.set(RECORD_BUCKET, { name: RECORD_BUCKET, arn: `arn:aws:s3:::${RECORD_BUCKET}`, versioning: true, eventBridge: false });
  return new S3RecordStore({ client: s3, bucket: RECORD_BUCKET, prefix: RECORD_PREFIX, layout });
}

/** The application team's record table (RECORD_TABLE_DEFINITION), as the table scenario creates it. */
async function tableTarget(dynamo: DynamoDBClient): Promise<RecordStore> {
  await createRecordTable(dynamo, RECORD_TABLE, { pollMs: 20 });
  return new DynamoDbRecordStore({ client: dynamo, tableName: RECORD_TABLE });
}

/** Writes `n` records under the active version with the application's RecordService, as the administrator. */
async function seed(twin: Twin, s3: S3Client, kms: KMSClient, store: RecordStore, n: number, bytes: number): Promise<void> {
  const provider = new CatalogKeyProvider({
    store: new S3CatalogStore({ client: s3, bucket: twin.world.outputs.CatalogBucket ?? '', prefix: twin.world.outputs.CatalogPrefix ?? '' }),
    vault: new KmsKeyVault({ client: kms }),
    clock: () => twin.clock.now(),
  });
  const service = new RecordService({ records: store, envelopes: new EnvelopeClient(provider), versions: provider });
  async function* items(): AsyncIterable<ImportItem> {
    for (let i = 0; i < n; i++) {
      const id = `rec-${String(i).padStart(7, '0')}`;
      yield { id, label: id, load: async () => randomBytes(bytes) };
    }
  }
  const report = await service.importRecords(items(), SWEEP_KEYRING);
  if (report.imported !== n) throw new Error(`seeding imported ${report.imported} of ${n} records (${report.failed} failed)`);
}

/** Fails unless every one of the `n` records is on `version` (read as the administrator: costs nothing). */
async function expectVersions(store: RecordStore, n: number, version: number, when: string): Promise<void> {
  const counts = await store.countByVersion(SWEEP_KEYRING);
  const got = Object.fromEntries(counts);
  if (counts.size !== 1 || counts.get(version) !== n) throw new Error(`${when}: expected ${n} records on version ${version}, found ${JSON.stringify(got)}`);
}

/** The one schedule that starts the sweep state machine for the target. */
function sweepSchedule(twin: Twin, kind: SweepTargetKind): TwinSchedule {
  const sm = twin.world.outputs.SweepStateMachineArn ?? '';
  const found = [...twin.world.schedules.values()].filter((s) => {
    if (s.targetArn !== sm || s.state !== 'ENABLED') return false;
    const input = JSON.parse(s.input ?? '{}') as Record<string, unknown>;
    return input.keyring === SWEEP_KEYRING && (kind === 'dynamodb' ? input.table === RECORD_TABLE : input.bucket === RECORD_BUCKET);
  });
  if (found.length !== 1) throw new Error(`expected one sweep schedule for the ${kind} target, found ${found.length}`);
  return found[0] as TwinSchedule;
}

/** S3 operations tallied under their own name rather than their first IAM action. */
const BILLED_BY_OPERATION: ReadonlySet<string> = new Set(['CopyObject', 'UploadPartCopy', 'HeadObject']);

/** Requests and bytes by service and action, most requests first. */
function tally(entries: readonly RequestLogEntry[]): ActionTally[] {
  const by = new Map<string, { service: string; action: string; requests: number; bytesIn: number; bytesOut: number }>();
  for (const r of entries) {
    // A copy is authorized as the source's s3:GetObject first, and a HEAD as s3:GetObject, but S3
    // bills a copy as a PUT/COPY request: those are tallied by operation.
    const action = r.service === 's3' && BILLED_BY_OPERATION.has(r.operation) ? `s3:${r.operation}` : r.action;
    const key = `${r.service} ${action}`;
    const t = by.get(key) ?? { service: r.service, action, requests: 0, bytesIn: 0, bytesOut: 0 };
    t.requests += 1;
    t.bytesIn += r.bytesIn;
    t.bytesOut += r.bytesOut;
    by.set(key, t);
  }
  return [...by.values()].sort((a, b) => a.service.localeCompare(b.service) || b.requests - a.requests);
}

/** Requests by caller role name and action, the `top` largest. */
function topCallers(entries: readonly RequestLogEntry[], top: number): { caller: string; action: string; requests: number }[] {
  const by = new Map<string, { caller: string; action: string; requests: number }>();
  for (const r of entries) {
    const caller = r.caller.split('/').pop() ?? r.caller;
    const t = by.get(`${caller} ${r.action}`) ?? { caller, action: r.action, requests: 0 };
    t.requests += 1;
    by.set(`${caller} ${r.action}`, t);
  }
  return [...by.values()].sort((a, b) => b.requests - a.requests).slice(0, top);
}

const REPORT_LINE = /^REPORT RequestId: \S+\tDuration: ([\d.]+) ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB(?:\tInit Duration: ([\d.]+) ms)?/;

/** Invocations, billed and init durations from the runtime's REPORT lines (Lambda's own log format); cold starts from the runtime's count. */
function lambdaUseOf(logs: readonly { logs: readonly { text: string }[] }[], name: string, memoryMiB: number, coldStarts: number): LambdaUse {
  let billedMs = 0;
  let initMs = 0;
  for (const l of logs) {
    for (const line of l.logs) {
      const m = REPORT_LINE.exec(line.text);
      if (m === null) continue;
      billedMs += Number(m[2]);
      if (m[4] !== undefined) initMs += Math.ceil(Number(m[4]));
    }
  }
  return { function: name, memoryMiB, invocations: logs.length, coldStarts, billedMs: billedMs + initMs, initMs };
}

/** The ASL subset the transition count walks (the deployed definition, resolved). */
interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Variable?: string; readonly IsPresent?: boolean; readonly Next: string }[];
  readonly ItemProcessor?: { readonly StartAt: string; readonly States: Readonly<Record<string, AslState>> };
}

/**
 * Step Functions Standard bills every state entered, retries included ("Step Functions pricing":
 * a state transition is counted each time a step of the workflow is executed). The twin records
 * executions, map runs, child executions and retries, not transitions, so they are counted here
 * from the deployed definition:
 *
 * - the parent: walk from StartAt with the execution's input through the Choice states (`IsPresent`
 *   rules on `$.<field>`, what the sweep's definition uses) to the Map state; one per state entered;
 * - the children, by the two processor shapes the template defines: a single Task (S3 batches: one
 *   transition per attempt) or Task → Choice → Pass → Task / Succeed (table segments: per page the
 *   Task, the Choice and a Pass back, per child one Succeed instead of the last Pass; every retry one
 *   more Task). Any other shape throws, so a template change cannot silently mis-count.
 */
function transitionsOf(definition: Record<string, unknown>, executions: readonly { input: unknown; record: ReturnType<Twin['stepFunctions']['executionRecord']> }[], invocations: number): StatesUse {
  const states = definition.States as Record<string, AslState> | undefined;
  const startAt = definition.StartAt as string | undefined;
  if (states === undefined || startAt === undefined) throw new Error('sweep definition has no States / StartAt');
  let parentTransitions = 0;
  let childTransitions = 0;
  let childExecutions = 0;
  let retries = 0;
  for (const e of executions) {
    let name: string | undefined = startAt;
    let map: AslState | undefined;
    let parentTasks = 0;
    for (let guard = 0; name !== undefined && guard < 100; guard++) {
      const state: AslState | undefined = states[name];
      if (state === undefined) throw new Error(`sweep definition has no state ${name}`);
      parentTransitions += 1;
      if (state.Type === 'Map') map = state;
      if (state.Type === 'Task') parentTasks += 1;
      if (state.Type === 'Choice') {
        const input = e.input as Record<string, unknown>;
        const rule: { readonly Next: string } | undefined = (state.Choices ?? []).find((c) => {
          if (c.IsPresent === undefined || c.Variable === undefined || !/^\$\.\w+$/.test(c.Variable)) throw new Error(`unsupported Choice rule in ${name}`);
          return Object.hasOwn(input, c.Variable.slice(2)) === c.IsPresent;
        });
        name = rule?.Next ?? state.Default;
      } else {
        name = state.End === true ? undefined : state.Next;
      }
    }
    if (map?.ItemProcessor === undefined) throw new Error('sweep execution reached no Map state with an ItemProcessor');
    const children = e.record.childExecutions.length;
    const executionRetries = e.record.retries.length;
    childExecutions += children;
    retries += executionRetries;
    const shape = Object.values(map.ItemProcessor.States).map((s) => s.Type).sort().join(',');
    if (shape === 'Task') {
      childTransitions += children + executionRetries;
    } else if (shape === 'Choice,Pass,Succeed,Task') {
      // Pages that returned a result: the worker's invocations minus the parent's own Task states
      // and the attempts a retrier re-ran (throttled attempts never ran).
      const rerun = e.record.retries.filter((r) => !r.error.includes('TooManyRequests')).length;
      const pages = invocations - parentTasks - rerun;
      childTransitions += pages + executionRetries + pages + (pages - children) + children;
    } else {
      throw new Error(`unknown map processor shape ${shape}: the transition model needs updating`);
    }
  }
  return { executions: executions.length, childExecutions, parentTransitions, childTransitions, retries };
}

/**
 * DynamoDB's item size: attribute name bytes plus value bytes ("Item sizes and formats",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * strings UTF-8 length, binaries their length, numbers about one byte per two significant digits
 * plus one.
 */
function attributeSize(name: string, value: AttributeValue): number {
  const n = Buffer.byteLength(name, 'utf8');
  if (value.S !== undefined) return n + Buffer.byteLength(value.S, 'utf8');
  if (value.B !== undefined) return n + value.B.length;
  if (value.N !== undefined) return n + Math.ceil(value.N.replace(/^[-0.]+|[.]/g, '').length / 2) + 1;
  if (value.BOOL !== undefined || value.NULL !== undefined) return n + 1;
  return n + Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** Average item and index-entry sizes of the table now (read as the administrator, straight to moto); the caller sets `itemBefore` from an earlier read. */
async function tableItemSizes(dynamo: DynamoDBClient): Promise<ItemSizes> {
  let items = 0;
  let total = 0;
  let index = 0;
  let start: Record<string, AttributeValue> | undefined;
  const indexed = new Set(['id', 'keyring', 'vsk', ...INDEX_PROJECTED_ATTRIBUTES]);
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: RECORD_TABLE, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      items += 1;
      for (const [k, v] of Object.entries(item)) {
        const s = attributeSize(k, v);
        total += s;
        if (indexed.has(k)) index += s;
      }
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  if (items === 0) throw new Error('the record table is empty');
  const item = Math.ceil(total / items);
  return { itemBefore: item, itemAfter: item, indexEntry: Math.ceil(index / items) };
}

/**
 * Billable units. DynamoDB (no ConsumedCapacity in the log, so from item sizes; "Read/write
 * capacity mode" and "Global secondary indexes: provisioned throughput considerations",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations):
 * a write costs ceil(size / 1 KB) WRU on the table plus, on each GSI, one index write when a
 * projected attribute changes or two (delete + put) when the index key changes: a re-wrap moves
 * `rekey-by-version` (its sort key holds the version) and rewrites the revision projected into
 * `rekey-by-origin`. A strongly consistent read costs ceil(size / 4 KB) RRU, an eventually
 * consistent one (every GSI read) half.
 */
function unitsOf(actions: readonly ActionTally[], lambda: LambdaUse, states: StatesUse, records: number, sizes: ItemSizes | undefined): SweepUnits {
  const count = (service: string, action: string): number => actions.find((a) => a.service === service && a.action === `${service}:${action}`)?.requests ?? 0;
  let s3Tier1 = 0;
  let s3Tier2 = 0;
  for (const a of actions.filter((x) => x.service === 's3')) {
    const price = s3PriceOf(a.action);
    if (price === 's3Tier1') s3Tier1 += a.requests;
    else if (price === 's3Tier2') s3Tier2 += a.requests;
  }
  const kmsRequest = actions.filter((a) => a.service === 'kms').reduce((n, a) => n + a.requests, 0);
  let dynamoDbWrite = 0;
  let dynamoDbRead = 0;
  if (sizes !== undefined) {
    const kb = (b: number): number => Math.ceil(b / 1024);
    const fourKb = (b: number): number => Math.ceil(b / 4096);
    const indexWrites = 2 * kb(sizes.indexEntry) + kb(sizes.indexEntry);
    const writes = count('dynamodb', 'UpdateItem') + count('dynamodb', 'PutItem');
    dynamoDbWrite = writes * (kb(Math.max(sizes.itemBefore, sizes.itemAfter)) + indexWrites);
    const scans = count('dynamodb', 'Scan');
    dynamoDbRead += 0.5 * (fourKb(2 * records * sizes.indexEntry) + scans);
    dynamoDbRead += Math.min(records, count('dynamodb', 'BatchGetItem') * 100) * fourKb(sizes.itemBefore);
    dynamoDbRead += count('dynamodb', 'GetItem') * fourKb(sizes.itemBefore);
    dynamoDbRead += 0.5 * count('dynamodb', 'Query');
  }
  const lambdaGbSecond = (lambda.billedMs / 1000) * (lambda.memoryMiB / 1024);
  return {
    s3Tier1,
    s3Tier2,
    kmsRequest,
    dynamoDbWrite,
    dynamoDbRead,
    lambdaRequest: lambda.invocations,
    lambdaGbSecond,
    stepFunctionsTransition: states.parentTransitions + states.childTransitions,
  };
}

/** Dollars per 1,000,000 records swept, by service, from units measured over `records`. */
function costPerMillion(units: SweepUnits, records: number): CostPerMillion {
  const scale = 1_000_000 / records;
  const d = (p: PriceName): number => dollars(p, units[p]) * scale;
  const s3 = d('s3Tier1') + d('s3Tier2');
  const kms = d('kmsRequest');
  const dynamodb = d('dynamoDbWrite') + d('dynamoDbRead');
  const lambdaRequests = d('lambdaRequest');
  const lambdaDuration = d('lambdaGbSecond');
  const states = d('stepFunctionsTransition');
  const requestsTotal = s3 + kms + dynamodb + lambdaRequests + states;
  return { s3, kms, dynamodb, lambdaRequests, lambdaDuration, states, requestsTotal, total: requestsTotal + lambdaDuration };
}

/** Dollars with enough digits for sub-cent figures. */
function usd(n: number): string {
  return n >= 100 ? `$${n.toFixed(0)}` : n >= 1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`;
}

/**
 * Prints the benchmark's tables: per target, requests and bytes per 10,000 records swept by
 * service and action, then cost per 1,000,000 records swept by service, then the prices and
 * what is not modeled.
 *
 * @example
 * printSweepCosts(await runSweepCostsBench({ records: 200 }));
 */
export function printSweepCosts(r: SweepCostsResult): void {
  for (const t of r.targets) {
    const per10k = 10_000 / t.records;
    const perRecord = (n: number): string => (n / t.records).toFixed(4);
    const rows: (string | number)[][] = t.actions.map((a) => [a.service, a.action, a.requests * per10k, perRecord(a.requests), (a.bytesIn * per10k) / 1024, (a.bytesOut * per10k) / 1024]);
    rows.push(['lambda', `Invoke (reencrypt, ${t.lambda.memoryMiB} MB, ${t.lambda.coldStarts} cold)`, t.lambda.invocations * per10k, perRecord(t.lambda.invocations), '-', '-']);
    rows.push(['lambda', 'GB-s (twin-timed)', t.units.lambdaGbSecond * per10k, perRecord(t.units.lambdaGbSecond), '-', '-']);
    rows.push(['states', `transitions (${t.states.executions} exec, ${t.states.childExecutions} children, ${t.states.retries} retries)`, t.units.stepFunctionsTransition * per10k, perRecord(t.units.stepFunctionsTransition), '-', '-']);
    if (t.itemSizes !== undefined) {
      rows.push(['dynamodb', `WRU (item ${t.itemSizes.itemAfter} B, index entry ${t.itemSizes.indexEntry} B)`, t.units.dynamoDbWrite * per10k, perRecord(t.units.dynamoDbWrite), '-', '-']);
      rows.push(['dynamodb', 'RRU', t.units.dynamoDbRead * per10k, perRecord(t.units.dynamoDbRead), '-', '-']);
    }
    printTable(
      `sweep-costs ${t.target}: per 10,000 records swept (N = ${t.records.toLocaleString('en-US')} records of ${t.recordBytes} B plaintext, scaled; ${t.excludedRequests} requests of other principals in the window not counted, ${t.deniedRequests} denied)`,
      ['service', 'action', 'requests', 'per record', 'KiB in', 'KiB out'],
      rows,
    );
  }
  printTable(
    `sweep-costs: US$ per 1,000,000 records swept (${r.region}, on-demand list prices as of ${r.pricesAsOf})`,
    ['target', 'S3', 'KMS', 'DynamoDB', 'Lambda requests', 'Step Functions', 'total w/o GB-s', 'Lambda GB-s (twin-timed)', 'total'],
    r.targets.map((t) => {
      const c = t.costPerMillion;
      return [t.target, usd(c.s3), usd(c.kms), usd(c.dynamodb), usd(c.lambdaRequests), usd(c.states), usd(c.requestsTotal), usd(c.lambdaDuration), usd(c.total)];
    }),
  );
  printTable(
    'sweep-costs: prices used',
    ['price', 'US$', 'per', 'unit'],
    Object.entries(r.prices).map(([k, p]) => [k, String(p.usd), p.per.toLocaleString('en-US'), p.unit]),
  );
  console.log('\nnot modeled:');
  for (const n of r.notModeled) console.log(`- ${n}`);
}
