/**
 * Cache benchmark (issue 4), on a redis-server of its own:
 * 1. Invalidating one key version holding 1,000 of 100,000 entries (5 versions, uneven):
 *    rekey's indexed invalidation against the article's approach (SCAN the whole keyspace,
 *    GET and JSON-parse every value, DEL the matches; one awaited command at a time, no
 *    pipelining, exactly as its code does). Each approach gets its own database holding its
 *    own 100,000 entries in its own format. Measured: wall time, round trips (client-side:
 *    one per event-loop turn that issued commands) and commands (server-side INFO commandstats,
 *    commands run inside rekey's Lua scripts included).
 * 2. get/set ops/s through RedisCacheStore and through EncryptedCache (real EnvelopeClient over
 *    CatalogKeyProvider, SQLite catalog, local vault) against raw GET / SET EX on the same
 *    server, one request at a time and 32 in flight. The store coalesces writes issued in the
 *    same tick into one script call; "store set, one call each" (writeBatchSize 1) shows the
 *    per-call cost without that, for information (it is not part of the target).
 *    The machine is shared: the load average before and after is recorded with the figures.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { FileKeyVault } from '../shared/adapters/local/file-key-vault';
import { SqliteCatalogStore } from '../shared/adapters/local/sqlite-catalog-store';
import { valueHeader } from '../shared/adapters/redis/key-layout';
import { RedisCacheStore } from '../shared/adapters/redis/redis-cache-store';
import { EncryptedCache } from '../shared/cache';
import { KeyringService } from '../shared/catalog';
import { EnvelopeClient } from '../shared/envelope';
import { CatalogKeyProvider } from '../shared/keys';
import { measureOps, printTable, writeResult } from './lib/measure';

/** Options of {@link runCacheBench}. */
export interface CacheBenchOptions {
  /** Entries in the keyspace. @default 100000 */
  readonly entries?: number;
  /** Entries of the invalidated version. @default 1000 */
  readonly targetEntries?: number;
  /** Versions the entries are spread over. @default 5 */
  readonly versions?: number;
  /** Plaintext bytes per cached value. @default 64 */
  readonly valueBytes?: number;
  /** Rounds and round length of the ops/s measurement. */
  readonly rounds?: number;
  readonly minMs?: number;
}

/** One invalidation run. */
export interface InvalidationFigures {
  readonly deleted: number;
  readonly wallMs: number;
  readonly roundTrips: number;
  readonly clientCommands: number;
  readonly serverCommands: number;
}

/** Everything the benchmark measured. */
export interface CacheBenchResult {
  /** 1-, 5- and 15-minute load averages before the benchmark and after it. */
  readonly loadAverage: { readonly before: number[]; readonly after: number[] };
  readonly setup: { entries: number; targetEntries: number; versions: number; valueBytes: number; baselineValueBytes: number; rekeyValueBytes: number };
  readonly invalidation: {
    readonly baseline: InvalidationFigures;
    readonly rekey: InvalidationFigures;
    readonly speedup: number;
    readonly roundTripRatio: number;
    readonly commandRatio: number;
  };
  readonly opsPerSecond: Record<string, Record<string, number>>;
  readonly ratios: Record<string, number>;
  readonly targets: Record<string, { target: string; measured: number; met: boolean }>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis(dir: string): Promise<{ port: number; pid: number }> {
  const port = await freePort();
  const pidfile = join(dir, 'redis.pid');
  execFileSync('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--daemonize', 'yes', '--pidfile', pidfile, '--logfile', join(dir, 'redis.log'),
  ]);
  for (let i = 0; i < 200; i++) {
    if (existsSync(pidfile)) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
      const ok = await probe.connect().then(() => probe.ping()).then(() => true, () => false);
      probe.disconnect();
      if (ok) return { port, pid: Number(readFileSync(pidfile, 'utf8').trim()) };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}

/**
 * Counts client round trips: commands issued in the same event-loop turn travel together and
 * are answered together, so each turn that issued at least one command is one round trip.
 */
class RoundTrips {
  public turns = 0;
  public commands = 0;
  private open = false;
  public mark(): void {
    this.commands++;
    if (this.open) return;
    this.open = true;
    this.turns++;
    setImmediate(() => {
      this.open = false;
    });
  }
  public reset(): void {
    this.turns = 0;
    this.commands = 0;
  }
}

const COUNTED = new Set(['get', 'getBuffer', 'set', 'setex', 'del', 'unlink', 'scan', 'evalsha', 'eval', 'zrange', 'zcount', 'smembers', 'time']);

function counted(client: Redis, counter: RoundTrips): Redis {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && COUNTED.has(prop)) {
        return (...args: unknown[]) => {
          counter.mark();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

async function serverCommands(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (m[1] !== 'info' && m[1] !== 'config') total += Number(m[2]);
  return total;
}

/** The version of entry i: `target` entries in version 3, the rest spread over the others. */
function versionOf(i: number, target: number, versions: number): number {
  if (i < target) return 3;
  const others = Array.from({ length: versions }, (_, k) => k + 1).filter((v) => v !== 3);
  return others[i % others.length]!;
}

/** The article's envelope, stored as its `set` stores it: JSON.stringify of an object with Buffers. */
function articleEnvelope(version: number, valueBytes: number): string {
  return JSON.stringify({
    dataKeyId: 'master-key-id',
    dataKeyVersion: version,
    encryptedDataKey: randomBytes(184),
    encryptedPayload: randomBytes(valueBytes + 16),
    algorithm: 'aes-256-gcm',
    iv: randomBytes(16),
  });
}

/** The article's invalidateByKeyVersion, transcribed: SCAN '*' COUNT 100, GET + JSON.parse each, DEL matches. */
async function articleInvalidate(cache: Redis, keyId: string, version: number): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [newCursor, keys] = await cache.scan(cursor, 'MATCH', '*', 'COUNT', 100);
    cursor = newCursor;
    for (const key of keys) {
      const cached = await cache.get(key);
      if (!cached) continue;
      try {
        const envelope = JSON.parse(cached) as { dataKeyId: string; dataKeyVersion: number };
        if (envelope.dataKeyId === keyId && envelope.dataKeyVersion === version) {
          await cache.del(key);
          deleted++;
        }
      } catch {
        await cache.del(key);
      }
    }
  } while (cursor !== '0');
  return deleted;
}

async function timed<T>(admin: Redis, counter: RoundTrips, fn: () => Promise<T>): Promise<{ result: T; wallMs: number; roundTrips: number; clientCommands: number; serverCommands: number }> {
  await admin.config('RESETSTAT');
  const before = await serverCommands(admin);
  counter.reset();
  const start = process.hrtime.bigint();
  const result = await fn();
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const roundTrips = counter.turns;
  const clientCommands = counter.commands;
  return { result, wallMs, roundTrips, clientCommands, serverCommands: (await serverCommands(admin)) - before };
}

/** Runs the cache benchmark, prints its tables and returns the figures. */
export async function runCacheBench(opts: CacheBenchOptions = {}): Promise<CacheBenchResult> {
  const entries = opts.entries ?? 100_000;
  const targetEntries = opts.targetEntries ?? 1000;
  const versions = opts.versions ?? 5;
  const valueBytes = opts.valueBytes ?? 64;
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'rekey-cache-bench-'));
  const server = await startRedis(dir);
  const url = `redis://127.0.0.1:${server.port}`;
  const admin = new Redis(url);
  const baselineClient = new Redis(`${url}/1`);
  const rekeyClient = new Redis(`${url}/2`);
  const opsClient = new Redis(`${url}/3`);
  const home = mkdtempSync(join(tmpdir(), 'rekey-cache-bench-home-'));
  try {
    // Baseline dataset (db 1), written fast with pipelines; the write path is not measured.
    let baselineValueBytes = 0;
    for (let start = 0; start < entries; start += 5000) {
      const p = baselineClient.pipeline();
      for (let i = start; i < Math.min(entries, start + 5000); i++) {
        const value = articleEnvelope(versionOf(i, targetEntries, versions), valueBytes);
        baselineValueBytes = value.length;
        p.setex(`cache:${i}`, 3600, value);
      }
      await p.exec();
    }
    const baselineCounter = new RoundTrips();
    const baseline = await timed(admin, baselineCounter, () => articleInvalidate(counted(baselineClient, baselineCounter), 'master-key-id', 3));

    // rekey dataset (db 2) through RedisCacheStore, values the size of real envelopes.
    const vault = new FileKeyVault({ home });
    const catalogStore = new SqliteCatalogStore(join(home, 'catalog.db'));
    const keyrings = new KeyringService({
      store: catalogStore,
      vault,
      audit: { record: async () => undefined },
      clock: () => new Date(),
      facts: { referenceCounts: async () => ({ records: new Map() }), escrowVerified: async () => true },
    });
    await keyrings.createKeyring('bench', undefined, { actor: 'bench' });
    const provider = new CatalogKeyProvider({ store: catalogStore, vault });
    const envelopes = new EnvelopeClient(provider);
    const sample = await envelopes.encrypt('bench', randomBytes(valueBytes), { context: { 'rekey:cache-key': 'x'.repeat(43) } });
    const rekeyCounter = new RoundTrips();
    const store = new RedisCacheStore(counted(rekeyClient, rekeyCounter), { commandTimeoutMs: 5000 });
    for (let start = 0; start < entries; start += 2000) {
      const writes: Promise<void>[] = [];
      for (let i = start; i < Math.min(entries, start + 2000); i++) {
        writes.push(store.set(`cache:${i}`, randomBytes(sample.length), 3600, 'bench', versionOf(i, targetEntries, versions)));
      }
      await Promise.all(writes);
    }
    const rekey = await timed(admin, rekeyCounter, () => store.invalidateVersion('bench', 3));
    const rekeyValueBytes = valueHeader('bench', 3).length + sample.length;

    const figures = (t: typeof baseline): InvalidationFigures => ({
      deleted: t.result,
      wallMs: t.wallMs,
      roundTrips: t.roundTrips,
      clientCommands: t.clientCommands,
      serverCommands: t.serverCommands,
    });
    const invalidation = {
      baseline: figures(baseline),
      rekey: figures(rekey),
      speedup: baseline.wallMs / rekey.wallMs,
      roundTripRatio: baseline.roundTrips / rekey.roundTrips,
      commandRatio: baseline.serverCommands / rekey.serverCommands,
    };
    printTable(
      `Invalidate one version (${targetEntries} of ${entries} entries, ${versions} versions)`,
      ['approach', 'deleted', 'wall ms', 'round trips', 'client cmds', 'server cmds'],
      [
        ['article: SCAN + GET + parse + DEL', baseline.result, baseline.wallMs, baseline.roundTrips, baseline.clientCommands, baseline.serverCommands],
        ['rekey: per-version index', rekey.result, rekey.wallMs, rekey.roundTrips, rekey.clientCommands, rekey.serverCommands],
      ],
    );

    // get/set throughput on db 3: raw commands, the store, the encrypted cache.
    const opsStore = new RedisCacheStore(opsClient, { commandTimeoutMs: 5000 });
    const perCallStore = new RedisCacheStore(opsClient, { commandTimeoutMs: 5000, writeBatchSize: 1 });
    const cache = new EncryptedCache({ store: opsStore, envelopes, versions: provider });
    const plaintext = randomBytes(valueBytes);
    const rawValue = randomBytes(sample.length);
    const KEYS = 1000;
    for (let i = 0; i < KEYS; i++) {
      await opsClient.set(`raw:${i}`, rawValue, 'EX', 3600);
      await opsStore.set(`store:${i}`, rawValue, 3600, 'bench', 1);
      await cache.set(`enc:${i}`, 'bench', plaintext, { ttlSeconds: 3600 });
    }
    let i = 0;
    const next = () => (i = (i + 1) % KEYS);
    const parallel = (op: () => Promise<unknown>) => () => Promise.all(Array.from({ length: 32 }, op));
    const contenders = {
      'raw GET': () => opsClient.getBuffer(`raw:${next()}`),
      'raw SET EX': () => opsClient.set(`raw:${next()}`, rawValue, 'EX', 3600),
      'store get': () => opsStore.get(`store:${next()}`),
      'store set': () => opsStore.set(`store:${next()}`, rawValue, 3600, 'bench', 1),
      'store set, one call each': () => perCallStore.set(`store:${next()}`, rawValue, 3600, 'bench', 1),
      'encrypted get': () => cache.get(`enc:${next()}`),
      'encrypted set': () => cache.set(`enc:${next()}`, 'bench', plaintext, { ttlSeconds: 3600 }),
    };
    const measureOpts = { rounds: opts.rounds ?? 5, minMs: opts.minMs ?? 300 };
    const serial = await measureOps(Object.entries(contenders).map(([name, op]) => ({ name, op })), measureOpts);
    const inFlight = await measureOps(Object.entries(contenders).map(([name, op]) => ({ name, op: parallel(op) })), measureOpts);
    for (const k of Object.keys(inFlight)) inFlight[k] = inFlight[k]! * 32;
    const opsPerSecond = { serial, inFlight32: inFlight };
    const ratios: Record<string, number> = {};
    for (const [mode, r] of Object.entries(opsPerSecond)) {
      ratios[`${mode} store get / raw GET`] = r['store get']! / r['raw GET']!;
      ratios[`${mode} store set / raw SET`] = r['store set']! / r['raw SET EX']!;
      ratios[`${mode} (info) store set one call each / raw SET`] = r['store set, one call each']! / r['raw SET EX']!;
      ratios[`${mode} encrypted get / raw GET`] = r['encrypted get']! / r['raw GET']!;
      ratios[`${mode} encrypted set / raw SET`] = r['encrypted set']! / r['raw SET EX']!;
    }
    printTable('get/set ops/s (median round)', ['operation', 'serial', '32 in flight'], Object.keys(serial).map((k) => [k, serial[k]!, inFlight[k]!]));
    printTable('ratios to raw', ['ratio', 'value'], Object.entries(ratios));
    const storeRatios = Object.entries(ratios).filter(([k]) => k.includes('store') && !k.includes('(info)')).map(([, v]) => v);
    const targets = {
      invalidationSpeedup: { target: '>= 20x', measured: invalidation.speedup, met: invalidation.speedup >= 20 },
      invalidationRoundTrips: { target: '>= 50x fewer', measured: invalidation.roundTripRatio, met: invalidation.roundTripRatio >= 50 },
      storeOpsRatio: { target: '>= 0.7x raw (worst store ratio)', measured: Math.min(...storeRatios), met: Math.min(...storeRatios) >= 0.7 },
    };
    printTable('targets', ['target', 'wanted', 'measured', 'met'], Object.entries(targets).map(([k, t]) => [k, t.target, t.measured, String(t.met)]));
    const loadAverage = { before: loadBefore, after: loadavg() };
    printTable('load average (1, 5, 15 min)', ['when', 'load'], [['before', loadBefore.map((l) => l.toFixed(2)).join(' ')], ['after', loadAverage.after.map((l) => l.toFixed(2)).join(' ')]]);
    return {
      loadAverage,
      setup: { entries, targetEntries, versions, valueBytes, baselineValueBytes, rekeyValueBytes },
      invalidation,
      opsPerSecond,
      ratios,
      targets,
    };
  } finally {
    for (const c of [admin, baselineClient, rekeyClient, opsClient]) c.disconnect();
    try {
      process.kill(server.pid, 'SIGTERM');
      // Wait for the server to exit before removing its folder (it writes its log on the way out).
      for (let i = 0; i < 100; i++) {
        process.kill(server.pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch {
      // gone
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runCacheBench()
    .then((result) => console.log(`\nwritten ${writeResult('cache', result)}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
