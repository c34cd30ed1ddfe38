/**
 * How every SQLite database of a local rekey home is opened, and how its failures are told.
 *
 * - Writable home: the file is created 0600 (and tightened), then opened with the busy timeout
 *   set first (even `journal_mode = WAL` may wait for another process's lock), WAL, and the
 *   caller's schema.
 * - Read-only home (a read-only mount, a folder or file this user may not write, or the caller
 *   asks): nothing is created, tightened or written. A WAL database whose `-shm` cannot be
 *   created cannot be opened by SQLite even read-only, so the database is read once into memory
 *   (a consistent snapshot, through SQLite's own read-only open when it works, else the bytes of
 *   a cleanly closed file) and that copy is opened with `query_only`, so any write fails with
 *   SQLITE_READONLY, which {@link describeStorageFailure} turns into a message naming the path.
 *   A local home is a laptop's or a CI job's: copying it into memory is cheap there.
 * - Failures name the database's path and say what to do (disk full, read-only, locked).
 */
import { accessSync, constants as fsc, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { preparePrivateDatabaseSync } from './file-modes';
import { BackendError, isRekeyError } from '../../errors';

/** Options of {@link openLocalDatabase}. */
export interface OpenLocalDatabaseOptions {
  /** What the database is, for messages: `catalog database`, `record database`. */
  readonly label: string;
  /** `CREATE TABLE IF NOT EXISTS ...` statements; run on every open (in memory on a read-only home). */
  readonly schema: string;
  /**
   * How long a statement waits for another process's lock before failing with SQLITE_BUSY.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * Brings an older database up to the schema (adds a column, backfills), after `schema`; also
   * run on a read-only home's in-memory copy, so readers see the current shape.
   */
  readonly migrate?: (db: Database.Database) => void;
  /** Extra pragmas for a writable open, e.g. `synchronous = NORMAL`. */
  readonly pragmas?: readonly string[];
  /**
   * Open read-only even when the home is writable (a command that only reads).
   * @default false: read-only only when the home cannot be written
   */
  readonly readOnly?: boolean;
}

/** An open database of a local home. */
export interface LocalDatabase {
  readonly db: Database.Database;
  /** The database file (or `:memory:`). */
  readonly path: string;
  /** What the database is, for messages. */
  readonly label: string;
  /** True when opened read-only: every write fails with a BackendError naming the path. */
  readonly readOnly: boolean;
}

/** The errno and SQLite codes that mean "this place cannot be written". */
const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_READONLY_DIRECTORY', 'SQLITE_READONLY_CANTINIT', 'SQLITE_READONLY_RECOVERY', 'SQLITE_READONLY_CANTLOCK', 'SQLITE_READONLY_ROLLBACK', 'SQLITE_CANTOPEN', 'SQLITE_IOERR_SHMOPEN']);
/**
 * Disk (or quota) full. SQLITE_IOERR_SHMSIZE is SQLite failing to grow its `-shm` file, which it
 * writes page by page precisely so that a full disk gives this error instead of a SIGBUS.
 */
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE']);
/** Another process holds the lock. */
const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED', 'SQLITE_LOCKED_SHAREDCACHE']);

/** The `code` of an errno or SQLite error, if any. */
export function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `err` means another process holds the database lock (worth retrying). */
export function isBusy(err: unknown): boolean {
  return BUSY_CODES.has(errorCode(err) ?? '');
}

/** Whether `err` is a disk-full failure (errno or SQLite). */
export function isDiskFull(err: unknown): boolean {
  return FULL_CODES.has(errorCode(err) ?? '');
}

/** Whether `err` means the place cannot be written (read-only mount, permissions, read-only open). */
export function isReadOnlyFailure(err: unknown): boolean {
  return READ_ONLY_CODES.has(errorCode(err) ?? '');
}

/**
 * The one BackendError for a storage failure of a local home: names the path, the code, and
 * what to do. A RekeyError passes through unchanged. Never quotes data (SQLite messages are not
 * repeated for the known cases; the generic case keeps SQLite's message, which names only
 * schema objects).
 *
 * @example
 * throw describeStorageFailure('catalog database', '/home/a/.rekey/catalog.db', err);
 * // rekey: catalog database /home/a/.rekey/catalog.db: the disk is full (SQLITE_FULL); free space on that file system and retry
 */
export function describeStorageFailure(label: string, path: string, err: unknown, action = ''): Error {
  if (isRekeyError(err)) return err;
  const code = errorCode(err) ?? 'I/O error';
  const what = `${label} ${path}${action.length > 0 ? ` (${action})` : ''}`;
  if (isDiskFull(err)) {
    return new BackendError(`${what}: the disk is full (${code}); free space on that file system and retry`, { cause: err, retryable: false });
  }
  if (isReadOnlyFailure(err)) {
    return new BackendError(`${what} cannot be written (${code}): the home is read-only or not writable by this user; run commands that change it where it is writable (status, decrypt, inspect, audit, keyring list, records get and plan only read)`, { cause: err, retryable: false });
  }
  if (isBusy(err)) {
    return new BackendError(`${what} stayed locked by another process (${code}); retry when it is done`, { cause: err, retryable: true });
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new BackendError(`${what} is damaged or not a rekey database (${code}); restore it from a backup`, { cause: err, retryable: false });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new BackendError(`${what} failed (${code}): ${message}`, { cause: err });
}

/** Whether this process may create and write files at `path` (and the WAL files beside it). */
function writable(path: string, label: string): boolean {
  try {
    accessSync(dirname(path), fsc.W_OK | fsc.X_OK);
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(`${path}${suffix}`)) accessSync(`${path}${suffix}`, fsc.R_OK | fsc.W_OK);
    }
    return true;
  } catch (err) {
    if (isReadOnlyFailure(err)) return false;
    // A missing folder or any other failure: the open that follows names the path.
    throw describeStorageFailure(label, path, err, 'open');
  }
}

/**
 * Opens a database of a local home, read-write when it can be written, read-only otherwise
 * (see the file comment). `:memory:` opens a private in-memory database.
 *
 * @example
 * const { db, readOnly } = openLocalDatabase(join(home, 'catalog.db'), { label: 'catalog database', schema: 'CREATE TABLE IF NOT EXISTS t (x)' });
 * @throws BackendError naming the path when the database cannot be opened.
 */
export function openLocalDatabase(path: string, options: OpenLocalDatabaseOptions): LocalDatabase {
  const busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
  if (path === ':memory:' || path === '') {
    const db = new Database(path);
    db.exec(options.schema);
    return { db, path: ':memory:', label: options.label, readOnly: false };
  }
  if (options.readOnly !== true && writable(path, options.label)) {
    let db: Database.Database | undefined;
    try {
      // Owner-only: created 0600 before SQLite opens it (its -wal and -shm take that mode).
      preparePrivateDatabaseSync(path);
      db = new Database(path);
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      db.pragma('journal_mode = WAL');
      for (const pragma of options.pragmas ?? []) db.pragma(pragma);
      db.exec(options.schema);
      options.migrate?.(db);
      return { db, path, label: options.label, readOnly: false };
    } catch (err) {
      db?.close();
      // A file that looked writable may still refuse (a read-only -shm, an immutable file):
      // reading stays possible, and the first write will name the path.
      if (!isReadOnlyFailure(err) || !existsSync(path)) throw describeStorageFailure(options.label, path, err, 'open');
    }
  }
  return openReadOnly(path, options);
}

function openReadOnly(path: string, options: OpenLocalDatabaseOptions): LocalDatabase {
  const { label, schema } = options;
  try {
    const image = snapshot(path);
    // An image copy is writable in memory: the schema (tables a command may look at but that
    // no writer created yet) goes in first, then query_only makes every later write fail.
    const db = image === undefined ? new Database(':memory:') : new Database(image);
    db.exec(schema);
    options.migrate?.(db);
    db.pragma('query_only = 1');
    return { db, path, label, readOnly: true };
  } catch (err) {
    throw describeStorageFailure(label, path, err, 'read-only open');
  }
}

/** SQLite header bytes 18 and 19: file format read/write versions (2 = WAL, 1 = rollback journal). */
const HEADER_WAL_READ = 18;
const HEADER_WAL_WRITE = 19;

/** A consistent copy of the database, or undefined when there is none yet (reads as empty). */
function snapshot(path: string): Buffer | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return asRollbackImage(db.serialize());
    } finally {
      db.close();
    }
  } catch {
    // SQLite cannot read a WAL database without a -shm it may create or open (it reports
    // SQLITE_CANTOPEN, or a failed serialize as "out of memory"): read the file itself below.
  }
  // A database whose last writer closed cleanly has no -wal content: the main file alone is the
  // whole database.
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) {
    throw new BackendError(`${path}-wal holds changes not yet in ${path}, and the read-only home does not let SQLite merge them; open the home writable once`, { retryable: false });
  }
  const bytes = readFileSync(path);
  return bytes.length === 0 ? undefined : asRollbackImage(bytes);
}

/** An in-memory copy has no WAL: it is marked as a rollback-journal database, or SQLite refuses to open it. */
function asRollbackImage(bytes: Buffer): Buffer {
  if (bytes.length > HEADER_WAL_WRITE) {
    bytes[HEADER_WAL_READ] = 1;
    bytes[HEADER_WAL_WRITE] = 1;
  }
  return bytes;
}

/** Options of {@link retryBusy}. */
export interface RetryBusyOptions {
  /** Attempts in all, the first included. @default 4 */
  readonly attempts?: number;
  /** Wait before the second attempt; doubled each time, with jitter. @default 25 */
  readonly baseDelayMs?: number;
}

/**
 * Runs `fn` and runs it again when it fails because another process held the lock past the
 * busy timeout (or a snapshot went stale), up to a bounded number of attempts; any other failure,
 * and the last busy one, is thrown as it is. Only for `fn` that changes nothing when it fails (a
 * single statement or a whole transaction: SQLite rolls it back).
 *
 * @example
 * await retryBusy(() => write.immediate());
 */
export async function retryBusy<T>(fn: () => T, options: RetryBusyOptions = {}): Promise<T> {
  const attempts = Math.max(1, Math.floor(options.attempts ?? 4));
  const base = Math.max(0, options.baseDelayMs ?? 25);
  for (let attempt = 1; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      if (attempt >= attempts || !isBusy(err)) throw err;
      // Jitter keeps two retrying processes from meeting again on the same tick.
      const delay = base * 2 ** (attempt - 1) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
