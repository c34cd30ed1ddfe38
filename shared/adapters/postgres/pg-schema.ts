/**
 * The table a {@link PgRecordStore} keeps records in, and the contract an application's own
 * table must follow to be swept by rekey in place.
 *
 * The table (any schema and name; both are validated as plain identifiers and always quoted):
 *
 * | column           | type                  | meaning                                                    |
 * |------------------|-----------------------|------------------------------------------------------------|
 * | `id`             | text primary key      | the record id                                              |
 * | `keyring`        | text not null         | the keyring its envelope header names                      |
 * | `key_version`    | integer not null      | the version wrapping its data key now (from the header)    |
 * | `origin_version` | integer not null      | the version that created its data key (from the header)    |
 * | `revision`       | bigint not null       | from the sequence `<table>_revision`, never reused         |
 * | `header`         | bytea not null        | the envelope's header                                      |
 * | `body`           | bytea not null        | the rest of the envelope (`envelope = header || body`)     |
 * | `updated_at`     | timestamptz not null  | when the row was last written (default now())             |
 *
 * with the indexes `(keyring, key_version, id)` (sweeps and counts by version) and
 * `(keyring, origin_version, id)` (revocation scans and exposure counts), each covering the
 * columns those scans return, so a scan or a count reads the index alone.
 *
 * Why the header and the body are two columns: a header-only re-wrap (routine rotation) updates
 * `header` alone. PostgreSQL stores a large `body` out of line (TOAST) and a new row version
 * keeps pointing at the unchanged out-of-line value, so the re-wrap neither sends nor rewrites
 * the payload, whatever its size.
 *
 * Rules for writers other than rekey (an application writing the same table): take `revision`
 * from `nextval('<schema>.<table>_revision')` on every write, never reuse or compute one; write
 * `keyring`, `key_version` and `origin_version` exactly as the envelope header carries them (a
 * row indexed under another version is missed by that version's sweep); and make every update
 * of an existing row conditional on the revision read (`... WHERE id = $1 AND revision = $2`).
 */
import type { Pool, PoolClient } from 'pg';
import { AccessDeniedError, BackendError, ConflictError, isRekeyError, ValidationError } from '../../errors';

/** Where the records table lives. */
export interface RecordTableName {
  /** @default 'public' */
  readonly schema?: string;
  /** @default 'rekey_records' */
  readonly table?: string;
}

/** The default table name. */
export const DEFAULT_RECORD_TABLE = 'rekey_records';

/** The default schema. */
export const DEFAULT_RECORD_SCHEMA = 'public';

// Plain identifiers only (what PostgreSQL folds and accepts unquoted), at most 63 bytes, the
// server's identifier limit less nothing: quoting then never changes what is meant, and a name
// from configuration can never carry SQL.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a schema or table name and returns it double-quoted for SQL.
 *
 * @example
 * quoteIdentifier('rekey_records'); // '"rekey_records"'
 */
export function quoteIdentifier(name: string, what = 'identifier'): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new ValidationError(`PostgreSQL ${what} must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)`);
  }
  return `"${name}"`;
}

/** The quoted names of one records table. */
export interface RecordTableSql {
  /** `"schema"."table"` */
  readonly table: string;
  /** `"schema"."table_revision"` (the revision sequence) */
  readonly sequence: string;
  /** `"schema"` */
  readonly schema: string;
  /** The unquoted names, for catalog queries. */
  readonly names: { readonly schema: string; readonly table: string; readonly sequence: string; readonly byVersion: string; readonly byOrigin: string };
}

/**
 * The validated, quoted names of a records table, its sequence and its indexes.
 *
 * @example
 * recordTableSql({ schema: 'app', table: 'customers' }).table; // '"app"."customers"'
 */
export function recordTableSql(name: RecordTableName = {}): RecordTableSql {
  const schema = name.schema ?? DEFAULT_RECORD_SCHEMA;
  const table = name.table ?? DEFAULT_RECORD_TABLE;
  const q = quoteIdentifier(schema, 'schema name');
  const t = quoteIdentifier(table, 'table name');
  // Derived names must stay identifiers too (63 bytes): a long table name is refused up front.
  const sequence = `${table}_revision`;
  const byVersion = `${table}_by_version`;
  const byOrigin = `${table}_by_origin`;
  for (const derived of [sequence, byVersion, byOrigin]) quoteIdentifier(derived, 'table name (with its _by_version suffix)');
  return { table: `${q}.${t}`, sequence: `${q}."${sequence}"`, schema: q, names: { schema, table, sequence, byVersion, byOrigin } };
}

/**
 * The DDL of a records table, its revision sequence and its two indexes; idempotent (every
 * statement is IF NOT EXISTS).
 *
 * @example
 * await pool.query(recordTableDdl('public', 'rekey_records'));
 */
export function recordTableDdl(schema: string = DEFAULT_RECORD_SCHEMA, table: string = DEFAULT_RECORD_TABLE): string {
  const sql = recordTableSql({ schema, table });
  const { byVersion, byOrigin } = sql.names;
  // The indexes INCLUDE what scans return (revision, and the other version column), so that
  // a sweep's scan and the counts are index-only.
  return [
    `CREATE SCHEMA IF NOT EXISTS ${sql.schema};`,
    `CREATE SEQUENCE IF NOT EXISTS ${sql.sequence} AS bigint;`,
    `CREATE TABLE IF NOT EXISTS ${sql.table} (
      id text PRIMARY KEY,
      keyring text NOT NULL,
      key_version integer NOT NULL,
      origin_version integer NOT NULL,
      revision bigint NOT NULL,
      header bytea NOT NULL,
      body bytea NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );`,
    `CREATE INDEX IF NOT EXISTS "${byVersion}" ON ${sql.table} (keyring, key_version, id) INCLUDE (origin_version, revision);`,
    `CREATE INDEX IF NOT EXISTS "${byOrigin}" ON ${sql.table} (keyring, origin_version, id) INCLUDE (key_version, revision);`,
  ].join('\n');
}

/**
 * Creates the records table (schema, sequence, indexes) if absent. Concurrent callers are
 * serialized with a transaction-scoped advisory lock, since `CREATE ... IF NOT EXISTS` can
 * still fail on a race between two sessions creating the same object.
 *
 * @example
 * await ensureRecordTable(pool, { schema: 'public', table: 'rekey_records' });
 */
export async function ensureRecordTable(pool: Pool | PoolClient, name: RecordTableName = {}): Promise<void> {
  const sql = recordTableSql(name);
  const ddl = recordTableDdl(sql.names.schema, sql.names.table);
  const client = 'release' in pool ? pool : await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`rekey:${sql.table}`]);
    await client.query(ddl);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    if (client !== pool) client.release();
  }
}

// SQLSTATE classes and codes rekey gives a meaning to (PostgreSQL manual, appendix A).
const CONFLICT_CODES = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const RETRYABLE_CODES = new Set(['57014', '57P01', '57P02', '57P03', '53300', '53400', '55P03']); // timeouts, shutdowns, too many connections, lock not available
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** The SQLSTATE of a server error, or the errno code of a socket error. */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when `err` is PostgreSQL reporting a serialization failure or a deadlock (the transaction was rolled back whole). */
export function isPgRetryableConflict(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && CONFLICT_CODES.has(code);
}

/**
 * Translates a `pg` failure into rekey's errors. Messages name the operation and the SQLSTATE
 * only: PostgreSQL's own messages quote values (`Key (id)=(...) already exists`), which must
 * not reach logs; the driver error stays as `cause` for in-process debugging.
 *
 * @example
 * try { await pool.query(sql, params); } catch (err) { throw mapPgError(err, 'record read'); }
 */
export async function mapPgErrorAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapPgError(err, what);
  }
}

/**
 * See {@link mapPgErrorAsync}: the synchronous translation of one failure.
 *
 * @example
 * throw mapPgError(err, 'record write');
 */
export function mapPgError(err: unknown, what: string): Error {
  if (isRekeyError(err)) return err;
  const code = codeOf(err);
  const tag = code === undefined ? '' : ` (${/^[0-9A-Z]{5}$/.test(code) ? 'SQLSTATE ' : ''}${code})`;
  if (code !== undefined && CONFLICT_CODES.has(code)) {
    return new ConflictError(`PostgreSQL ${what} lost to a concurrent transaction${tag}`, { cause: err });
  }
  if (code !== undefined && (code.startsWith('28') || code === '42501')) {
    return new AccessDeniedError(`PostgreSQL refused the ${what}${tag}`, { cause: err });
  }
  if (code !== undefined && (code.startsWith('08') || RETRYABLE_CODES.has(code) || NETWORK_CODES.has(code))) {
    return new BackendError(`PostgreSQL ${what} failed: the server is unreachable or busy${tag}`, { cause: err, retryable: true });
  }
  const message = err instanceof Error ? err.message : '';
  // The driver's own connection failures carry no code.
  if (code === undefined && /connection|terminated|timeout|socket/i.test(message)) {
    return new BackendError(`PostgreSQL ${what} failed: the connection was lost or timed out`, { cause: err, retryable: true });
  }
  // Data exceptions and NOT NULL / CHECK violations: the input, not the server (no value quoted).
  if (code !== undefined && (code.startsWith('22') || code === '23502' || code === '23514')) {
    return new ValidationError(`PostgreSQL refused a value of the ${what}${tag}`, { cause: err });
  }
  if (code === '42P01' || code === '3F000') {
    return new BackendError(`PostgreSQL ${what} failed: the records table or its schema does not exist${tag}`, { cause: err, retryable: false });
  }
  return new BackendError(`PostgreSQL ${what} failed${tag}`, { cause: err, retryable: code === undefined });
}
