/**
 * SqliteRecordStore: the local RecordStore on better-sqlite3 (`<home>/records.db`).
 *
 * Layout: an envelope is stored in two rows, its header in `records` (small, indexed by
 * (keyring, version, id)) and its body in `bodies`. SQLite rewrites a whole row, overflow pages
 * included, whenever any column of it changes; with one column per envelope a header-only
 * re-wrap of a 64 KiB record would rewrite 64 KiB. With the split, a put whose body equals the
 * stored body updates only the header row, so routine rotation costs the same for every record
 * size (the point of re-wrapping headers).
 *
 * Each header row also indexes the envelope's origin version (the version under which its data
 * key was created, read from the header), so that a revocation finds every record whose data key
 * the revoked version may have wrapped, whatever version wraps it now. Databases made before the
 * column existed are migrated when opened: the column is added and filled from each header.
 *
 * Each header row also keeps when it was last written (`updated`, epoch ms of the real clock, for
 * `rekey records list`); rows written before the column existed show none.
 *
 * Revisions come from one store-wide counter, never reused (a record deleted and created again
 * gets a new revision), so a conditional write can never succeed against a different write
 * that happens to carry the same number.
 */
import Database from 'better-sqlite3';
import { ensurePrivateDirSync } from './file-modes';
import { describeStorageFailure, openLocalDatabase } from './open-database';
import { join } from 'node:path';
import { inspectEnvelope } from '../../envelope';
import { parseHeader } from '../../envelope/format';
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

/** Options of {@link SqliteRecordStore}. */
export interface SqliteRecordStoreOptions {
  /** The rekey home; the database is `<home>/records.db`. Ignored when `path` is given. */
  readonly home?: string;
  /** Explicit database path (`:memory:` works for throwaway stores). */
  readonly path?: string;
  /**
   * Where an envelope's header ends. @default the envelope format's header length
   * (`inspectEnvelope`); bytes that are not an envelope are stored whole as their header.
   */
  readonly headerLength?: (envelope: Buffer) => number;
  /** How long a writer waits for another process's lock, in ms. @default 5000 */
  readonly busyTimeoutMs?: number;
  /** SQLite page cache of this connection, in KiB. @default 65536 */
  readonly cacheSizeKiB?: number;
  /**
   * The time stamped on each write (`updated`). @default the real clock: a simulated `--now`
   * must not make a record look written in the future.
   */
  readonly clock?: () => number;
}

/** A header-only write: the stored body is kept. */
export interface HeaderInput {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly header: Buffer;
}

/** One record of a bulk load. */
export interface RecordInput {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly envelope: Buffer;
}

/** Longest record id accepted, in UTF-8 bytes. */
export const MAX_RECORD_ID_BYTES = 512;

interface HeadRow {
  rid: number;
  id: string;
  keyring: string;
  version: number;
  origin: number;
  revision: number;
  header: Buffer;
}

/**
 * The origin version a header names. Bytes that are not a parsable header (not an envelope, or
 * one of an older format) get 1, the oldest possible origin: such a record is then counted as
 * exposed by every revocation, never silently left out of one.
 */
function originOf(header: Buffer): number {
  try {
    return parseHeader(header).originVersion;
  } catch {
    return 1;
  }
}

function defaultHeaderLength(envelope: Buffer): number {
  try {
    return inspectEnvelope(envelope).headerLength;
  } catch {
    return envelope.length;
  }
}

function validateRecord(record: RecordInput): void {
  if (typeof record.id !== 'string' || record.id.length === 0 || Buffer.byteLength(record.id) > MAX_RECORD_ID_BYTES) {
    throw new ValidationError(`record id must be a non-empty string of at most ${MAX_RECORD_ID_BYTES} bytes`);
  }
  if (typeof record.keyring !== 'string' || record.keyring.length === 0) {
    throw new ValidationError('record keyring must be a non-empty string');
  }
  if (!Number.isSafeInteger(record.version) || record.version < 1) {
    throw new ValidationError('record version must be a positive integer');
  }
  if (!Buffer.isBuffer(record.envelope) || record.envelope.length === 0) {
    throw new ValidationError('record envelope must be a non-empty Buffer');
  }
  headerIndex(record.envelope, record);
}

function parseRevision(revision: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(revision)) throw new ValidationError('revision must be a revision returned by this store');
  return Number(revision);
}

/**
 * RecordStore on an embedded SQLite database (WAL, busy timeout, keyset scans).
 *
 * @example
 * const store = new SqliteRecordStore({ home: '.rekey' });
 * const rev = await store.put({ id: 'user-1', keyring: 'pii', version: 1, envelope }, null);
 * const page = await store.scanByVersion('pii', 1, { limit: 100 });
 */
export class SqliteRecordStore implements BatchRecordStore, RecordAdmin {
  private readonly path: string;
  private readonly now: () => number;
  private readonly db: Database.Database;
  private readonly headerLength: (envelope: Buffer) => number;
  private readonly stmts: ReturnType<SqliteRecordStore['prepare']>;
  private readonly writeTx: (record: RecordInput, expected: string | null | undefined) => string;
  private readonly deleteTx: (id: string, expected: string | undefined) => void;
  private readonly loadTx: (records: readonly RecordInput[]) => string[];
  private readonly batchTx: (writes: readonly ConditionalWrite<RecordInput>[]) => BatchWriteOutcome[];
  private readonly headersTx: (writes: readonly ConditionalWrite<HeaderInput>[]) => BatchWriteOutcome[];

  public constructor(options: SqliteRecordStoreOptions) {
    const path = options.path ?? (options.home === undefined ? undefined : join(options.home, 'records.db'));
    if (path === undefined) throw new ValidationError('SqliteRecordStore needs a home or a path');
    if (options.path === undefined && options.home !== undefined) ensurePrivateDirSync(options.home);
    this.headerLength = options.headerLength ?? defaultHeaderLength;
    const opened = openLocalDatabase(path, {
      label: 'record database',
      schema: `
        CREATE TABLE IF NOT EXISTS records (
          rid INTEGER PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          keyring TEXT NOT NULL,
          version INTEGER NOT NULL,
          revision INTEGER NOT NULL,
          header BLOB NOT NULL,
          origin INTEGER NOT NULL DEFAULT 1,
          updated INTEGER
        );
        CREATE INDEX IF NOT EXISTS records_by_version ON records (keyring, version, id);
        CREATE TABLE IF NOT EXISTS bodies (rid INTEGER PRIMARY KEY, body BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS record_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO record_meta (name, value) VALUES ('revision', 0);
      `,
      busyTimeoutMs: options.busyTimeoutMs,
      // 64 MiB of page cache keeps the header table and its indexes resident for sweeps.
      pragmas: ['synchronous = NORMAL', `cache_size = -${Math.trunc(options.cacheSizeKiB ?? 65_536)}`],
      migrate: (db) => {
        migrateOrigin(db);
        migrateUpdated(db);
      },
    });
    this.now = options.clock ?? Date.now;
    this.db = opened.db;
    this.path = opened.path;
    this.stmts = this.prepare();
    // Immediate transactions: a write takes the write lock when it begins, waiting up to the busy
    // timeout. A deferred one reads first and then fails at once (SQLITE_BUSY, or
    // SQLITE_BUSY_SNAPSHOT when another process committed meanwhile) instead of waiting.
    this.writeTx = immediate(this.db.transaction((record: RecordInput, expected: string | null | undefined) => this.write(record, expected)));
    this.deleteTx = immediate(this.db.transaction((id: string, expected: string | undefined) => this.remove(id, expected)));
    this.loadTx = immediate(this.db.transaction((records: readonly RecordInput[]) => records.map((r) => this.write(r, undefined))));
    this.batchTx = immediate(this.db.transaction((writes: readonly ConditionalWrite<RecordInput>[]) =>
      writes.every((w) => w.expectedRevision === null)
        ? this.insertAbsent(writes.map((w) => w.write))
        : writes.map((w) => this.outcome(() => this.write(w.write, w.expectedRevision))),
    ));
    this.headersTx = immediate(this.db.transaction((writes: readonly ConditionalWrite<HeaderInput>[]) =>
      writes.map((w) => this.outcome(() => this.writeHeader(w.write, w.expectedRevision))),
    ));
  }

  private prepare() {
    const db = this.db;
    return {
      head: db.prepare<[string], HeadRow>('SELECT rid, id, keyring, version, origin, revision, header FROM records WHERE id = ?'),
      body: db.prepare<[number], { body: Buffer }>('SELECT body FROM bodies WHERE rid = ?'),
      bodyLength: db.prepare<[number], { n: number }>('SELECT length(body) AS n FROM bodies WHERE rid = ?'),
      nextRevision: db.prepare<[], { value: number }>("UPDATE record_meta SET value = value + 1 WHERE name = 'revision' RETURNING value"),
      insertHead: db.prepare<[string, string, number, number, number, Buffer, number], { rid: number }>(
        'INSERT INTO records (id, keyring, version, origin, revision, header, updated) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING rid',
      ),
      updateHead: db.prepare<[string, number, number, number, Buffer, number, number]>(
        'UPDATE records SET keyring = ?, version = ?, origin = ?, revision = ?, header = ?, updated = ? WHERE rid = ?',
      ),
      // One statement for every filter: a NULL parameter disables its condition. Keyset on id
      // (the UNIQUE index), so a page never skips or repeats a record while others are written.
      list: db.prepare<[string | null, string | null, number | null, number | null, string, number], ListRow>(
        `SELECT r.id, r.keyring, r.version, r.updated, length(r.header) + coalesce(length(b.body), 0) AS size
         FROM records r LEFT JOIN bodies b ON b.rid = r.rid
         WHERE (? IS NULL OR r.keyring = ?) AND (? IS NULL OR r.version = ?) AND r.id > ?
         ORDER BY r.id LIMIT ?`,
      ),
      // A bulk load's insert: no row comes back when the id exists, so that one statement both
      // checks and writes (the row that exists is left as it is).
      insertAbsent: db.prepare<[string, string, number, number, number, Buffer, number], { rid: number }>(
        'INSERT INTO records (id, keyring, version, origin, revision, header, updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING rid',
      ),
      reserveRevisions: db.prepare<[number], { value: number }>("UPDATE record_meta SET value = value + ? WHERE name = 'revision' RETURNING value"),
      upsertBody: db.prepare<[number, Buffer]>('INSERT INTO bodies (rid, body) VALUES (?, ?) ON CONFLICT (rid) DO UPDATE SET body = excluded.body'),
      deleteHead: db.prepare<[number]>('DELETE FROM records WHERE rid = ?'),
      deleteBody: db.prepare<[number]>('DELETE FROM bodies WHERE rid = ?'),
      scanFirst: db.prepare<[string, number, number], RecordRefRow>(
        'SELECT id, keyring, version, origin, revision FROM records WHERE keyring = ? AND version = ? ORDER BY id LIMIT ?',
      ),
      scanFrom: db.prepare<[string, number, string, number], RecordRefRow>(
        'SELECT id, keyring, version, origin, revision FROM records WHERE keyring = ? AND version = ? AND id > ? ORDER BY id LIMIT ?',
      ),
      // Keyset over (origin, id), served by records_by_origin: a re-encrypted record leaves the
      // range (its origin moves past it) without shifting the position of the others.
      originFirst: db.prepare<[string, number, number], RecordRefRow>(
        'SELECT id, keyring, version, origin, revision FROM records WHERE keyring = ? AND origin <= ? ORDER BY origin, id LIMIT ?',
      ),
      originFrom: db.prepare<[string, number, number, number, string, number], RecordRefRow>(
        'SELECT id, keyring, version, origin, revision FROM records WHERE keyring = ? AND origin <= ? AND (origin > ? OR (origin = ? AND id > ?)) ORDER BY origin, id LIMIT ?',
      ),
      count: db.prepare<[string], { version: number; n: number }>(
        'SELECT version, COUNT(*) AS n FROM records WHERE keyring = ? GROUP BY version ORDER BY version',
      ),
      countOrigin: db.prepare<[string], { origin: number; n: number }>(
        'SELECT origin, COUNT(*) AS n FROM records WHERE keyring = ? GROUP BY origin ORDER BY origin',
      ),
    };
  }

  /** Reads a record (header and body joined back into the envelope), or undefined. */
  public async get(id: string): Promise<StoredRecord | undefined> {
    return this.guard(() => {
      const head = this.stmts.head.get(id);
      if (head === undefined) return undefined;
      const body = this.stmts.body.get(head.rid)?.body ?? Buffer.alloc(0);
      return {
        id: head.id,
        keyring: head.keyring,
        version: head.version,
        originVersion: head.origin,
        envelope: body.length === 0 ? head.header : Buffer.concat([head.header, body]),
        revision: String(head.revision),
      };
    });
  }

  /**
   * Writes a record; with `expectedRevision` only if the stored revision still equals it
   * (`null`: only if absent), else ConflictError. When the body is unchanged (a re-wrap),
   * only the header row is written.
   */
  public async put(record: RecordInput, expectedRevision?: string | null): Promise<string> {
    validateRecord(record);
    if (typeof expectedRevision === 'string') parseRevision(expectedRevision);
    return this.guard(() => this.writeTx(record, expectedRevision));
  }

  /** Deletes a record; with `expectedRevision` only if it still matches (else ConflictError). */
  public async delete(id: string, expectedRevision?: string): Promise<void> {
    if (expectedRevision !== undefined) parseRevision(expectedRevision);
    return this.guard(() => this.deleteTx(id, expectedRevision));
  }

  /**
   * Lists one version's records in id order from a keyset cursor (the last id returned), so
   * the scan neither skips nor repeats records while other records change version.
   */
  public async scanByVersion(keyring: string, version: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > 100_000) {
      throw new ValidationError('scan limit must be an integer between 1 and 100000');
    }
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    return this.guard(() => {
      const rows = after === undefined
        ? this.stmts.scanFirst.all(keyring, version, options.limit)
        : this.stmts.scanFrom.all(keyring, version, after, options.limit);
      const items = rows.map(refOf);
      const last = items[items.length - 1];
      return items.length < options.limit || last === undefined ? { items } : { items, cursor: encodeCursor(last.id) };
    });
  }

  /**
   * Lists the records whose origin version is at most `atMost`, in (origin, id) order from a
   * keyset cursor, whatever their current version (one indexed range scan).
   */
  public async scanByOrigin(keyring: string, atMost: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > 100_000) {
      throw new ValidationError('scan limit must be an integer between 1 and 100000');
    }
    if (!Number.isSafeInteger(atMost) || atMost < 1) throw new ValidationError('version must be a positive integer');
    const after = options.cursor === undefined ? undefined : decodeOriginCursor(options.cursor);
    return this.guard(() => {
      const rows = after === undefined
        ? this.stmts.originFirst.all(keyring, atMost, options.limit)
        : this.stmts.originFrom.all(keyring, atMost, after.origin, after.origin, after.id, options.limit);
      const items = rows.map(refOf);
      const last = items[items.length - 1];
      return items.length < options.limit || last === undefined ? { items } : { items, cursor: encodeOriginCursor(last.originVersion, last.id) };
    });
  }

  /** Number of records per origin version of a keyring (one indexed GROUP BY). */
  public async countByOrigin(keyring: string): Promise<Map<number, number>> {
    return this.guard(() => new Map(this.stmts.countOrigin.all(keyring).map((r) => [r.origin, r.n])));
  }

  /** Number of records per version of a keyring (one indexed GROUP BY). */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    return this.guard(() => new Map(this.stmts.count.all(keyring).map((r) => [r.version, r.n])));
  }

  /**
   * Writes many records in one transaction (unconditional upserts), for bulk loading.
   * Returns the new revisions in input order. Validates every record before writing any.
   */
  public async putMany(records: readonly RecordInput[]): Promise<string[]> {
    records.forEach(validateRecord);
    return this.guard(() => this.loadTx(records));
  }

  /**
   * Lists records in id order, optionally of one keyring and/or version, with sizes and the
   * time of the last write; never reads an envelope's bytes into the result.
   */
  public async listRecords(filter: RecordListFilter): Promise<RecordListPage> {
    if (!Number.isSafeInteger(filter.limit) || filter.limit < 1 || filter.limit > 100_000) {
      throw new ValidationError('list limit must be an integer between 1 and 100000');
    }
    if (filter.version !== undefined && (!Number.isSafeInteger(filter.version) || filter.version < 1)) {
      throw new ValidationError('version must be a positive integer');
    }
    const after = filter.cursor === undefined ? '' : decodeCursor(filter.cursor);
    const keyring = filter.keyring ?? null;
    const version = filter.version ?? null;
    return this.guard(() => {
      const rows = this.stmts.list.all(keyring, keyring, version, version, after, filter.limit);
      const items = rows.map((r) => ({
        id: r.id,
        keyring: r.keyring,
        version: r.version,
        size: r.size,
        ...(r.updated === null ? {} : { updatedAt: new Date(r.updated) }),
      }));
      const last = items[items.length - 1];
      return items.length < filter.limit || last === undefined ? { items } : { items, cursor: encodeCursor(last.id) };
    });
  }

  /** Reads a record's header and revision without touching its body. */
  public async getHeader(id: string): Promise<StoredHeader | undefined> {
    return this.guard(() => {
      const head = this.stmts.head.get(id);
      if (head === undefined) return undefined;
      return { id: head.id, keyring: head.keyring, version: head.version, originVersion: head.origin, header: head.header, revision: String(head.revision) };
    });
  }

  /**
   * Replaces headers conditionally, keeping each body, in one transaction: only the small
   * header rows are written, whatever the payload size. Validates every write before any.
   */
  public async putHeaders(writes: readonly ConditionalWrite<HeaderInput>[]): Promise<BatchWriteOutcome[]> {
    for (const w of writes) {
      validateRecord({ ...w.write, envelope: w.write.header });
      if (w.expectedRevision !== null) parseRevision(w.expectedRevision);
    }
    return this.guard(() => this.headersTx(writes));
  }

  /** Writes whole envelopes conditionally in one transaction. Validates every write before any. */
  public async putBatch(writes: readonly ConditionalWrite<RecordInput>[]): Promise<BatchWriteOutcome[]> {
    for (const w of writes) {
      validateRecord(w.write);
      if (w.expectedRevision !== null) parseRevision(w.expectedRevision);
    }
    return this.guard(() => this.batchTx(writes));
  }

  /** Closes the database; the store is unusable afterwards. */
  public close(): void {
    if (this.db.open) this.db.close();
  }

  private write(record: RecordInput, expected: string | null | undefined): string {
    const head = this.stmts.head.get(record.id);
    if (expected === null && head !== undefined) throw new ConflictError(`record '${record.id}' already exists`);
    if (typeof expected === 'string' && (head === undefined || String(head.revision) !== expected)) {
      throw new ConflictError(`record '${record.id}' changed since revision ${expected}`);
    }
    const split = Math.max(0, Math.min(record.envelope.length, this.headerLength(record.envelope)));
    const header = record.envelope.subarray(0, split);
    const body = record.envelope.subarray(split);
    const revision = this.stmts.nextRevision.get()?.value;
    if (revision === undefined) throw new BackendError('record revision counter is missing');
    const origin = originOf(header);
    if (head === undefined) {
      const inserted = this.stmts.insertHead.get(record.id, record.keyring, record.version, origin, revision, header, this.now());
      if (inserted === undefined) throw new BackendError('record insert returned no row');
      this.stmts.upsertBody.run(inserted.rid, body);
    } else {
      this.stmts.updateHead.run(record.keyring, record.version, origin, revision, header, this.now(), head.rid);
      if (!this.sameBody(head.rid, body)) this.stmts.upsertBody.run(head.rid, body);
    }
    return String(revision);
  }

  /**
   * Only-if-absent writes of a whole batch (inside its transaction): one insert that skips an
   * existing id, and the body, per record; the revisions are reserved in one step for the batch.
   * A revision reserved for an id that turned out to exist is simply never used (the counter only
   * has to never repeat).
   */
  private insertAbsent(records: readonly RecordInput[]): BatchWriteOutcome[] {
    if (records.length === 0) return [];
    const last = this.stmts.reserveRevisions.get(records.length)?.value;
    if (last === undefined) throw new BackendError('record revision counter is missing');
    const updated = this.now();
    let revision = last - records.length;
    return records.map((record): BatchWriteOutcome => {
      revision += 1;
      const split = Math.max(0, Math.min(record.envelope.length, this.headerLength(record.envelope)));
      const header = record.envelope.subarray(0, split);
      const inserted = this.stmts.insertAbsent.get(record.id, record.keyring, record.version, originOf(header), revision, header, updated);
      if (inserted === undefined) return { ok: false, reason: 'conflict' };
      this.stmts.upsertBody.run(inserted.rid, record.envelope.subarray(split));
      return { ok: true, revision: String(revision) };
    });
  }

  private writeHeader(update: HeaderInput, expected: string | null): string {
    const head = this.stmts.head.get(update.id);
    if (head === undefined || expected === null || String(head.revision) !== expected) {
      throw new ConflictError(`record '${update.id}' changed since it was read`);
    }
    const revision = this.stmts.nextRevision.get()?.value;
    if (revision === undefined) throw new BackendError('record revision counter is missing');
    // A header-only re-wrap keeps the origin; it is read from the new header all the same, so the
    // index follows whatever the header says.
    this.stmts.updateHead.run(update.keyring, update.version, originOf(update.header), revision, update.header, this.now(), head.rid);
    return String(revision);
  }

  private outcome(fn: () => string): BatchWriteOutcome {
    try {
      return { ok: true, revision: fn() };
    } catch (err) {
      if (err instanceof ConflictError) return { ok: false, reason: 'conflict' };
      throw err;
    }
  }

  private sameBody(rid: number, body: Buffer): boolean {
    // The length is read without loading the blob, so a changed size costs no body read.
    const n = this.stmts.bodyLength.get(rid)?.n;
    if (n !== body.length) return false;
    const stored = this.stmts.body.get(rid)?.body;
    return stored !== undefined && stored.equals(body);
  }

  private remove(id: string, expected: string | undefined): void {
    const head = this.stmts.head.get(id);
    if (head === undefined) {
      if (expected !== undefined) throw new ConflictError(`record '${id}' changed since revision ${expected}`);
      throw new NotFoundError(`record '${id}' does not exist`);
    }
    if (expected !== undefined && String(head.revision) !== expected) {
      throw new ConflictError(`record '${id}' changed since revision ${expected}`);
    }
    this.stmts.deleteHead.run(head.rid);
    this.stmts.deleteBody.run(head.rid);
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError || err instanceof ValidationError || err instanceof BackendError) throw err;
      throw describeStorageFailure('record database', this.path, err);
    }
  }
}

interface ListRow {
  id: string;
  keyring: string;
  version: number;
  updated: number | null;
  size: number;
}

interface RecordRefRow {
  id: string;
  keyring: string;
  version: number;
  origin: number;
  revision: number;
}

function refOf(r: RecordRefRow): RecordRef {
  return { id: r.id, keyring: r.keyring, version: r.version, originVersion: r.origin, revision: String(r.revision) };
}

/**
 * Brings a database made before the origin column up to date, in one immediate transaction (a
 * second process opening it at the same time waits, then finds the work done): adds the column
 * with its index and fills it from each stored header. Idempotent.
 */
function migrateOrigin(db: Database.Database): void {
  const migrate = db.transaction(() => {
    const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('records')").all();
    if (!columns.some((c) => c.name === 'origin')) {
      db.exec('ALTER TABLE records ADD COLUMN origin INTEGER NOT NULL DEFAULT 1');
      const update = db.prepare<[number, number]>('UPDATE records SET origin = ? WHERE rid = ?');
      // Read first, then write: better-sqlite3 refuses writes while a statement is iterating.
      for (const row of db.prepare<[], { rid: number; header: Buffer }>('SELECT rid, header FROM records').all()) {
        update.run(originOf(row.header), row.rid);
      }
    }
    db.exec('CREATE INDEX IF NOT EXISTS records_by_origin ON records (keyring, origin, id)');
  });
  migrate.immediate();
}

/**
 * Adds the `updated` column to a database made before it (rows keep NULL: their time of
 * writing was never recorded, and inventing one would mislead). Idempotent.
 */
function migrateUpdated(db: Database.Database): void {
  const migrate = db.transaction(() => {
    const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('records')").all();
    if (!columns.some((c) => c.name === 'updated')) db.exec('ALTER TABLE records ADD COLUMN updated INTEGER');
  });
  migrate.immediate();
}

// Cursors are opaque to callers; base64url keeps ids with any characters safe in a CLI argument.
function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new ValidationError('scan cursor is not a cursor returned by this store');
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

// An origin cursor is `<origin>.<base64url id>`: both halves of the (origin, id) keyset.
function encodeOriginCursor(origin: number, id: string): string {
  return `${origin}.${encodeCursor(id)}`;
}

function decodeOriginCursor(cursor: string): { origin: number; id: string } {
  const m = /^([1-9][0-9]{0,9})\.([A-Za-z0-9_-]+)$/.exec(cursor);
  if (m === null) throw new ValidationError('scan cursor is not a cursor returned by this store');
  return { origin: Number(m[1]), id: decodeCursor(m[2] as string) };
}

/** A better-sqlite3 transaction function that always begins with BEGIN IMMEDIATE. */
function immediate<A extends unknown[], R>(tx: Database.Transaction<(...args: A) => R>): (...args: A) => R {
  return (...args: A): R => tx.immediate(...args);
}
