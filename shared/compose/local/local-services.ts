/**
 * Local mode: every rekey service wired over embedded backends under one rekey home — the
 * key file instead of KMS, SQLite for catalogs, records and checkpoints, files for escrow and
 * audit, and an in-process cache (or Redis when a URL is given). The same core runs in Lambda
 * with the AWS adapters; only this wiring differs.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { FileKeyVault } from '../../adapters/local/file-key-vault';
import { SqliteCatalogStore } from '../../adapters/local/sqlite-catalog-store';
import { SqliteConsumerRegistry } from '../../adapters/local/sqlite-consumer-registry';
import { SqliteRecordStore } from '../../adapters/local/sqlite-record-store';
import { PgRecordStore } from '../../adapters/postgres/pg-record-store';
import type { BatchRecordStore } from '../../ports/record-store';
import type { RecordAdmin } from '../../ports/record-admin';
import { SqliteCheckpointStore } from '../../adapters/local/sqlite-checkpoint-store';
import { SqliteKeyUseLog } from '../../adapters/local/sqlite-key-use-log';
import { JsonlAuditSink } from '../../adapters/local/jsonl-audit-sink';
import { MemoryCacheStore } from '../../adapters/local/memory-cache-store';
import { FileEscrowStore } from '../../adapters/local/file-escrow-store';
import { assertMasterKeyFits, homeIsEmpty } from '../../adapters/local/master-key-guard';
import { ensurePrivateDirSync, tightenSync } from '../../adapters/local/file-modes';
import { RedisCacheStore, createRedisClient } from '../../adapters/redis';
import { KeyringService } from '../../catalog';
import { CatalogKeyProvider, DeniedDecryptAudit, RecordingKeyVault } from '../../keys';
import { EnvelopeClient } from '../../envelope';
import { EncryptedCache } from '../../cache';
import { EmergencyRevocation, RecordService, Sweeper, withHeaderRewrap } from '../../reencrypt';
import { buildLifecycleFacts } from '../lifecycle-facts';
import { EscrowService } from '../../escrow';
import type { CacheStore } from '../../ports/cache-store';
import { NotFoundError, ValidationError } from '../../errors';
import { loadLocalConfig } from '../../config/load-config';

/** Options of {@link openLocal}. */
export interface LocalOptions {
  /** The rekey home folder. @default $REKEY_HOME, else './.rekey' */
  readonly home?: string;
  /** Time source for every lifecycle decision; the walk-through and `tick --at` move it. @default real time */
  readonly clock?: () => Date;
  /** Use this Redis for the cache instead of process memory. @default $REKEY_REDIS_URL */
  readonly redisUrl?: string;
  /**
   * How long a catalog read is trusted (ms): the key provider's cache lifetime and the wait
   * before a revocation counts what is left, the same value for both.
   * @default $REKEY_CATALOG_TTL_MS, else DEFAULT_CATALOG_TTL_MS (60 s)
   */
  readonly catalogTtlMs?: number;
  /** Who is acting, for audit events. @default `cli:<user>` */
  readonly actor?: string;
  /**
   * Refuse a home that does not hold a catalog yet (NotFoundError) instead of creating one, and
   * create nothing. Every CLI command but `keyring create` sets it, so a mistyped --home never
   * leaves a stray empty home behind. @default false (`npm start` and the local jobs make theirs)
   */
  readonly mustExist?: boolean;
  /**
   * True when `clock` is a simulated time (--now, tick --at): every audit event written through
   * these services then carries `simulated: true` and `recordedAt` (the real time) besides its
   * `at`, so a trail never passes a rehearsal off as history. @default false
   */
  readonly simulated?: boolean;
  /**
   * Keep records in this PostgreSQL (its `public.rekey_records` table, created if absent) instead
   * of `<home>/records.db`; everything else stays in the home. @default $REKEY_POSTGRES_URL
   */
  readonly postgresUrl?: string;
  /** How long to wait for Redis to answer before the cache is off for this run, in ms. @default 1000 */
  readonly redisReadyTimeoutMs?: number;
  /** Called after each audit event is durably written (the CLI notes that the run acted). */
  readonly onAuditRecord?: () => void;
}

/** Every local service, wired. Call {@link LocalServices.close} when done. */
export interface LocalServices {
  readonly home: string;
  readonly actor: string;
  readonly clock: () => Date;
  readonly catalogs: SqliteCatalogStore;
  /**
   * The consumer registry (a table of `catalog.db`): kept and listed like on AWS, but local mode
   * has no KMS grants, so it grants and refuses nothing.
   */
  readonly consumers: SqliteConsumerRegistry;
  /** `<home>/records.db`, or the PostgreSQL table when a PostgreSQL URL is configured. */
  readonly records: LocalRecordStore;
  readonly checkpoints: SqliteCheckpointStore;
  /** Observed unwraps of version keys (every unwrap through `provider` is recorded). */
  readonly keyUse: SqliteKeyUseLog;
  readonly audit: JsonlAuditSink;
  readonly cacheStore: CacheStore;
  readonly cacheBackend: 'memory' | 'redis';
  /**
   * False when Redis was configured but did not answer within the ready timeout: the cache is
   * off for this run (reads miss, writes are dropped) and cache counts are unknown, not zero.
   */
  readonly cacheAvailable: boolean;
  /** `host:port` of the configured Redis, for messages (undefined for the in-process cache). */
  readonly cacheEndpoint?: string;
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

/** The record store of local mode: SQLite in the home, or PostgreSQL. */
export type LocalRecordStore = BatchRecordStore & RecordAdmin & { close(): void | Promise<void> };

/** A one-shot command waits this long for Redis, then goes on without the cache (not minutes of retries). */
const REDIS_READY_TIMEOUT_MS = 1000;

/** A refused or silent Redis must not hold the process open after the command is done. */
const REDIS_DISCONNECT_TIMEOUT_MS = 100;

/**
 * Waits until the client has connected (true) or the timeout passed (false). The client queues
 * no commands while offline, so a one-shot CLI command issued before the connection is up would
 * fail at once.
 */
function untilReady(client: Redis | Cluster, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ready);
    };
    const onReady = (): void => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.once('ready', onReady);
  });
}

/** `host:port` of a Redis URL, without credentials or database (for messages). */
function endpointOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port === '' ? '6379' : u.port}`;
  } catch {
    return 'the configured address';
  }
}

/**
 * The home folder to open: refuses an empty --home / REKEY_HOME (it would silently mean the
 * current folder's ./.rekey) and, with `mustExist`, a folder that holds no catalog.
 */
function settleHome(options: LocalOptions, configured: string): string {
  if (options.home === '') throw new ValidationError("--home is empty: name the rekey home folder (or leave --home out for $REKEY_HOME or ./.rekey); nothing was changed");
  if (options.home === undefined && process.env.REKEY_HOME === '') {
    throw new ValidationError('REKEY_HOME is empty: set it to the rekey home folder or unset it (for ./.rekey); nothing was changed');
  }
  const home = resolve(options.home ?? configured);
  if (options.mustExist === true && !existsSync(join(home, 'catalog.db'))) {
    throw new NotFoundError(`no rekey home at ${home}: run 'rekey keyring create NAME' to make one, or pass --home`);
  }
  return home;
}

/** Something opened by {@link openLocal} that must be closed when a later step fails. */
interface Closable {
  close(): void | Promise<void>;
}

/**
 * Opens (creating if needed) a rekey home and wires every service over it. The home is kept
 * owner-only: created 0700 with 0600 files, and an existing home, its databases, audit log and
 * escrow folders are tightened to owner-only when they carry group or other bits (homes made by
 * older releases had 0644 databases). `master.key` is the exception: a wider key file is refused,
 * not tightened, because it may already have been read.
 *
 * Before anything else is wired, a home that holds keyrings must have the master key their
 * versions were wrapped under: a missing or replaced `master.key` stops every caller (the CLI,
 * `npm start`, local jobs) with one KeyUnavailableError naming the path, before anything is
 * written. Only a home without keyrings may get a new key (the first `keyring create`).
 * Whatever was opened before a failing step is closed again.
 *
 * @example
 * const rk = await openLocal({ home: '/tmp/rekey-demo' });
 * await rk.keyrings.createKeyring('pii', { rotateEverySeconds: 30 * 86400 }, { actor: rk.actor });
 * const envelope = await rk.envelopes.encrypt('pii', Buffer.from('hello'));
 * await rk.close();
 * @throws KeyUnavailableError when `master.key` is missing or foreign; ValidationError for a
 *   malformed REKEY_* variable; BackendError when a store cannot be opened.
 */
export async function openLocal(options: LocalOptions = {}): Promise<LocalServices> {
  const config = loadLocalConfig();
  const home = settleHome(options, config.home);
  const redisUrl = options.redisUrl ?? config.redisUrl;
  const postgresUrl = options.postgresUrl ?? config.postgresUrl;
  const catalogTtlMs = options.catalogTtlMs ?? config.catalogTtlMs;
  ensurePrivateDirSync(home);
  // The databases tighten themselves when opened; these are the other things a home holds.
  for (const name of ['audit.jsonl', 'escrow', 'escrow-key']) tightenSync(join(home, name));
  const clock = options.clock ?? (() => new Date());
  const actor = options.actor ?? `cli:${process.env.USER ?? 'unknown'}`;

  const opened: Closable[] = [];
  const open = <T extends Closable>(store: T): T => {
    opened.push(store);
    return store;
  };
  try {
    // The catalog comes first: whether the vault may create a master key depends on it.
    const catalogs = open(new SqliteCatalogStore(join(home, 'catalog.db')));
    // A new master key only for a home with no keyring at all, deleted ones included: a tombstone's
    // catalog keeps keys wrapped under the existing master key until its deletion is undone or final.
    const vault = new FileKeyVault({ home, createKey: async () => (await homeIsEmpty(catalogs)) && (await catalogs.deletedCount()) === 0 });
    await assertMasterKeyFits(vault, catalogs);
    return await wire({
      home,
      actor,
      clock,
      redisUrl,
      postgresUrl,
      catalogTtlMs,
      catalogs,
      vault,
      open,
      simulated: options.simulated === true,
      redisReadyTimeoutMs: options.redisReadyTimeoutMs ?? REDIS_READY_TIMEOUT_MS,
      ...(options.onAuditRecord === undefined ? {} : { onAuditRecord: options.onAuditRecord }),
    });
  } catch (error) {
    for (const store of opened.reverse()) {
      try {
        await store.close();
      } catch {
        // The original failure is the one to report; a store that cannot close holds nothing to save.
      }
    }
    throw error;
  }
}

/** What {@link wire} gets from {@link openLocal}: the settled options, the guarded catalog and vault. */
interface WireInput {
  readonly home: string;
  readonly actor: string;
  readonly clock: () => Date;
  readonly redisUrl: string | undefined;
  readonly postgresUrl: string | undefined;
  readonly catalogTtlMs: number | undefined;
  readonly catalogs: SqliteCatalogStore;
  readonly vault: FileKeyVault;
  /** Registers a store to be closed if a later step fails. */
  readonly open: <T extends Closable>(store: T) => T;
  readonly simulated: boolean;
  readonly redisReadyTimeoutMs: number;
  readonly onAuditRecord?: () => void;
}

async function wire(input: WireInput): Promise<LocalServices> {
  const { home, actor, clock, catalogs, vault, open, catalogTtlMs } = input;
  // Escrow keys live apart from the working key: restoring from escrow must not depend on master.key.
  const escrowVault = new FileKeyVault({ home: join(home, 'escrow-key') });
  // A small pool: one CLI process runs one command; the table is created on first use.
  const records: LocalRecordStore = open(
    input.postgresUrl === undefined ? new SqliteRecordStore({ home }) : await PgRecordStore.open({ url: input.postgresUrl, poolSize: 4 }),
  );
  const consumers = open(new SqliteConsumerRegistry(join(home, 'catalog.db'), { readOnly: catalogs.readOnly }));
  const checkpoints = open(new SqliteCheckpointStore({ home }));
  // In a simulated-time run every event says so, with the real time it was written.
  const audit = new JsonlAuditSink(join(home, 'audit.jsonl'), {
    ...(input.simulated ? { simulated: true } : {}),
    ...(input.onAuditRecord === undefined ? {} : { onRecord: input.onAuditRecord }),
  });
  const keyUse = open(new SqliteKeyUseLog(join(home, 'key-use.db'), { clock: () => clock().getTime() }));

  let redis: Redis | Cluster | undefined;
  let cacheStore: CacheStore;
  let cacheAvailable = true;
  if (input.redisUrl) {
    // Bounded: a one-shot command waits about a second, not through ioredis's reconnect loop.
    const client = await createRedisClient({ url: input.redisUrl, connectTimeoutMs: input.redisReadyTimeoutMs, disconnectTimeoutMs: REDIS_DISCONNECT_TIMEOUT_MS });
    open({ close: () => client.disconnect() });
    cacheAvailable = await untilReady(client, input.redisReadyTimeoutMs);
    if (cacheAvailable) redis = client;
    // Stopped for good: no background retries and nothing printed by ioredis. The store stays a
    // Redis store whose calls fail at once: reads miss, writes are dropped, and a count is
    // "uncounted" (a tick must not read an unreachable cache as empty and disable a version).
    else client.disconnect();
    cacheStore = new RedisCacheStore(client);
  } else {
    cacheStore = new MemoryCacheStore();
  }

  // Every unwrap on the data path is a use: the evidence a tick needs before it disables a
  // version. A read-only home cannot record; it cannot be ticked either, so nothing is disabled
  // on its silence there.
  // Uses of the active and pending versions are not weighed (a version's quiet period starts
  // when it stops encrypting), so they are not written: an encrypt or a refused command leaves
  // the home as it was.
  // The recorder is built before the provider it asks (the provider unwraps through it).
  const late: { provider?: CatalogKeyProvider } = {};
  const encrypting = (k: string, v: number): boolean => ['active', 'pending'].includes(late.provider?.cachedState(k, v) ?? '');
  const recordingVault = new RecordingKeyVault({ vault, log: keyUse, clock: () => clock().getTime(), strict: !keyUse.readOnly, skip: encrypting });
  const denied = new DeniedDecryptAudit({ audit, actor, clock });
  const provider = new CatalogKeyProvider({
    store: catalogs,
    vault: recordingVault,
    clock: () => clock().getTime(),
    onRevokedDenied: (k, v) => denied.note(k, v),
    ...(catalogTtlMs === undefined ? {} : { catalogTtlMs }),
  });
  late.provider = provider;
  const envelopes = new EnvelopeClient(provider);
  const escrowStore = new FileEscrowStore({ home });
  const escrow = new EscrowService({ store: escrowStore, catalogs, vault, escrowVault, clock });
  // The same facts as on AWS: destruction needs a drill-verified catalog stamp and the escrow
  // record itself (the drill runs on its own schedule, not on every tick).
  const facts = buildLifecycleFacts({ records, cache: cacheStore, escrowStore, keyUse });
  const keyrings = new KeyringService({ store: catalogs, vault, audit, clock, facts });
  const cache = new EncryptedCache({ store: cacheStore, envelopes, versions: provider });
  // Lazy re-wraps are audited in aggregate (records.rewrapped); close() flushes what is left.
  const recordService = new RecordService({ records, envelopes, versions: provider, audit, actor, clock });
  // The header-only path re-wraps a record without reading or rewriting its payload. States are
  // re-read from the catalog itself before every batch (not the provider's cached copy), so a
  // revocation that lands mid-sweep switches the sweep to re-encryption at the next batch.
  const sweeper = new Sweeper({ records, envelopes: withHeaderRewrap(envelopes, provider), versions: provider, catalog: keyrings });
  // The settle window is the provider's catalog lifetime: the same value, so a revocation does
  // not count what is left while a reader may still encrypt from a catalog that predates it.
  const revocation = new EmergencyRevocation({
    keyrings,
    provider,
    cache: cacheStore,
    sweeper,
    checkpoints,
    records,
    audit,
    clock,
    ...(catalogTtlMs === undefined ? {} : { catalogTtlMs }),
  });

  return {
    home,
    actor,
    clock,
    catalogs,
    consumers,
    records,
    checkpoints,
    keyUse,
    audit,
    cacheStore,
    cacheBackend: input.redisUrl ? 'redis' : 'memory',
    cacheAvailable,
    ...(input.redisUrl ? { cacheEndpoint: endpointOf(input.redisUrl) } : {}),
    provider,
    envelopes,
    keyrings,
    cache,
    recordService,
    sweeper,
    revocation,
    escrow,
    async close() {
      // The last aggregated lazy re-wraps, and the refused reads of revoked versions (one event
      // per version for this process); a read-only home cannot take them (the re-wraps and
      // refusals themselves still happened).
      await recordService.flushAudit().catch(() => undefined);
      await denied.flush().catch(() => undefined);
      if (redis) await redis.quit().catch(() => redis?.disconnect());
      catalogs.close();
      consumers.close();
      await records.close();
      checkpoints.close();
      keyUse.close();
    },
  };
}
