/**
 * `npm run bench -- stores`: the sweep on each record store, each on its real local server
 * (SQLite file, S3RecordStore and DynamoDbRecordStore on moto_server, PgRecordStore on a
 * throwaway PostgreSQL), for 1 KiB and 64 KiB payloads:
 *
 * - sweep records/s of the header-only re-wrap (the Sweeper with `withHeaderRewrap` envelopes:
 *   the store's BatchRecordStore path) against the article's approach (read the whole record,
 *   decrypt, encrypt under a fresh data key, conditional put), on the same store, the same
 *   scan and the same concurrency, with their ratio from the same run;
 * - bytes moved per record between rekey and the store for each approach (bench/lib/byte-counters.ts
 *   says how each backend's bytes are counted), with the targets: header-only bytes at 64 KiB
 *   within 1.2x of those at 1 KiB, and the article's at least 3x header-only's at 64 KiB;
 * - count-by-version time over the whole dataset;
 * - lazy re-wrap latency: RecordService.get of records under a superseded version (each read
 *   writes the record back re-wrapped), p50 and p95.
 *
 * Loading the records is not timed into any figure (it is reported apart). Records per dataset:
 * REKEY_BENCH_STORE_RECORDS (default 100,000); a store whose local server cannot do that within
 * about 10 minutes per dataset runs fewer by default (REKEY_BENCH_STORE_RECORDS_<STORE>
 * overrides), and the table and the JSON say so. REKEY_BENCH_STORES picks stores
 * (`sqlite,s3,s3-metadata,dynamodb,postgres`), REKEY_BENCH_STORE_CONCURRENCY the concurrency (default 8).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Pool } from 'pg';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { MemoryCheckpointStore } from '../shared/adapters/local/memory-checkpoint-store';
import { SqliteRecordStore } from '../shared/adapters/local/sqlite-record-store';
import type { RecordInput } from '../shared/adapters/local/sqlite-record-store';
import { S3RecordStore, type S3RecordLayout } from '../shared/adapters/aws/s3-record-store';
import { DynamoDbRecordStore } from '../shared/adapters/aws/dynamodb-record-store';
import { createRecordTable } from '../shared/adapters/aws/dynamodb-record-table';
import { PgRecordStore } from '../shared/adapters/postgres/pg-record-store';
import { ConflictError } from '../shared/errors';
import { isBatchRecordStore } from '../shared/ports/record-store';
import type { RecordStore } from '../shared/ports/record-store';
import { recordContext, RecordService, runBounded, Sweeper, withHeaderRewrap } from '../shared/reencrypt';
import { ByteCounter, countPoolSocketBytes, countSdkBodyBytes, countSqliteValueBytes } from './lib/byte-counters';
import type { ByteCount } from './lib/byte-counters';
import { median, printTable } from './lib/measure';
import { startBenchServers } from './lib/servers';
import { openBenchKeyring, type BenchKeyring } from './lib/bench-keyring';
import type { BenchServers } from './lib/servers';

/** The stores this benchmark knows. */
export type BenchStoreName = 'sqlite' | 's3' | 's3-metadata' | 'dynamodb' | 'postgres';

/** Every store, in the order they run. */
export const BENCH_STORES: readonly BenchStoreName[] = ['sqlite', 's3', 's3-metadata', 'dynamodb', 'postgres'];

/** Options of {@link runStoresBench}. */
export interface StoresBenchOptions {
  /** Records per dataset, before any per-store reduction. @default 100000 */
  readonly records?: number;
  /** Per-store record counts that replace the default reduction (and `records`). */
  readonly recordsByStore?: Partial<Record<BenchStoreName, number>>;
  /** Payload sizes in bytes. @default [1024, 65536] */
  readonly sizes?: readonly number[];
  /** Records migrated at the same time, for both approaches. @default 8 */
  readonly concurrency?: number;
  /** Scan page size. @default 500 */
  readonly batchSize?: number;
  /** Records read by the lazy re-wrap measurement. @default 200 */
  readonly lazySamples?: number;
  /** Stores to run. @default all of {@link BENCH_STORES} */
  readonly stores?: readonly BenchStoreName[];
  /** Progress lines. @default nothing */
  readonly log?: (line: string) => void;
}

/** One measured sweep. */
export interface SweepFigures {
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly migrated: number;
  readonly skipped: number;
  readonly failed: number;
  /** Bytes sent to the store per migrated record. */
  readonly bytesSentPerRecord: number;
  /** Bytes received from the store per migrated record. */
  readonly bytesReceivedPerRecord: number;
  /** Sent plus received, per migrated record. */
  readonly bytesPerRecord: number;
  /** 1-minute load average when the sweep started. */
  readonly loadAverage1m: number;
}

/** Lazy re-wrap latency of RecordService.get on records under a superseded version. */
export interface LazyFigures {
  readonly samples: number;
  /** Reads whose write-back re-wrapped the record (the others are counted apart, never hidden). */
  readonly rewrapped: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** Bytes moved per read (read plus write-back). */
  readonly bytesPerRead: number;
}

/** Figures of one store at one payload size. */
export interface StoreBenchRow {
  readonly store: BenchStoreName;
  readonly sizeBytes: number;
  readonly records: number;
  /** Why fewer records than asked for, when fewer. */
  readonly reduced?: { readonly from: number; readonly reason: string };
  /** Write path the Sweeper took: `header-batch` (getHeader/putHeaders), `envelope-batch` (putBatch) or `per-record` (put). */
  readonly sweepPath: 'header-batch' | 'envelope-batch' | 'per-record';
  /** Seconds to generate and load the dataset (in no other figure). */
  readonly loadSeconds: number;
  readonly headerRewrap: SweepFigures;
  readonly article: SweepFigures;
  /** Header-only records/s over the article's records/s. */
  readonly speedup: number;
  /** Median of 3 countByVersion calls over the whole dataset, in ms. */
  readonly countByVersionMs: number;
  readonly lazy: LazyFigures;
}

/** The byte targets of one store, with PASS/FAIL reported as measured. */
export interface StoreTargets {
  readonly store: BenchStoreName;
  /** Header-only bytes/record at the largest size over those at the smallest (target <= 1.2). */
  readonly headerBytesLargeOverSmall?: number;
  readonly headerBytesWithin1_2x?: boolean;
  /** Article bytes/record over header-only bytes/record at the largest size (target >= 3). */
  readonly articleOverHeaderBytesAtLarge?: number;
  readonly articleAtLeast3xBytes?: boolean;
  /** Why a target cannot be met by this store's design, when that is the case. */
  readonly note?: string;
}

/** Result of {@link runStoresBench}. */
export interface StoresBenchResult {
  readonly benchmark: 'stores';
  readonly at: string;
  readonly machine: { readonly cpus: number; readonly model: string; readonly node: string; readonly totalMemGiB: number };
  readonly options: { readonly records: number; readonly sizes: readonly number[]; readonly concurrency: number; readonly batchSize: number; readonly lazySamples: number };
  /** How bytes were counted per store. */
  readonly byteCounting: Readonly<Partial<Record<BenchStoreName, string>>>;
  readonly rows: readonly StoreBenchRow[];
  readonly targets: readonly StoreTargets[];
}

/** A store opened on a fresh, empty table/bucket/file, with its byte counter. */
interface OpenedStore {
  readonly store: RecordStore;
  readonly counter: ByteCounter;
  /** Fast load of records under version 1 (batches where the store has them); not timed into any figure. */
  load(records: readonly RecordInput[]): Promise<void>;
  close(): Promise<void>;
}

/** How one kind of store is opened, and how many records its server copes with by default. */
interface StoreKind {
  readonly name: BenchStoreName;
  readonly servers: { readonly moto?: boolean; readonly postgres?: boolean };
  /** Default record count cap, with the reason, for a store whose server is too slow for the full count. */
  readonly cap?: { readonly records: number; readonly reason: string };
  readonly byteCounting: string;
  /** Why a byte target cannot be met by design, if so. */
  readonly note?: string;
  open(servers: BenchServers): Promise<OpenedStore>;
}

const KEYRING = 'bench';
const motoCredentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

function uniqueName(stem: string): string {
  return `${stem}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

function requireUrl(url: string | undefined, what: string): string {
  if (url === undefined) throw new Error(`${what} was not started`);
  return url;
}

// Loads in chunks; a store without batches gets bounded parallel puts. Every write is
// only-if-absent, so a mistaken double load fails loudly instead of skewing the figures.
async function loadInto(store: RecordStore, records: readonly RecordInput[]): Promise<void> {
  if (isBatchRecordStore(store)) {
    const outcomes = await store.putBatch(records.map((write) => ({ write, expectedRevision: null })));
    if (outcomes.some((o) => !o.ok)) throw new Error('a record of the benchmark load already existed');
    return;
  }
  await runBounded(records, 32, (r) => store.put(r, null));
}

const SQLITE: StoreKind = {
  name: 'sqlite',
  servers: {},
  byteCounting: 'Buffer values (headers, bodies) bound to and read from the record database\'s statements (in-process driver)',
  open: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-bench-stores-'));
    const path = join(dir, 'records.db');
    const counter = new ByteCounter();
    const uninstall = countSqliteValueBytes(path, counter);
    const store = new SqliteRecordStore({ path });
    return {
      store,
      counter,
      load: async (records) => {
        await store.putMany(records);
      },
      close: async () => {
        uninstall();
        store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

async function emptyBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
    if (keys.length === 0) return;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
}

/** An S3 record store on moto_server in `layout`, bytes counted on its client. */
function s3Kind(name: BenchStoreName, layout: S3RecordLayout, note: string): StoreKind {
  return {
    name,
    servers: { moto: true },
    cap: { records: 3_000, reason: 'moto_server S3 (one Python process): about 10 header re-wraps/s measured at 300 records, the scan lists and HEADs every object; 100k per dataset would take hours' },
    byteCounting: 'HTTP request and response body bytes of every S3 call, and their x-amz-meta-* header lines (SDK middleware)',
    note,
    open: async (servers) => {
      const endpoint = requireUrl(servers.motoUrl, 'moto_server');
      // An unversioned bucket: moto keeps objects in memory, and old versions are not what is measured.
      const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: motoCredentials, forcePathStyle: true, maxAttempts: 3 });
      const bucket = uniqueName('rk-bench');
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const counter = new ByteCounter();
      countSdkBodyBytes(s3, counter);
      const store = new S3RecordStore({ bucket, client: s3, layout });
      return {
        store,
        counter,
        load: (records) => loadInto(store, records),
        close: async () => {
          await emptyBucket(s3, bucket);
          await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
          s3.destroy();
        },
      };
    },
  };
}

const S3 = s3Kind('s3', 'body', 'the body layout (the default): below the multipart threshold (16 MiB) a header rewrite reads the object range and PUTs the whole object, so the body crosses the wire once per re-wrap by design (S3 has no partial write); the metadata layout (s3-metadata) is the header-only path');
const S3_METADATA = s3Kind('s3-metadata', 'metadata', 'the metadata layout (recordTargets[].layout: \'metadata\'): the header in x-amz-meta-rekey-header, a re-wrap is a HeadObject and a metadata-only CopyObject');

const DYNAMODB: StoreKind = {
  name: 'dynamodb',
  servers: { moto: true },
  cap: { records: 2_000, reason: 'moto_server DynamoDB: its index queries walk the whole table (countByVersion took 39 s over 2,000 64 KiB records); 100k per dataset would take hours' },
  byteCounting: 'HTTP request and response body bytes of every DynamoDB call (SDK middleware: the JSON documents, binary attributes base64)',
  note: 'DynamoDB bills write units on the whole item even for an UpdateItem of the header alone: the saving is bytes moved and no decrypt, not WCU',
  open: async (servers) => {
    const endpoint = requireUrl(servers.motoUrl, 'moto_server');
    const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: motoCredentials, maxAttempts: 3 });
    const tableName = uniqueName('rekey-bench');
    await createRecordTable(client, tableName, { pollMs: 50 });
    const counter = new ByteCounter();
    countSdkBodyBytes(client, counter);
    const store = new DynamoDbRecordStore({ client, tableName });
    return {
      store,
      counter,
      load: (records) => loadInto(store, records),
      close: async () => {
        try {
          await client.send(new DeleteTableCommand({ TableName: tableName }));
        } finally {
          client.destroy();
        }
      },
    };
  },
};

const POSTGRES: StoreKind = {
  name: 'postgres',
  servers: { postgres: true },
  byteCounting: 'socket bytesWritten + bytesRead of every pool connection (wire protocol included)',
  open: async (servers) => {
    const url = requireUrl(servers.postgresUrl, 'PostgreSQL');
    const pool = new Pool({ connectionString: url, max: 10 });
    const counter = new ByteCounter();
    // Before the first query, so that every connection of the pool is counted.
    countPoolSocketBytes(pool, counter);
    const schema = uniqueName('rekey_bench').replace(/-/g, '_');
    const store = new PgRecordStore({ pool, schema });
    await store.ensureTable();
    return {
      store,
      counter,
      load: (records) => loadInto(store, records),
      close: async () => {
        try {
          await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await store.close();
          await pool.end();
        }
      },
    };
  },
};

const KINDS: Readonly<Record<BenchStoreName, StoreKind>> = {
  sqlite: SQLITE,
  s3: S3,
  's3-metadata': S3_METADATA,
  dynamodb: DYNAMODB,
  postgres: POSTGRES,
};

async function timed(fn: () => Promise<{ migrated: number; skipped: number; failed: number }>, counter: ByteCounter): Promise<SweepFigures> {
  const load = loadavg()[0] ?? 0;
  const before = counter.read();
  const start = performance.now();
  const r = await fn();
  const seconds = (performance.now() - start) / 1000;
  const moved: ByteCount = counter.since(before);
  const per = (n: number): number => (r.migrated === 0 ? 0 : Math.round(n / r.migrated));
  return {
    seconds: round(seconds),
    recordsPerSecond: Math.round(r.migrated / seconds),
    migrated: r.migrated,
    skipped: r.skipped,
    failed: r.failed,
    bytesSentPerRecord: per(moved.sent),
    bytesReceivedPerRecord: per(moved.received),
    bytesPerRecord: per(moved.sent + moved.received),
    loadAverage1m: round(load),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function recordsFor(kind: StoreKind, opts: StoresBenchOptions, asked: number): { records: number; reduced?: { from: number; reason: string } } {
  const explicit = opts.recordsByStore?.[kind.name];
  if (explicit !== undefined) return { records: explicit };
  if (kind.cap !== undefined && asked > kind.cap.records) return { records: kind.cap.records, reduced: { from: asked, reason: kind.cap.reason } };
  return { records: asked };
}

/** Runs one store at one payload size on a fresh dataset; every figure comes from this run. */
async function benchOne(
  kind: StoreKind,
  servers: BenchServers,
  size: number,
  n: number,
  cfg: { concurrency: number; batchSize: number; lazySamples: number; log: (line: string) => void },
): Promise<Omit<StoreBenchRow, 'reduced'>> {
  const home = mkdtempSync(join(tmpdir(), 'rekey-bench-keys-'));
  const opened = await kind.open(servers);
  let keyring: BenchKeyring | undefined;
  try {
    const { store, counter } = opened;
    keyring = await openBenchKeyring(home, KEYRING, store);
    const { provider, envelopes, promote } = keyring;
    const idOf = (i: number): string => `rec-${String(i).padStart(8, '0')}`;

    cfg.log(`${kind.name} ${size} B: loading ${n} records`);
    const loadStart = performance.now();
    const base = randomBytes(size);
    let writing: Promise<void> | undefined;
    // Encrypting the next chunk overlaps the store's write of the previous one.
    for (let start = 0; start < n; start += 1000) {
      const chunk: RecordInput[] = [];
      for (let i = start; i < Math.min(n, start + 1000); i += 1) {
        const id = idOf(i);
        base.writeUInt32BE(i, 0);
        chunk.push({ id, keyring: KEYRING, version: 1, envelope: await envelopes.encrypt(KEYRING, base, { context: recordContext(id) }) });
      }
      await writing;
      writing = opened.load(chunk);
    }
    await writing;
    const loadSeconds = round((performance.now() - loadStart) / 1000);

    const checkpoint = new MemoryCheckpointStore();
    const sweeper = new Sweeper({ records: store, envelopes: withHeaderRewrap(envelopes, provider), versions: provider });
    const v2 = await promote();
    cfg.log(`${kind.name} ${size} B: header-only re-wrap sweep v1 -> v${v2}`);
    const headerRewrap = await timed(async () => {
      const r = await sweeper.sweep(KEYRING, 1, { mode: 'rewrap', batchSize: cfg.batchSize, concurrency: cfg.concurrency, checkpoint });
      return { migrated: r.done, skipped: r.skipped, failed: r.failedCount };
    }, counter);

    const v3 = await promote();
    cfg.log(`${kind.name} ${size} B: article sweep v${v2} -> v${v3}`);
    const article = await timed(async () => {
      let migrated = 0;
      let skipped = 0;
      let cursor: string | undefined;
      do {
        const page = await store.scanByVersion(KEYRING, v2, { limit: cfg.batchSize, ...(cursor === undefined ? {} : { cursor }) });
        // The article's approach on the Sweeper's footing: same scan, same bounded concurrency,
        // the store's batch write when it has one; only the per-record work differs (whole
        // record read, payload decrypted and encrypted again under a fresh data key, whole
        // envelope written, conditional on the revision read).
        const writes = await runBounded(page.items, cfg.concurrency, async (ref) => {
          const rec = await store.get(ref.id);
          if (rec === undefined || rec.version !== v2) return undefined;
          const context = recordContext(rec.id);
          const { plaintext } = await envelopes.decrypt(rec.envelope, { context });
          const next = await envelopes.encrypt(KEYRING, plaintext, { context });
          plaintext.fill(0);
          return { write: { id: rec.id, keyring: KEYRING, version: envelopes.inspect(next).version, envelope: next }, expectedRevision: rec.revision };
        });
        const ready = writes.filter((w) => w !== undefined);
        skipped += writes.length - ready.length;
        if (isBatchRecordStore(store)) {
          const outcomes = await store.putBatch(ready);
          migrated += outcomes.filter((o) => o.ok).length;
          skipped += outcomes.filter((o) => !o.ok).length;
        } else {
          const done = await runBounded(ready, cfg.concurrency, async (w) => {
            try {
              await store.put(w.write, w.expectedRevision);
              return true;
            } catch (err) {
              if (err instanceof ConflictError) return false;
              throw err;
            }
          });
          migrated += done.filter(Boolean).length;
          skipped += done.filter((d) => !d).length;
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
      return { migrated, skipped, failed: 0 };
    }, counter);

    const v4 = await promote();
    const samples = Math.min(cfg.lazySamples, n);
    cfg.log(`${kind.name} ${size} B: lazy re-wrap of ${samples} reads v${v3} -> v${v4}`);
    const service = new RecordService({ records: store, envelopes, versions: provider });
    const latencies: number[] = [];
    let rewrapped = 0;
    const lazyBefore = counter.read();
    for (let k = 0; k < samples; k += 1) {
      const id = idOf(Math.floor((k * n) / samples));
      const start = performance.now();
      const read = await service.get(id);
      latencies.push(performance.now() - start);
      read.plaintext.fill(0);
      if (read.rewrap === 'rewrapped') rewrapped += 1;
    }
    const lazyMoved = counter.since(lazyBefore);
    latencies.sort((a, b) => a - b);

    cfg.log(`${kind.name} ${size} B: countByVersion`);
    const countTimes: number[] = [];
    for (let k = 0; k < 3; k += 1) {
      const start = performance.now();
      const counts = await store.countByVersion(KEYRING);
      countTimes.push(performance.now() - start);
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      if (total !== n) throw new Error(`${kind.name}: countByVersion found ${total} records, ${n} were loaded`);
    }

    return {
      store: kind.name,
      sizeBytes: size,
      records: n,
      sweepPath: isBatchRecordStore(store) ? 'header-batch' : 'per-record',
      loadSeconds,
      headerRewrap,
      article,
      speedup: round(headerRewrap.recordsPerSecond / article.recordsPerSecond),
      countByVersionMs: round(median(countTimes)),
      lazy: {
        samples,
        rewrapped,
        p50Ms: round(percentile(latencies, 50)),
        p95Ms: round(percentile(latencies, 95)),
        bytesPerRead: samples === 0 ? 0 : Math.round((lazyMoved.sent + lazyMoved.received) / samples),
      },
    };
  } finally {
    keyring?.close();
    await opened.close();
    rmSync(home, { recursive: true, force: true });
  }
}

function targetsOf(kind: StoreKind, rows: readonly StoreBenchRow[], sizes: readonly number[]): StoreTargets {
  const small = Math.min(...sizes);
  const large = Math.max(...sizes);
  const at = (size: number): StoreBenchRow | undefined => rows.find((r) => r.store === kind.name && r.sizeBytes === size);
  const s = at(small);
  const l = at(large);
  const out: { -readonly [K in keyof StoreTargets]: StoreTargets[K] } = { store: kind.name, ...(kind.note === undefined ? {} : { note: kind.note }) };
  if (s !== undefined && l !== undefined && large > small && s.headerRewrap.bytesPerRecord > 0) {
    out.headerBytesLargeOverSmall = round(l.headerRewrap.bytesPerRecord / s.headerRewrap.bytesPerRecord);
    out.headerBytesWithin1_2x = out.headerBytesLargeOverSmall <= 1.2;
  }
  if (l !== undefined && l.headerRewrap.bytesPerRecord > 0) {
    out.articleOverHeaderBytesAtLarge = round(l.article.bytesPerRecord / l.headerRewrap.bytesPerRecord);
    out.articleAtLeast3xBytes = out.articleOverHeaderBytesAtLarge >= 3;
  }
  return out;
}

/**
 * Runs the store benchmark: starts the servers the chosen stores need, measures every store at
 * every size on a fresh dataset, stops the servers, and returns the figures (nothing written).
 *
 * @example
 * const result = await runStoresBench({ records: 2000, stores: ['sqlite', 'postgres'] });
 * console.log(formatStoresBench(result));
 */
export async function runStoresBench(opts: StoresBenchOptions = {}): Promise<StoresBenchResult> {
  const asked = opts.records ?? 100_000;
  const sizes = opts.sizes ?? [1024, 65_536];
  const concurrency = opts.concurrency ?? 8;
  const batchSize = opts.batchSize ?? 500;
  const lazySamples = opts.lazySamples ?? 200;
  const log = opts.log ?? ((): void => undefined);
  const wanted = opts.stores ?? BENCH_STORES;
  const kinds: StoreKind[] = [];
  for (const name of wanted) {
    kinds.push(KINDS[name]);
  }
  const servers = await startBenchServers({ moto: kinds.some((k) => k.servers.moto === true), postgres: kinds.some((k) => k.servers.postgres === true) });
  const rows: StoreBenchRow[] = [];
  try {
    for (const kind of kinds) {
      const { records, reduced } = recordsFor(kind, opts, asked);
      if (reduced !== undefined) log(`${kind.name}: ${records} records instead of ${reduced.from} (${reduced.reason})`);
      for (const size of sizes) {
        const row = await benchOne(kind, servers, size, records, { concurrency, batchSize, lazySamples, log });
        rows.push({ ...row, ...(reduced === undefined ? {} : { reduced }) });
      }
    }
  } finally {
    await servers.stop();
  }
  const byteCounting: Partial<Record<BenchStoreName, string>> = {};
  for (const k of kinds) byteCounting[k.name] = k.byteCounting;
  return {
    benchmark: 'stores',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, totalMemGiB: Math.round(totalmem() / 2 ** 30) },
    options: { records: asked, sizes, concurrency, batchSize, lazySamples },
    byteCounting,
    rows,
    targets: kinds.map((k) => targetsOf(k, rows, sizes)),
  };
}

function passFail(value: boolean | undefined): string {
  if (value === undefined) return '-';
  return value ? 'PASS' : 'FAIL';
}

/**
 * Prints the figures as two tables (per store and size; byte targets per store) and the notes.
 *
 * @example
 * printStoresBench(await runStoresBench({ records: 2000 }));
 */
export function printStoresBench(result: StoresBenchResult): void {
  printTable(
    `Record stores: header-only re-wrap vs the article's approach (concurrency ${result.options.concurrency}, page ${result.options.batchSize})`,
    ['store', 'size', 'records', 'path', 'hdr rec/s', 'art rec/s', 'speed-up', 'hdr B/rec', 'art B/rec', 'count ms', 'lazy p50 ms', 'lazy p95 ms', 'load s'],
    result.rows.map((r) => [
      r.store,
      r.sizeBytes,
      r.reduced === undefined ? String(r.records) : `${r.records}*`,
      r.sweepPath,
      r.headerRewrap.recordsPerSecond,
      r.article.recordsPerSecond,
      `${r.speedup.toFixed(2)}x`,
      r.headerRewrap.bytesPerRecord,
      r.article.bytesPerRecord,
      r.countByVersionMs,
      r.lazy.p50Ms,
      r.lazy.p95Ms,
      r.loadSeconds,
    ]),
  );
  printTable(
    'Bytes moved per record: targets',
    ['store', 'hdr 64K/1K', '<= 1.2x', 'art/hdr @64K', '>= 3x'],
    result.targets.map((t) => [
      t.store,
      t.headerBytesLargeOverSmall === undefined ? '-' : `${t.headerBytesLargeOverSmall.toFixed(2)}x`,
      passFail(t.headerBytesWithin1_2x),
      t.articleOverHeaderBytesAtLarge === undefined ? '-' : `${t.articleOverHeaderBytesAtLarge.toFixed(2)}x`,
      passFail(t.articleAtLeast3xBytes),
    ]),
  );
  const notes: string[] = [];
  const reducedSeen = new Set<string>();
  for (const r of result.rows) {
    if (r.reduced !== undefined && !reducedSeen.has(r.store)) {
      reducedSeen.add(r.store);
      notes.push(`* ${r.store}: ${r.records} records instead of ${r.reduced.from}: ${r.reduced.reason}`);
    }
    if (r.headerRewrap.failed + r.headerRewrap.skipped + r.article.failed + r.article.skipped > 0) {
      notes.push(`${r.store} ${r.sizeBytes} B: header-only skipped ${r.headerRewrap.skipped} failed ${r.headerRewrap.failed}; article skipped ${r.article.skipped} failed ${r.article.failed}`);
    }
    if (r.lazy.rewrapped !== r.lazy.samples) notes.push(`${r.store} ${r.sizeBytes} B: ${r.lazy.samples - r.lazy.rewrapped} of ${r.lazy.samples} lazy reads did not re-wrap`);
  }
  for (const t of result.targets) if (t.note !== undefined) notes.push(`${t.store}: ${t.note}`);
  for (const [store, how] of Object.entries(result.byteCounting)) notes.push(`bytes, ${store}: ${how}`);
  console.log(`\n${notes.join('\n')}`);
}

function envCount(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

/**
 * The benchmark's options from the environment (REKEY_BENCH_STORE_RECORDS,
 * REKEY_BENCH_STORE_RECORDS_<STORE>, REKEY_BENCH_STORES, REKEY_BENCH_STORE_CONCURRENCY).
 *
 * @example
 * const result = await runStoresBench({ ...storesBenchOptionsFromEnv(), log: console.error });
 */
export function storesBenchOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StoresBenchOptions {
  const recordsByStore: Partial<Record<BenchStoreName, number>> = {};
  for (const name of BENCH_STORES) {
    const n = envCount(`REKEY_BENCH_STORE_RECORDS_${name.toUpperCase().replace('-', '_')}`);
    if (n !== undefined) recordsByStore[name] = n;
  }
  const list = env.REKEY_BENCH_STORES;
  const stores = list === undefined || list === '' ? undefined : list.split(',').map((s) => s.trim());
  for (const s of stores ?? []) if (!(BENCH_STORES as readonly string[]).includes(s)) throw new Error(`REKEY_BENCH_STORES: unknown store '${s}'; known: ${BENCH_STORES.join(', ')}`);
  const records = envCount('REKEY_BENCH_STORE_RECORDS');
  const concurrency = envCount('REKEY_BENCH_STORE_CONCURRENCY');
  return {
    ...(records === undefined ? {} : { records }),
    ...(concurrency === undefined ? {} : { concurrency }),
    recordsByStore,
    ...(stores === undefined ? {} : { stores: stores as BenchStoreName[] }),
  };
}
