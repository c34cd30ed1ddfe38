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
}

/** Every local service, wired. Call {@link LocalServices.close} when done. */
export interface LocalServices {
  readonly home: string;
  readonly actor: string;
  readonly clock: () => Date;
  readonly catalogs: SqliteCatalogStore;
  readonly records: SqliteRecordStore;
  readonly checkpoints: SqliteCheckpointStore;
  /** Observed unwraps of version keys (every unwrap through `provider` is recorded). */
  readonly keyUse: SqliteKeyUseLog;
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

/** Something opened by {@link openLocal} that must be closed when a later step fails. */
interface Closable {
  close(): void;
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
  const home = resolve(options.home ?? config.home);
  const redisUrl = options.redisUrl ?? config.redisUrl;
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
    const vault = new FileKeyVault({ home, createKey: () => homeIsEmpty(catalogs) });
    await assertMasterKeyFits(vault, catalogs);
    return await wire({ home, actor, clock, redisUrl, catalogTtlMs, catalogs, vault, open });
  } catch (error) {
    for (const store of opened.reverse()) {
      try {
        store.close();
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
  readonly catalogTtlMs: number | undefined;
  readonly catalogs: SqliteCatalogStore;
  readonly vault: FileKeyVault;
  /** Registers a store to be closed if a later step fails. */
  readonly open: <T extends Closable>(store: T) => T;
}

async function wire(input: WireInput): Promise<LocalServices> {
  const { home, actor, clock, catalogs, vault, open, catalogTtlMs } = input;
  // Escrow keys live apart from the working key: restoring from escrow must not depend on master.key.
  const escrowVault = new FileKeyVault({ home: join(home, 'escrow-key') });
  const records = open(new SqliteRecordStore({ home }));
  const checkpoints = open(new SqliteCheckpointStore({ home }));
  const audit = new JsonlAuditSink(join(home, 'audit.jsonl'));
  const keyUse = open(new SqliteKeyUseLog(join(home, 'key-use.db'), { clock: () => clock().getTime() }));

  let redis: Redis | Cluster | undefined;
  let cacheStore: CacheStore;
  if (input.redisUrl) {
    const client = await createRedisClient({ url: input.redisUrl });
    redis = client;
    open({ close: () => client.disconnect() });
    await untilReady(client, REDIS_READY_TIMEOUT_MS);
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
    records,
    checkpoints,
    keyUse,
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
      // The last aggregated lazy re-wraps, and the refused reads of revoked versions (one event
      // per version for this process); a read-only home cannot take them (the re-wraps and
      // refusals themselves still happened).
      await recordService.flushAudit().catch(() => undefined);
      await denied.flush().catch(() => undefined);
      if (redis) await redis.quit().catch(() => redis?.disconnect());
      catalogs.close();
      records.close();
      checkpoints.close();
      keyUse.close();
    },
  };
}
