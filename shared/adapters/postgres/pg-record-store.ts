/**
 * PgRecordStore: the RecordStore on PostgreSQL (`pg.Pool`), in a table that follows the
 * convention of {@link recordTableDdl} (see pg-schema.ts): header and body in separate columns,
 * the keyring, key version and origin version indexed from the envelope header, revisions from a
 * sequence (never reused).
 *
 * Writes are conditional in SQL: `UPDATE ... WHERE id = $1 AND revision = $2` (no row: the record
 * changed, ConflictError) and `INSERT ... ON CONFLICT (id) DO NOTHING` (no row: it exists,
 * ConflictError). Under READ COMMITTED a concurrent update makes the second UPDATE wait, then
 * re-check its WHERE against the committed row, so exactly one writer at a revision wins.
 * `putHeaders` and `putBatch` run in one transaction, each write succeeding or conflicting on its
 * own; rows are locked in id order so that two batches cannot deadlock each other, and a batch
 * that still loses to a serialization failure or a deadlock is retried whole (nothing of a
 * rolled-back transaction was written).
 *
 * A header-only re-wrap sends and writes the header alone: PostgreSQL keeps a large body out of
 * line (TOAST) and the new row version points at the unchanged value.
 *
 * Read replicas: with `replica`, reads (get, getHeader, scans, counts, listRecords) go to the
 * replica and every write to the primary. A replica may lag: a read can return an older revision,
 * and the conditional write made from it then simply conflicts against the primary's revision
 * (or succeeds when the replica was current). A sweep therefore stays correct on a lagging
 * replica; it may only re-read records the primary has already moved.
 *
 * Aurora / RDS: credentials come from the URL, or from `password`, which may be an async
 * function: pg calls it for every new connection, so it can return a fresh RDS IAM
 * authentication token (`@aws-sdk/rds-signer` `Signer.getAuthToken()`, valid 15 minutes) or a
 * secret read from Secrets Manager, and a rotated secret is picked up by the next connection.
 * TLS through `ssl` (pg's `ssl` options: `{ ca, rejectUnauthorized: true }` with the RDS CA
 * bundle); IAM authentication requires TLS.
 */
import { Pool, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import { BackendError, ConflictError, NotFoundError, ValidationError } from '../../errors';
import { headerIndex } from '../record-header-index';
import type {
  BatchRecordStore,
  BatchWriteOutcome,
  ConditionalWrite,
  RecordPage,
  RecordRef,
  StoredHeader,
  StoredRecord,
} from '../../ports/record-store';
import type { RecordAdmin, RecordListFilter, RecordListPage } from '../../ports/record-admin';
import { ensureRecordTable, isPgRetryableConflict, mapPgError, recordTableSql, type RecordTableName } from './pg-schema';

/** A pool, or what to create one from. */
export type PgPoolSource = Pool | { readonly url: string };

/** Options of {@link PgRecordStore}. */
export interface PgRecordStoreOptions extends RecordTableName {
  /** The primary's pool (injected: the caller closes it), or `url` to create one. */
  readonly pool?: Pool;
  /** `postgres://` or `postgresql://` URL of the primary (the store creates and closes the pool). */
  readonly url?: string;
  /** A read replica (pool or URL); reads go there, writes never. */
  readonly replica?: PgPoolSource;
  /** Connections of each pool the store creates. @default 10 */
  readonly poolSize?: number;
  /** statement_timeout of the connections the store creates, in ms. @default 30000 */
  readonly statementTimeoutMs?: number;
  /**
   * The password of the connections the store creates; a function is called for every new
   * connection (an RDS IAM token, a secret from Secrets Manager).
   */
  readonly password?: string | (() => string | Promise<string>);
  /** TLS options of the connections the store creates (pg's `ssl`). */
  readonly ssl?: PoolConfig['ssl'];
}

/** A header-only write: the stored body is kept. */
export interface PgHeaderInput {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly header: Buffer;
}

/** One whole-envelope write. */
export interface PgRecordInput {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly envelope: Buffer;
}

/** Longest record id accepted, in UTF-8 bytes (as the SQLite store). */
export const PG_MAX_RECORD_ID_BYTES = 512;

/** How many times a batch transaction is retried after a serialization failure or deadlock. */
const BATCH_ATTEMPTS = 4;

const URL_PATTERN = /^postgres(ql)?:\/\/[^\s]+$/;

/**
 * Whether `url` is a PostgreSQL connection URL (`postgres://` or `postgresql://`).
 *
 * @example
 * isPostgresUrl('postgresql://app@db.internal:5432/app'); // true
 */
export function isPostgresUrl(url: string): boolean {
  if (!URL_PATTERN.test(url)) return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

/**
 * pg options for `url`. With a `password` option the URL is taken apart here: pg lets the
 * fields parsed from a connectionString override the password given beside it (the function
 * would never be called).
 */
function connectionOf(url: string, ownPassword: boolean): PoolConfig {
  if (!ownPassword) return { connectionString: url };
  const u = new URL(url);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const sslmode = u.searchParams.get('sslmode');
  return {
    ...(host === '' ? {} : { host }),
    ...(u.port === '' ? {} : { port: Number(u.port) }),
    ...(u.username === '' ? {} : { user: decodeURIComponent(u.username) }),
    ...(database === '' ? {} : { database }),
    // sslmode=require (or stricter) in the URL still means TLS; `ssl` options refine it.
    ...(sslmode !== null && sslmode !== 'disable' && sslmode !== 'prefer' && sslmode !== 'allow' ? { ssl: true } : {}),
  };
}

interface Split {
  readonly header: Buffer;
  readonly body: Buffer;
  readonly origin: number;
}

function validateId(id: unknown): void {
  // PostgreSQL text cannot hold NUL; refusing it here keeps the error a ValidationError.
  if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id) > PG_MAX_RECORD_ID_BYTES || id.includes('\u0000')) {
    throw new ValidationError(`record id must be a non-empty string of at most ${PG_MAX_RECORD_ID_BYTES} bytes without NUL`);
  }
}

function validateClaim(record: { readonly keyring: string; readonly version: number }): void {
  if (typeof record.keyring !== 'string' || record.keyring.length === 0 || record.keyring.includes('\u0000')) {
    throw new ValidationError('record keyring must be a non-empty string');
  }
  // key_version is an integer column: larger versions are refused up front, not by the server.
  if (!Number.isSafeInteger(record.version) || record.version < 1 || record.version > 2_147_483_647) {
    throw new ValidationError('record version must be a positive integer');
  }
}

/** Validates a whole-envelope write and splits it into header and body (the index from the header). */
function splitRecord(record: PgRecordInput): Split {
  validateId(record.id);
  validateClaim(record);
  if (!Buffer.isBuffer(record.envelope) || record.envelope.length === 0) {
    throw new ValidationError('record envelope must be a non-empty Buffer');
  }
  const index = headerIndex(record.envelope, record);
  const cut = Math.max(0, Math.min(record.envelope.length, index.headerLength));
  return { header: record.envelope.subarray(0, cut), body: record.envelope.subarray(cut), origin: index.originVersion };
}

function validateHeader(write: PgHeaderInput): number {
  validateId(write.id);
  validateClaim(write);
  if (!Buffer.isBuffer(write.header) || write.header.length === 0) throw new ValidationError('record header must be a non-empty Buffer');
  return headerIndex(write.header, write).originVersion;
}

// Revisions are bigint values of the sequence, passed to and from the server as decimal strings
// (never through a JS number, which would lose precision past 2^53).
function validateRevision(revision: string): void {
  if (typeof revision !== 'string' || !/^[1-9][0-9]{0,17}$/.test(revision)) {
    throw new ValidationError('revision must be a revision returned by this store');
  }
}

function validateLimit(limit: number, what: string): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw new ValidationError(`${what} limit must be an integer between 1 and 100000`);
}

// Cursors are opaque to callers; base64url keeps ids with any characters safe in a CLI argument.
function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new ValidationError('scan cursor is not a cursor returned by this store');
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (id.length === 0 || id.includes('\u0000')) throw new ValidationError('scan cursor is not a cursor returned by this store');
  return id;
}

// An origin cursor is `<origin>.<base64url id>`: both halves of the (origin_version, id) keyset.
function encodeOriginCursor(origin: number, id: string): string {
  return `${origin}.${encodeCursor(id)}`;
}

function decodeOriginCursor(cursor: string): { origin: number; id: string } {
  const m = typeof cursor === 'string' ? /^([1-9][0-9]{0,9})\.([A-Za-z0-9_-]+)$/.exec(cursor) : null;
  if (m === null) throw new ValidationError('scan cursor is not a cursor returned by this store');
  return { origin: Number(m[1]), id: decodeCursor(m[2] as string) };
}

interface RefRow {
  id: string;
  keyring: string;
  key_version: number;
  origin_version: number;
  revision: string;
}

function refOf(r: RefRow): RecordRef {
  return { id: r.id, keyring: r.keyring, version: r.key_version, originVersion: r.origin_version, revision: String(r.revision) };
}

/**
 * RecordStore on PostgreSQL. See the module documentation for conditional writes, batches,
 * replicas and Aurora/RDS credentials.
 *
 * @example
 * const store = await PgRecordStore.open({ url: process.env.REKEY_POSTGRES_URL!, table: 'rekey_records' });
 * const rev = await store.put({ id: 'user-1', keyring: 'pii', version: 1, envelope }, null);
 * const page = await store.scanByVersion('pii', 1, { limit: 100 });
 * await store.close();
 */
export class PgRecordStore implements BatchRecordStore, RecordAdmin {
  /** The primary pool (writes, and reads without a replica). */
  public readonly pool: Pool;
  private readonly reader: Pool;
  private readonly owned: Pool[] = [];
  private readonly t: ReturnType<typeof recordTableSql>;
  private closed = false;

  public constructor(options: PgRecordStoreOptions) {
    this.t = recordTableSql(options);
    if (options.pool !== undefined) this.pool = options.pool;
    else if (options.url !== undefined) this.pool = this.create(options.url, options);
    else throw new ValidationError('PgRecordStore needs a pool or a url');
    const replica = options.replica;
    this.reader = replica === undefined ? this.pool : replica instanceof Pool ? replica : this.create(replica.url, options);
  }

  /**
   * Creates the store and its table (if absent) on the primary.
   *
   * @example
   * const store = await PgRecordStore.open({ url: 'postgresql://rekey@127.0.0.1/app' });
   */
  public static async open(options: PgRecordStoreOptions): Promise<PgRecordStore> {
    const store = new PgRecordStore(options);
    try {
      await store.ensureTable();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /**
   * Creates this store's table, sequence and indexes on the primary if absent (idempotent; what
   * {@link PgRecordStore.open} does).
   *
   * @example
   * await new PgRecordStore({ pool, schema: 'app' }).ensureTable();
   */
  public async ensureTable(): Promise<void> {
    await ensureRecordTable(this.pool, this.t.names).catch((err: unknown) => {
      throw mapPgError(err, 'records table creation');
    });
  }

  private create(url: string, options: PgRecordStoreOptions): Pool {
    if (!isPostgresUrl(url)) throw new ValidationError('PostgreSQL URL must be a postgres:// or postgresql:// URL');
    const size = options.poolSize ?? 10;
    if (!Number.isSafeInteger(size) || size < 1 || size > 1000) throw new ValidationError('PostgreSQL pool size must be an integer between 1 and 1000');
    const timeout = options.statementTimeoutMs ?? 30_000;
    if (!Number.isSafeInteger(timeout) || timeout < 0) throw new ValidationError('PostgreSQL statement timeout must be a non-negative integer (ms)');
    const pool = new Pool({
      ...connectionOf(url, options.password !== undefined),
      max: size,
      statement_timeout: timeout,
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    });
    // An idle connection that the server drops (failover, restart) emits 'error' on the pool;
    // unhandled it would crash the process. The next query gets a new connection.
    pool.on('error', () => undefined);
    this.owned.push(pool);
    return pool;
  }

  private async read<R extends QueryResultRow>(what: string, text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.reader.query<R>(text, values)).rows;
    } catch (err) {
      throw mapPgError(err, what);
    }
  }

  private async write<R extends QueryResultRow>(what: string, text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw mapPgError(err, what);
    }
  }

  /** Reads a record (header and body joined back into the envelope), or undefined. */
  public async get(id: string): Promise<StoredRecord | undefined> {
    validateId(id);
    const rows = await this.read<RefRow & { header: Buffer; body: Buffer }>(
      'record read',
      `SELECT id, keyring, key_version, origin_version, revision, header, body FROM ${this.t.table} WHERE id = $1`,
      [id],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    return { ...refOf(r), envelope: r.body.length === 0 ? r.header : Buffer.concat([r.header, r.body]) };
  }

  /** Reads a record's header and revision without its body, or undefined. */
  public async getHeader(id: string): Promise<StoredHeader | undefined> {
    validateId(id);
    const rows = await this.read<RefRow & { header: Buffer }>(
      'record header read',
      `SELECT id, keyring, key_version, origin_version, revision, header FROM ${this.t.table} WHERE id = $1`,
      [id],
    );
    const r = rows[0];
    return r === undefined ? undefined : { ...refOf(r), header: r.header };
  }

  /**
   * Writes a record; with `expectedRevision` only if the stored revision still equals it
   * (`null`: only if absent), else ConflictError. An unchanged body keeps its stored value.
   */
  public async put(record: PgRecordInput, expectedRevision?: string | null): Promise<string> {
    const split = splitRecord(record);
    if (typeof expectedRevision === 'string') validateRevision(expectedRevision);
    const rows = await this.write<{ revision: string }>('record write', this.putSql(expectedRevision), this.putValues(record, split, expectedRevision));
    const revision = rows[0]?.revision;
    if (revision === undefined) {
      throw new ConflictError(expectedRevision === null ? `record '${record.id}' already exists` : `record '${record.id}' changed since revision ${String(expectedRevision)}`);
    }
    return String(revision);
  }

  private putSql(expected: string | null | undefined): string {
    const { table, sequence } = this.t;
    // `body = CASE WHEN body = $n THEN body ...` keeps the stored (TOASTed) value when the body is
    // unchanged, so the new row version does not get a second copy of it.
    const set = `keyring = $2, key_version = $3, origin_version = $4, revision = nextval('${sequence}'), header = $5,
      body = CASE WHEN ${table}.body = $6 THEN ${table}.body ELSE $6 END, updated_at = now()`;
    if (expected === null) {
      return `INSERT INTO ${table} (id, keyring, key_version, origin_version, revision, header, body)
        VALUES ($1, $2, $3, $4, nextval('${sequence}'), $5, $6) ON CONFLICT (id) DO NOTHING RETURNING revision`;
    }
    if (expected === undefined) {
      return `INSERT INTO ${table} (id, keyring, key_version, origin_version, revision, header, body)
        VALUES ($1, $2, $3, $4, nextval('${sequence}'), $5, $6)
        ON CONFLICT (id) DO UPDATE SET ${set} RETURNING revision`;
    }
    return `UPDATE ${table} SET ${set} WHERE id = $1 AND revision = $7 RETURNING revision`;
  }

  private putValues(record: PgRecordInput, split: Split, expected: string | null | undefined): unknown[] {
    const values: unknown[] = [record.id, record.keyring, record.version, split.origin, split.header, split.body];
    if (typeof expected === 'string') values.push(expected);
    return values;
  }

  /** Deletes a record; with `expectedRevision` only if it still matches (else ConflictError). */
  public async delete(id: string, expectedRevision?: string): Promise<void> {
    validateId(id);
    if (expectedRevision !== undefined) validateRevision(expectedRevision);
    const rows = expectedRevision === undefined
      ? await this.write<{ id: string }>('record delete', `DELETE FROM ${this.t.table} WHERE id = $1 RETURNING id`, [id])
      : await this.write<{ id: string }>('record delete', `DELETE FROM ${this.t.table} WHERE id = $1 AND revision = $2 RETURNING id`, [id, expectedRevision]);
    if (rows.length > 0) return;
    if (expectedRevision !== undefined) throw new ConflictError(`record '${id}' changed since revision ${expectedRevision}`);
    throw new NotFoundError(`record '${id}' does not exist`);
  }

  /**
   * Lists one version's records in id order from a keyset cursor (the last id returned), one
   * range of the (keyring, key_version, id) index: a page neither skips nor repeats a record
   * while others are written.
   */
  public async scanByVersion(keyring: string, version: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    validateLimit(options.limit, 'scan');
    if (!Number.isSafeInteger(version) || version < 1 || version > 2_147_483_647) throw new ValidationError('version must be a positive integer');
    const after = options.cursor === undefined ? '' : decodeCursor(options.cursor);
    const rows = await this.read<RefRow>(
      'record scan',
      `SELECT id, keyring, key_version, origin_version, revision FROM ${this.t.table}
       WHERE keyring = $1 AND key_version = $2 AND id > $3 ORDER BY id LIMIT $4`,
      [keyring, version, after, options.limit],
    );
    const items = rows.map(refOf);
    const last = items[items.length - 1];
    return items.length < options.limit || last === undefined ? { items } : { items, cursor: encodeCursor(last.id) };
  }

  /**
   * Lists the records whose origin version is at most `atMost`, in (origin_version, id) order
   * from a composite keyset cursor, whatever their current version.
   */
  public async scanByOrigin(keyring: string, atMost: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    validateLimit(options.limit, 'scan');
    if (!Number.isSafeInteger(atMost) || atMost < 1 || atMost > 2_147_483_647) throw new ValidationError('version must be a positive integer');
    const after = options.cursor === undefined ? { origin: 0, id: '' } : decodeOriginCursor(options.cursor);
    const rows = await this.read<RefRow>(
      'record scan',
      `SELECT id, keyring, key_version, origin_version, revision FROM ${this.t.table}
       WHERE keyring = $1 AND origin_version <= $2 AND (origin_version, id) > ($3::integer, $4::text)
       ORDER BY origin_version, id LIMIT $5`,
      [keyring, atMost, after.origin, after.id, options.limit],
    );
    const items = rows.map(refOf);
    const last = items[items.length - 1];
    return items.length < options.limit || last === undefined ? { items } : { items, cursor: encodeOriginCursor(last.originVersion, last.id) };
  }

  /** Number of records per version of a keyring (a GROUP BY over the version index). */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    const rows = await this.read<{ v: number; n: string }>(
      'record count',
      `SELECT key_version AS v, count(*) AS n FROM ${this.t.table} WHERE keyring = $1 GROUP BY key_version ORDER BY key_version`,
      [keyring],
    );
    return new Map(rows.map((r) => [r.v, Number(r.n)]));
  }

  /** Number of records per origin version of a keyring (a GROUP BY over the origin index). */
  public async countByOrigin(keyring: string): Promise<Map<number, number>> {
    const rows = await this.read<{ v: number; n: string }>(
      'record count',
      `SELECT origin_version AS v, count(*) AS n FROM ${this.t.table} WHERE keyring = $1 GROUP BY origin_version ORDER BY origin_version`,
      [keyring],
    );
    return new Map(rows.map((r) => [r.v, Number(r.n)]));
  }

  /**
   * Lists records in id order, optionally of one keyring and/or version, with sizes and the time
   * of the last write; never reads an envelope's bytes (octet_length of a TOASTed value reads its
   * stored size, not the value).
   */
  public async listRecords(filter: RecordListFilter): Promise<RecordListPage> {
    validateLimit(filter.limit, 'list');
    if (filter.version !== undefined && (!Number.isSafeInteger(filter.version) || filter.version < 1 || filter.version > 2_147_483_647)) {
      throw new ValidationError('version must be a positive integer');
    }
    const after = filter.cursor === undefined ? '' : decodeCursor(filter.cursor);
    const rows = await this.read<{ id: string; keyring: string; key_version: number; size: number; updated_at: Date }>(
      'record list',
      `SELECT id, keyring, key_version, octet_length(header) + octet_length(body) AS size, updated_at FROM ${this.t.table}
       WHERE ($1::text IS NULL OR keyring = $1) AND ($2::integer IS NULL OR key_version = $2) AND id > $3
       ORDER BY id LIMIT $4`,
      [filter.keyring ?? null, filter.version ?? null, after, filter.limit],
    );
    const items = rows.map((r) => ({ id: r.id, keyring: r.keyring, version: r.key_version, size: Number(r.size), updatedAt: r.updated_at }));
    const last = items[items.length - 1];
    return items.length < filter.limit || last === undefined ? { items } : { items, cursor: encodeCursor(last.id) };
  }

  /**
   * Replaces headers conditionally, keeping each body, in one transaction: the statement names
   * neither the body column nor its value. Validates every write before any.
   */
  public async putHeaders(writes: readonly ConditionalWrite<PgHeaderInput>[]): Promise<BatchWriteOutcome[]> {
    const origins = writes.map((w) => {
      const origin = validateHeader(w.write);
      if (w.expectedRevision !== null) validateRevision(w.expectedRevision);
      return origin;
    });
    const sql = `UPDATE ${this.t.table} SET header = $1, keyring = $2, key_version = $3, origin_version = $4,
      revision = nextval('${this.t.sequence}'), updated_at = now() WHERE id = $5 AND revision = $6 RETURNING revision`;
    return this.batch('record header batch', writes.map((w) => w.write.id), async (client, i) => {
      const w = writes[i] as ConditionalWrite<PgHeaderInput>;
      // Only a revision that was read can be re-wrapped: an absent record has no header to replace.
      if (w.expectedRevision === null) return undefined;
      const res = await client.query<{ revision: string }>(sql, [w.write.header, w.write.keyring, w.write.version, origins[i], w.write.id, w.expectedRevision]);
      return res.rows[0]?.revision;
    });
  }

  /** Writes whole envelopes conditionally in one transaction. Validates every write before any. */
  public async putBatch(writes: readonly ConditionalWrite<PgRecordInput>[]): Promise<BatchWriteOutcome[]> {
    const splits = writes.map((w) => {
      const split = splitRecord(w.write);
      if (w.expectedRevision !== null) validateRevision(w.expectedRevision);
      return split;
    });
    return this.batch('record batch', writes.map((w) => w.write.id), async (client, i) => {
      const w = writes[i] as ConditionalWrite<PgRecordInput>;
      const res = await client.query<{ revision: string }>(this.putSql(w.expectedRevision), this.putValues(w.write, splits[i] as Split, w.expectedRevision));
      return res.rows[0]?.revision;
    });
  }

  /**
   * Runs one conditional statement per write in one transaction, in id order (so concurrent
   * batches lock rows in the same order and cannot deadlock each other), and returns the
   * outcomes in input order. A serialization failure or deadlock rolls everything back and the
   * batch is retried whole; after the last attempt it is a retryable BackendError.
   */
  private async batch(what: string, ids: readonly string[], run: (client: PoolClient, i: number) => Promise<string | undefined>): Promise<BatchWriteOutcome[]> {
    if (ids.length === 0) return [];
    const order = ids.map((_, i) => i).sort((a, b) => {
      const x = ids[a] as string;
      const y = ids[b] as string;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    for (let attempt = 1; ; attempt += 1) {
      let client: PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw mapPgError(err, what);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const outcomes: BatchWriteOutcome[] = new Array<BatchWriteOutcome>(ids.length);
        for (const i of order) {
          const revision = await run(client, i);
          outcomes[i] = revision === undefined ? { ok: false, reason: 'conflict' } : { ok: true, revision: String(revision) };
        }
        await client.query('COMMIT');
        return outcomes;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (isPgRetryableConflict(err) && attempt < BATCH_ATTEMPTS) continue;
        if (isPgRetryableConflict(err)) throw new BackendError(`PostgreSQL ${what} failed (SQLSTATE ${String((err as { code?: unknown }).code)}): lost to concurrent transactions`, { cause: err, retryable: true });
        throw mapPgError(err, what);
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: destroy it, never reuse it.
        client.release(broken ? true : undefined);
      }
    }
  }

  /** Ends the pools the store created (an injected pool is the caller's to end). Idempotent. */
  public async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.owned.map((p) => p.end().catch(() => undefined)));
  }
}
