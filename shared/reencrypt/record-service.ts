/**
 * RecordService: application reads and writes of encrypted records, with lazy re-wrap on read.
 *
 * A record's envelope is bound to its id (plus any caller context), so that a ciphertext
 * copied under another id does not decrypt. Reading a record whose version is `rotating` or
 * `deprecated` returns the plaintext and writes back the envelope re-wrapped to the active
 * version (header only), conditionally on the revision read: a concurrent application write
 * always wins, and plaintext never leaves this process's memory.
 *
 * Lazy re-wraps are audited in aggregate (`records.rewrapped`, one event per keyring and
 * version pair with a count, never one per record): counted in memory and written by
 * {@link RecordService.flushAudit}, which a re-wrap also triggers once the oldest uncounted one
 * is `auditFlushMs` old.
 *
 * Bulk loads ({@link RecordService.importRecords}) seal every record exactly as `put` does (one
 * code path) and commit them a batch at a time, in one transaction per batch when the store
 * offers batches.
 */
import { ConflictError, NotFoundError, RekeyError, ValidationError } from '../errors';
import type { CallerContext } from '../envelope/api';
import { isBatchRecordStore, type RecordStore } from '../ports/record-store';
import { isRecordAdmin, type RecordListFilter, type RecordListPage } from '../ports/record-admin';
import type { AuditSink } from '../ports/audit-sink';
import { noMetrics, recordContext, RECORD_ID_CONTEXT_KEY } from './dependencies';
import type { EnvelopeOps, ReencryptMetrics, VersionLookup } from './dependencies';

/** Dependencies of {@link RecordService}. */
export interface RecordServiceOptions {
  readonly records: RecordStore;
  readonly envelopes: EnvelopeOps;
  /** Version states and the active version (CatalogKeyProvider). */
  readonly versions: VersionLookup;
  readonly metrics?: ReencryptMetrics;
  /** Where aggregated `records.rewrapped` events go; without it lazy re-wraps are only counted in metrics. */
  readonly audit?: AuditSink;
  /** Who the events name. @default 'lazy-rewrap' */
  readonly actor?: string;
  /** Longest time a counted re-wrap waits for its event, in ms. @default 60000 */
  readonly auditFlushMs?: number;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

interface PendingRewraps {
  readonly keyring: string;
  readonly from: number;
  readonly to: number;
  count: number;
  readonly since: number;
}

/** Options of {@link RecordService.put}. */
export interface PutRecordOptions {
  /** Extra caller context bound into the envelope (tenant, ...). The record id is always bound. */
  readonly context?: CallerContext;
  /** Store the caller context in clear in the header, so an emergency re-encryption can supply it. */
  readonly storeContext?: boolean;
  /** Write only if the stored revision still equals this (`null`: only if absent). */
  readonly expectedRevision?: string | null;
}

/** One record to import: its id and how to read its plaintext (read only when its batch is filled). */
export interface ImportItem {
  /** The record id; undefined when the source could not even name it (a malformed line). */
  readonly id: string | undefined;
  /** How the report names this item when it fails (a file name, `line 7`). */
  readonly label: string;
  /** Reads the plaintext; a RekeyError fails this item only, any other error the import. */
  load(): Promise<Buffer>;
}

/** Options of {@link RecordService.importRecords}. */
export interface ImportRecordsOptions extends Omit<PutRecordOptions, 'expectedRevision'> {
  /** Records per committed batch. @default 500 */
  readonly batchSize?: number;
  /** A batch is closed once its plaintexts reach this many bytes. @default 32 MiB */
  readonly batchBytes?: number;
  /**
   * Loads started before earlier ones finished, for sources whose `load` waits on I/O. A source
   * that reads synchronously (the CLI's folder source) finishes each load when it is started, so
   * that a batch then holds at most `batchBytes` plus one item. @default 32
   */
  readonly readAhead?: number;
  /** Asked between batches: true stops the import there (Ctrl-C), everything committed so far stays. */
  readonly shouldStop?: () => boolean;
  /** Told the running totals after every committed batch. */
  readonly onBatch?: (totals: ImportTotals) => void;
}

/** Running totals of an import. */
export interface ImportTotals {
  /** Records written by this run. */
  readonly imported: number;
  /** Items whose id already existed: left unchanged, never overwritten. */
  readonly existing: number;
  /** Items that could not be read or written. */
  readonly failed: number;
  /** Plaintext bytes written by this run. */
  readonly bytes: number;
}

/** Most ids or failures listed in an import report (the counts are always exact). */
export const MAX_IMPORT_REPORTED = 100;

/** What an import did. */
export interface ImportReport extends ImportTotals {
  /** Up to {@link MAX_IMPORT_REPORTED} ids that already existed. */
  readonly existingIds: readonly string[];
  /** Up to {@link MAX_IMPORT_REPORTED} failures, each naming the item and why. */
  readonly failures: ReadonlyArray<{ readonly item: string; readonly reason: string }>;
  /** True when `shouldStop` ended the import before the source was exhausted. */
  readonly stopped: boolean;
}

interface Loaded {
  readonly id: string;
  readonly label: string;
  readonly plaintext: Buffer;
}

/** What a read returns. */
export interface ReadRecord {
  readonly plaintext: Buffer;
  readonly keyring: string;
  /** The version the record was encrypted under when read. */
  readonly version: number;
  /** The stored revision after the read (new when the read re-wrapped the record). */
  readonly revision: string;
  /** What the lazy re-wrap did: `none` (already current), `rewrapped`, `conflict` (a newer write won), `failed`. */
  readonly rewrap: 'none' | 'rewrapped' | 'conflict' | 'failed';
}

// States whose records a read migrates; `pending` never holds data and `revoked` needs the
// emergency sweep (a fresh data key), not a re-wrap of a possibly exposed one.
const LAZY_STATES = new Set(['rotating', 'deprecated']);

function turnEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function validateId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new ValidationError('record id must be a non-empty string');
}

function validateContext(context: CallerContext | undefined): void {
  if (context !== undefined && Object.prototype.hasOwnProperty.call(context, RECORD_ID_CONTEXT_KEY)) {
    throw new ValidationError(`context key '${RECORD_ID_CONTEXT_KEY}' is reserved for the record id`);
  }
}

/**
 * Encrypted record reads and writes with lazy re-wrap.
 *
 * @example
 * const service = new RecordService({ records, envelopes, versions: provider });
 * await service.put('user-1', 'pii', Buffer.from('secret'), { context: { tenant: 't1' } });
 * const { plaintext } = await service.get('user-1', { context: { tenant: 't1' } });
 */
export class RecordService {
  private readonly records: RecordStore;
  private readonly envelopes: EnvelopeOps;
  private readonly versions: VersionLookup;
  private readonly metrics: ReencryptMetrics;
  private readonly audit: AuditSink | undefined;
  private readonly actor: string;
  private readonly flushMs: number;
  private readonly clock: () => Date;
  private pending = new Map<string, PendingRewraps>();

  public constructor(options: RecordServiceOptions) {
    this.records = options.records;
    this.envelopes = options.envelopes;
    this.versions = options.versions;
    this.metrics = options.metrics ?? noMetrics;
    this.audit = options.audit;
    this.actor = options.actor ?? 'lazy-rewrap';
    this.flushMs = options.auditFlushMs ?? 60_000;
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Writes one `records.rewrapped` event per keyring and (from, to) version pair counted since
   * the last flush, and forgets them. Call it before the process ends (the CLI does on close).
   *
   * @example
   * await service.flushAudit(); // { action: 'records.rewrapped', keyring: 'pii', version: 1, details: { toVersion: 2, count: 42 } }
   */
  public async flushAudit(): Promise<void> {
    if (this.audit === undefined || this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const at = this.clock().toISOString();
    for (const p of batch) {
      await this.audit.record({ at, actor: this.actor, action: 'records.rewrapped', keyring: p.keyring, version: p.from, reason: 'read of a superseded version', details: { toVersion: p.to, count: p.count } });
    }
  }

  private async countRewrap(keyring: string, from: number, to: number): Promise<void> {
    if (this.audit === undefined) return;
    const key = `${keyring}\u0000${from}\u0000${to}`;
    const now = this.clock().getTime();
    const entry = this.pending.get(key);
    if (entry === undefined) this.pending.set(key, { keyring, from, to, count: 1, since: now });
    else entry.count += 1;
    let oldest = now;
    for (const p of this.pending.values()) oldest = Math.min(oldest, p.since);
    if (now - oldest < this.flushMs) return;
    // The audit trail is best effort here: a failed append must not fail the read (the counts
    // stay in the metrics).
    await this.flushAudit().catch(() => this.metrics.increment('lazyRewrap.auditFailed'));
  }

  /** Encrypts `plaintext` under the keyring's active version and stores it as record `id`. Returns the revision. */
  public async put(id: string, keyring: string, plaintext: Buffer, options: PutRecordOptions = {}): Promise<string> {
    validateContext(options.context);
    const record = await this.seal(id, keyring, plaintext, options);
    const revision = await this.records.put(record, options.expectedRevision);
    this.metrics.increment('records.written');
    return revision;
  }

  // The one way a record is encrypted: put and importRecords both come here.
  private async seal(id: string, keyring: string, plaintext: Buffer, options: Pick<PutRecordOptions, 'context' | 'storeContext'>): Promise<{ id: string; keyring: string; version: number; envelope: Buffer }> {
    validateId(id);
    if (!Buffer.isBuffer(plaintext)) throw new ValidationError('plaintext must be a Buffer');
    const envelope = await this.envelopes.encrypt(keyring, plaintext, {
      context: recordContext(id, options.context),
      ...(options.storeContext === true ? { storeContext: true } : {}),
    });
    return { id, keyring, version: this.envelopes.inspect(envelope).version, envelope };
  }

  /**
   * Encrypts and stores many records, a batch at a time: items are read with bounded overlap
   * (at most `batchBytes` plus `readAhead` items in memory), sealed as {@link put} seals them, and
   * committed in one transaction per batch when the store offers batches. An id that already
   * exists is never overwritten: it is counted and reported, so that running the same import
   * again after an interruption writes only what is missing. An item that cannot be read or
   * written fails alone (reported with its label); a problem of the keyring itself (unknown,
   * no active version) fails the whole import before anything is written.
   *
   * @example
   * const report = await service.importRecords(items, 'pii', { shouldStop: () => interrupted });
   * // { imported: 20000, existing: 0, failed: 0, bytes: 1280000, stopped: false, ... }
   */
  public async importRecords(source: AsyncIterable<ImportItem>, keyring: string, options: ImportRecordsOptions = {}): Promise<ImportReport> {
    validateContext(options.context);
    const batchSize = options.batchSize ?? 500;
    const batchBytes = options.batchBytes ?? 32 * 1024 * 1024;
    const readAhead = options.readAhead ?? 32;
    // Fails on the keyring (unknown, frozen for encryption, no active version) before any read.
    await this.versions.forEncrypt(keyring);
    const totals = { imported: 0, existing: 0, failed: 0, bytes: 0 };
    const existingIds: string[] = [];
    const failures: Array<{ item: string; reason: string }> = [];
    const fail = (item: string, reason: string): void => {
      totals.failed += 1;
      if (failures.length < MAX_IMPORT_REPORTED) failures.push({ item, reason });
    };
    const iterator = source[Symbol.asyncIterator]();
    let exhausted = false;
    let stopped = false;
    try {
      while (!exhausted) {
        // A source that reads synchronously and a warm key leave nothing to await on the event
        // loop: without this turn a Ctrl-C handler (and progress output) would only run once the
        // whole import is over. One turn per batch costs microseconds.
        await turnEventLoop();
        if (options.shouldStop?.() === true) {
          stopped = true;
          break;
        }
        const batch = await this.loadBatch(iterator, { batchSize, batchBytes, readAhead }, fail);
        exhausted = batch.exhausted;
        const sealed: Array<{ record: Awaited<ReturnType<RecordService['seal']>>; loaded: Loaded }> = [];
        for (const loaded of batch.loaded) {
          try {
            sealed.push({ record: await this.seal(loaded.id, keyring, loaded.plaintext, options), loaded });
          } catch (err) {
            if (!(err instanceof RekeyError)) throw err;
            fail(loaded.label, err.message);
          } finally {
            loaded.plaintext.fill(0);
          }
        }
        const outcomes = await this.writeBatch(sealed.map((s) => s.record));
        outcomes.forEach((outcome, i) => {
          const { loaded, record } = sealed[i] as (typeof sealed)[number];
          if (outcome === 'ok') {
            totals.imported += 1;
            totals.bytes += loaded.plaintext.length;
          } else if (outcome === 'exists') {
            totals.existing += 1;
            if (existingIds.length < MAX_IMPORT_REPORTED) existingIds.push(record.id);
          } else fail(loaded.label, outcome.reason);
        });
        if (sealed.length > 0) this.metrics.increment('records.written', outcomes.filter((o) => o === 'ok').length);
        options.onBatch?.({ ...totals });
      }
    } finally {
      // A source left before its end is closed, so that it lets go of what it reads (stdin
      // would otherwise keep the process alive after a Ctrl-C).
      if (!exhausted) await iterator.return?.().catch(() => undefined);
    }
    return { ...totals, existingIds, failures, stopped };
  }

  // Reads the next batch: up to `batchSize` items or `batchBytes` of plaintext, `readAhead` reads at once.
  private async loadBatch(
    iterator: AsyncIterator<ImportItem>,
    limits: { batchSize: number; batchBytes: number; readAhead: number },
    fail: (item: string, reason: string) => void,
  ): Promise<{ loaded: Loaded[]; exhausted: boolean }> {
    const loaded: Loaded[] = [];
    const inFlight = new Set<Promise<void>>();
    let bytes = 0;
    let exhausted = false;
    let fatal: { error: unknown } | undefined;
    while (fatal === undefined && loaded.length + inFlight.size < limits.batchSize && bytes < limits.batchBytes) {
      const next = await iterator.next();
      if (next.done === true) {
        exhausted = true;
        break;
      }
      const item = next.value;
      const read = (async (): Promise<void> => {
        try {
          const plaintext = await item.load();
          if (item.id === undefined) throw new ValidationError('the item names no record id');
          loaded.push({ id: item.id, label: item.label, plaintext });
          bytes += plaintext.length;
        } catch (err) {
          if (err instanceof RekeyError) fail(item.label, err.message);
          else fatal = { error: err };
        }
      })();
      inFlight.add(read);
      void read.finally(() => inFlight.delete(read));
      if (inFlight.size >= limits.readAhead) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (fatal !== undefined) {
      for (const l of loaded) l.plaintext.fill(0);
      throw (fatal as { error: unknown }).error;
    }
    return { loaded, exhausted };
  }

  // Writes only-if-absent: one transaction for the batch when the store offers it; a batch the
  // store refuses as a whole (an id too long for it) is retried record by record, so that one
  // bad id fails alone.
  private async writeBatch(records: ReadonlyArray<{ id: string; keyring: string; version: number; envelope: Buffer }>): Promise<Array<'ok' | 'exists' | { reason: string }>> {
    if (records.length === 0) return [];
    const store = this.records;
    if (isBatchRecordStore(store)) {
      try {
        const outcomes = await store.putBatch(records.map((write) => ({ write, expectedRevision: null })));
        return outcomes.map((o) => (o.ok ? 'ok' : 'exists'));
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
      }
    }
    const out: Array<'ok' | 'exists' | { reason: string }> = [];
    for (const record of records) {
      try {
        await store.put(record, null);
        out.push('ok');
      } catch (err) {
        if (err instanceof ConflictError) out.push('exists');
        else if (err instanceof ValidationError) out.push({ reason: err.message });
        else throw err;
      }
    }
    return out;
  }

  /**
   * Lists records in id order with their keyring, version, size and time of last write (no
   * envelope bytes). Throws ValidationError when the store cannot list.
   *
   * @example
   * const { items, cursor } = await service.list({ keyring: 'pii', limit: 100 });
   */
  public async list(filter: RecordListFilter): Promise<RecordListPage> {
    if (!isRecordAdmin(this.records)) throw new ValidationError('this record store cannot list its records');
    return this.records.listRecords(filter);
  }

  /**
   * Reads and decrypts record `id`. Throws NotFoundError when absent, RevokedVersionError when
   * its version is revoked, DecryptError on any authentication failure (including a ciphertext
   * moved from another record id or a wrong context).
   */
  public async get(id: string, options: { context?: CallerContext } = {}): Promise<ReadRecord> {
    validateId(id);
    validateContext(options.context);
    const stored = await this.records.get(id);
    if (stored === undefined) throw new NotFoundError(`record '${id}' does not exist`);
    const decrypted = await this.envelopes.decrypt(stored.envelope, { context: recordContext(id, options.context), purpose: 'read' });
    const base = { plaintext: decrypted.plaintext, keyring: decrypted.keyring, version: decrypted.version };
    const state = await this.versions.versionState(decrypted.keyring, decrypted.version);
    if (state === undefined || !LAZY_STATES.has(state)) return { ...base, revision: stored.revision, rewrap: 'none' };
    return { ...base, ...(await this.writeBack(stored.id, stored.keyring, stored.envelope, stored.revision)) };
  }

  /** Deletes record `id` (conditionally when `expectedRevision` is given). */
  public async delete(id: string, expectedRevision?: string): Promise<void> {
    validateId(id);
    await this.records.delete(id, expectedRevision);
  }

  // The write-back is an optimisation (the sweep migrates whatever reads do not): its failures
  // are counted and never fail the read, and a conflict is never retried over newer data.
  private async writeBack(
    id: string,
    keyring: string,
    envelope: Buffer,
    revision: string,
  ): Promise<{ revision: string; rewrap: ReadRecord['rewrap'] }> {
    try {
      const { version: active } = await this.versions.forEncrypt(keyring);
      const rewrapped = await this.envelopes.rewrap(envelope, { toVersion: active });
      const info = this.envelopes.inspect(rewrapped);
      const next = await this.records.put({ id, keyring, version: info.version, envelope: rewrapped }, revision);
      this.metrics.increment('lazyRewrap.rewrapped');
      await this.countRewrap(keyring, this.envelopes.inspect(envelope).version, info.version);
      return { revision: next, rewrap: 'rewrapped' };
    } catch (err) {
      if (err instanceof ConflictError) {
        this.metrics.increment('lazyRewrap.conflict');
        return { revision, rewrap: 'conflict' };
      }
      if (err instanceof RekeyError) {
        this.metrics.increment('lazyRewrap.failed');
        return { revision, rewrap: 'failed' };
      }
      throw err;
    }
  }
}
