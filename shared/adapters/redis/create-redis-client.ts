/**
 * The one place rekey creates Redis clients (CLI, functions, local mode). Settings favour the
 * cache's degrade-don't-wait contract: no offline queue (a command while disconnected fails at
 * once), no command retries, a command timeout, capped exponential reconnect with jitter.
 * Supports TLS, cluster mode (ElastiCache TLS needs the host names kept for certificate checks)
 * and IAM authentication with tokens refreshed on a timer (new connections use the newest
 * token; live ones re-AUTH so they outlive ElastiCache's 12-hour limit).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ValidationError } from '../../errors';

/** Where to connect, as resolved by `resolveCacheEndpoint` (or written by hand). */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly clusterMode: boolean;
}

/** A source of IAM auth tokens (`ElastiCacheIamTokenProvider`). */
export interface RedisTokenSource {
  getToken(): Promise<string>;
  /** How often to fetch a token and re-authenticate, in ms (default 600000). */
  readonly refreshIntervalMs?: number;
}

/** Options of {@link createRedisClient}. Give `url` or `endpoint`. */
export interface CreateRedisClientOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS). */
  readonly url?: string;
  readonly endpoint?: RedisEndpoint;
  /** Overrides the TLS setting of `url` / `endpoint`. */
  readonly tls?: boolean;
  /** Overrides `endpoint.clusterMode` (a `url` is standalone unless this is true). */
  readonly cluster?: boolean;
  /** IAM authentication as `user` with tokens from `tokens`. */
  readonly iam?: { readonly user: string; readonly tokens: RedisTokenSource };
  /**
   * Client-side backstop deadline of any command, in ms (the cache store applies its own, tighter one).
   * @default 1000
   */
  readonly commandTimeoutMs?: number;
  /** @default 2000 */
  readonly connectTimeoutMs?: number;
  /**
   * Longest wait between reconnection attempts, in ms (reconnection never gives up).
   * @default 2000
   */
  readonly maxReconnectDelayMs?: number;
  /**
   * How long `disconnect()` waits for a half-open socket to close before destroying it, in ms: a
   * one-shot CLI command passes a short value, so a refused or silent Redis does not hold the
   * process open after it is done. @default 2000 (ioredis's own)
   */
  readonly disconnectTimeoutMs?: number;
  /** Receives connection errors (the client keeps reconnecting); by default they are dropped. */
  readonly onError?: (err: Error) => void;
}

/**
 * Creates a Redis or Cluster client; it connects in the background (commands fail fast until
 * it is ready). Rejects only when an IAM token cannot be signed.
 *
 * @example
 * const redis = await createRedisClient({ url: 'redis://127.0.0.1:6379' });
 * const store = new RedisCacheStore(redis);
 */
export async function createRedisClient(options: CreateRedisClientOptions): Promise<Redis | Cluster> {
  const target = parseTarget(options);
  const commandTimeout = options.commandTimeoutMs ?? 1000;
  const connectTimeout = options.connectTimeoutMs ?? 2000;
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const disconnectTimeout = options.disconnectTimeoutMs ?? 2000;
  for (const [name, v] of [['commandTimeoutMs', commandTimeout], ['connectTimeoutMs', connectTimeout], ['maxReconnectDelayMs', maxDelay], ['disconnectTimeoutMs', disconnectTimeout]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ValidationError(`${name} must be a positive integer`);
  }
  const retry = (times: number): number => Math.min(50 * 2 ** Math.min(times, 10), maxDelay) + Math.floor(Math.random() * 50);
  const username = options.iam?.user ?? target.username;
  const password = options.iam !== undefined ? await options.iam.tokens.getToken() : target.password;
  const connection: RedisOptions = {
    ...(target.tls ? { tls: {} } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(target.db !== undefined ? { db: target.db } : {}),
    connectTimeout,
    commandTimeout,
    disconnectTimeout,
    maxRetriesPerRequest: 0,
  };

  let client: Redis | Cluster;
  if (target.cluster) {
    const { db: _db, ...nodeOptions } = connection;
    client = new Cluster([{ host: target.host, port: target.port }], {
      enableOfflineQueue: false,
      clusterRetryStrategy: retry,
      slotsRefreshTimeout: connectTimeout,
      // With TLS the certificate names the configuration endpoint, not the node IPs.
      ...(target.tls ? { dnsLookup: (address: string, cb: (err: Error | null, address: string) => void) => cb(null, address) } : {}),
      redisOptions: nodeOptions,
    });
  } else {
    client = new Redis({ host: target.host, port: target.port, ...connection, enableOfflineQueue: false, retryStrategy: retry });
  }
  client.on('error', (err: Error) => options.onError?.(err));
  if (options.iam !== undefined) keepTokenFresh(client, options.iam.user, options.iam.tokens, password ?? '');
  return client;
}

function keepTokenFresh(client: Redis | Cluster, user: string, tokens: RedisTokenSource, first: string): void {
  let current = first;
  const apply = (node: Redis): void => {
    node.options.password = current;
  };
  if (client instanceof Cluster) client.on('+node', apply);
  const refresh = async (): Promise<void> => {
    current = await tokens.getToken();
    const nodes = client instanceof Cluster ? client.nodes('all') : [client];
    if (client instanceof Cluster && client.options.redisOptions !== undefined) client.options.redisOptions.password = current;
    await Promise.all(
      nodes.map(async (node) => {
        apply(node);
        if (node.status === 'ready') await node.auth(user, current);
      }),
    );
  };
  const timer = setInterval(() => {
    // A failed refresh leaves the previous token in place; the next tick retries.
    refresh().catch((err: unknown) => client.emit('error', err instanceof Error ? err : new Error(String(err))));
  }, tokens.refreshIntervalMs ?? 600_000);
  timer.unref();
  client.once('end', () => clearInterval(timer));
}

interface Target {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly cluster: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
}

function parseTarget(options: CreateRedisClientOptions): Target {
  if ((options.url === undefined) === (options.endpoint === undefined)) throw new ValidationError('give exactly one of url or endpoint');
  if (options.endpoint !== undefined) {
    const { host, port, tls, clusterMode } = options.endpoint;
    if (typeof host !== 'string' || host.length === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ValidationError('endpoint needs a host and a port between 1 and 65535');
    }
    return { host, port, tls: options.tls ?? tls, cluster: options.cluster ?? clusterMode };
  }
  let url: URL;
  try {
    url = new URL(options.url ?? '');
  } catch {
    throw new ValidationError('redis url is not a valid URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ValidationError('redis url must start with redis:// or rediss://');
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbPath = url.pathname.replace(/^\//, '');
  const db = dbPath === '' ? undefined : Number(dbPath);
  if (db !== undefined && (!Number.isInteger(db) || db < 0)) throw new ValidationError('redis url database must be a non-negative integer');
  return {
    host: url.hostname,
    port,
    tls: options.tls ?? url.protocol === 'rediss:',
    cluster: options.cluster ?? false,
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
    ...(db !== undefined ? { db } : {}),
  };
}
