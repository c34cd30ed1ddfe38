/**
 * Local mode: every rekey service wired over embedded backends under one rekey home — the
 * key file instead of KMS, SQLite for catalogs, records and checkpoints, files for escrow and
 * audit, and an in-process cache (or Redis when a URL is given). The same core runs in Lambda
 * with the AWS adapters; only this wiring differs.
 */
import { join, resolve } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { FileKeyVault } from '../../adapters/local/file-key-vault';
import { SqliteCatalogStore } from '../../adapters/local/sqlite-catalog-store';
import { SqliteRecordStore } from '../../adapters/local/sqlite-record-store';
import { SqliteCheckpointStore } from '../../adapters/local/sqlite-checkpoint-store';
import { JsonlAuditSink } from '../../adapters/local/jsonl-audit-sink';
import { MemoryCacheStore } from '../../adapters/local/memory-cache-store';
import { FileEscrowStore } from '../../adapters/local/file-escrow-store';
import { ensurePrivateDirSync, tightenSync } from '../../adapters/local/file-modes';
import { RedisCacheStore, createRedisClient } from '../../adapters/redis';
import { KeyringService } from '../../catalog';
import { CatalogKeyProvider } from '../../keys';
import { EnvelopeClient } from '../../envelope';
import { EncryptedCache } from '../../cache';
import { EmergencyRevocation, RecordService, Sweeper, withHeaderRewrap } from '../../reencrypt';
import { buildLifecycleFacts } from '../lifecycle-facts';
import { EscrowService } from '../../escrow';
import type { CacheStore } from '../../ports/cache-store';

/** Options of {@link openLocal}. */
export interface LocalOptions {
  /** The rekey home folder. @default './.rekey' */
  readonly home?: string;
  /** Time source for every lifecycle decision; the walk-through and `tick --at` move it. @default real time */
  readonly clock?: () => Date;
  /** Use this Redis for the cache instead of process memory. */
  readonly redisUrl?: string;
  /** Who is acting, for audit events. @default `cli:<user>` */
  readonly actor?: string;
}

/** Every local service, wired. Call {@link LocalServices.close} when done. */
export interface LocalServices {
  readonly home: string;
  readonly actor: string;
  readonly clock: () => Date;
  readonly catalogs: SqliteCatalogStore;
  readonly records: SqliteRecordStore;
  readonly checkpoints: SqliteCheckpointStore;
  readonly audit: JsonlAuditSink;
  readonly cacheStore: CacheStore;
  readonly cacheBackend: 'memory' | 'redis';
  readonly provider: CatalogKeyProvider;
  readonly envelopes: EnvelopeClient;
  readonly keyrings: KeyringService;
  readonly cache: EncryptedCache;
  readonly recordService: RecordService;
  readonly sweeper: Sweeper;
  readonly revocation: EmergencyRevocation;
  readonly escrow: EscrowService;
  close(): Promise<void>;
}

const REDIS_READY_TIMEOUT_MS = 3000;

/**
 * Waits until the client has connected (or the timeout passed). The client queues no commands
 * while offline, so a one-shot CLI command issued before the connection is up would fail at once;
 * after the timeout the cache behaves as in any Redis outage.
 */
function untilReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.once('ready', done);
  });
}

/**
 * Opens (creating if needed) a rekey home and wires every service over it. The home is kept
 * owner-only: created 0700 with 0600 files, and an existing home, its databases, audit log and
 * escrow folders are tightened to owner-only when they carry group or other bits (homes made by
 * older releases had 0644 databases). `master.key` is the exception: a wider key file is refused,
 * not tightened, because it may already have been read.
 *
 * @example
 * const rk = await openLocal({ home: '/tmp/rekey-demo' });
 * await rk.keyrings.createKeyring('pii', { rotateEverySeconds: 30 * 86400 }, { actor: rk.actor });
 * const envelope = await rk.envelopes.encrypt('pii', Buffer.from('hello'));
 * await rk.close();
 */
export async function openLocal(options: LocalOptions = {}): Promise<LocalServices> {
  const home = resolve(options.home ?? '.rekey');
  ensurePrivateDirSync(home);
  // The databases tighten themselves when opened; these are the other things a home holds.
  for (const name of ['audit.jsonl', 'escrow', 'escrow-key']) tightenSync(join(home, name));
  const clock = options.clock ?? (() => new Date());
  const actor = options.actor ?? `cli:${process.env.USER ?? 'unknown'}`;

  const vault = new FileKeyVault({ home });
  // Escrow keys live apart from the working key: restoring from escrow must not depend on master.key.
  const escrowVault = new FileKeyVault({ home: join(home, 'escrow-key') });
  const catalogs = new SqliteCatalogStore(join(home, 'catalog.db'));
  const records = new SqliteRecordStore({ home });
  const checkpoints = new SqliteCheckpointStore({ home });
  const audit = new JsonlAuditSink(join(home, 'audit.jsonl'));

  let redis: Redis | Cluster | undefined;
  let cacheStore: CacheStore;
  if (options.redisUrl) {
    redis = await createRedisClient({ url: options.redisUrl });
    await untilReady(redis, REDIS_READY_TIMEOUT_MS);
    cacheStore = new RedisCacheStore(redis);
  } else {
    cacheStore = new MemoryCacheStore();
  }

  const provider = new CatalogKeyProvider({ store: catalogs, vault, clock: () => clock().getTime() });
  const envelopes = new EnvelopeClient(provider);
  const escrowStore = new FileEscrowStore({ home });
  const escrow = new EscrowService({ store: escrowStore, catalogs, vault, escrowVault, clock });
  // The same facts as on AWS: destruction needs a drill-verified catalog stamp and the escrow
  // record itself (the drill runs on its own schedule, not on every tick).
  const facts = buildLifecycleFacts({ records, cache: cacheStore, escrowStore });
  const keyrings = new KeyringService({ store: catalogs, vault, audit, clock, facts });
  const cache = new EncryptedCache({ store: cacheStore, envelopes, versions: provider });
  const recordService = new RecordService({ records, envelopes, versions: provider });
  // The header-only path re-wraps a record without reading or rewriting its payload.
  const sweeper = new Sweeper({ records, envelopes: withHeaderRewrap(envelopes, provider), versions: provider });
  const revocation = new EmergencyRevocation({ keyrings, provider, cache: cacheStore, sweeper, checkpoints, records, audit, clock });

  return {
    home,
    actor,
    clock,
    catalogs,
    records,
    checkpoints,
    audit,
    cacheStore,
    cacheBackend: redis ? 'redis' : 'memory',
    provider,
    envelopes,
    keyrings,
    cache,
    recordService,
    sweeper,
    revocation,
    escrow,
    async close() {
      if (redis) await redis.quit().catch(() => redis?.disconnect());
      catalogs.close();
      records.close();
      checkpoints.close();
    },
  };
}
