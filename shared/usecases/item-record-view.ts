/**
 * A RecordStore view of exactly one record, over the real store. A Distributed Map batch or an
 * S3 Batch Operations task has already listed the objects, so the worker must migrate those
 * and nothing else: the Sweeper runs over this view (its scan finds only this record) and
 * keeps its verification and conditional-write logic, while the view observes the outcome of
 * the write for the per-item result.
 *
 * Two shapes, by what the item read first: {@link ItemRecordView} serves a whole record (the
 * Sweeper then re-wraps or re-encrypts the envelope and `put`s it), {@link HeaderItemRecordView}
 * serves a header read without the body (the Sweeper then takes its header-only path,
 * `getHeader` → re-wrap → `putHeaders`, and the body is never downloaded whole or decrypted).
 */
import { ConflictError, ValidationError } from '../errors';
import { inspectEnvelope } from '../envelope';
import { parseHeader } from '../envelope/format';
import type {
  BatchRecordStore,
  BatchWriteOutcome,
  ConditionalWrite,
  RecordPage,
  RecordStore,
  StoredHeader,
  StoredRecord,
} from '../ports/record-store';

/** What the view indexes its record under right now. */
interface Current {
  keyring: string;
  version: number;
  originVersion: number;
  revision: string;
}

/**
 * One record, as read at the start of the item, exposed through the RecordStore port.
 *
 * @example
 * const view = new ItemRecordView(store, record);
 * await new Sweeper({ records: view, envelopes, versions }).sweep(record.keyring, record.version, opts);
 * view.written; // true when the migrated envelope was stored
 */
export class ItemRecordView implements RecordStore {
  protected current: Current;

  /** Where the record is now as this view knows it: after a write, what was written (its version and origin). */
  public get now(): { readonly version: number; readonly originVersion: number } {
    return { version: this.current.version, originVersion: this.current.originVersion };
  }
  protected readonly id: string;
  private served = false;
  /** True once a migrated envelope (or header) was written. */
  public written = false;
  /** True when the conditional write lost to a concurrent writer. */
  public conflicted = false;

  /** `first` is the record the item already read; `undefined` only for a subclass that serves something else first. */
  public constructor(private readonly inner: RecordStore, private readonly record: StoredRecord | undefined, first?: StoredHeader) {
    const seen = record ?? first;
    if (seen === undefined) throw new ValidationError('the item view needs the record or header the item read');
    this.id = seen.id;
    this.current = { keyring: seen.keyring, version: seen.version, originVersion: seen.originVersion, revision: seen.revision };
  }

  public async get(id: string): Promise<StoredRecord | undefined> {
    if (id !== this.id) return undefined;
    // The first read is the one the item already made; later reads see the store's truth.
    if (!this.served && this.record !== undefined) {
      this.served = true;
      return this.record;
    }
    return this.inner.get(id);
  }

  public async put(record: { id: string; keyring: string; version: number; envelope: Buffer }, expectedRevision?: string | null): Promise<string> {
    if (record.id !== this.id || expectedRevision === undefined || expectedRevision === null) {
      throw new ValidationError('the item view writes only its own record, conditionally');
    }
    try {
      const revision = await this.inner.put(record, expectedRevision);
      this.wrote({ keyring: record.keyring, version: record.version, originVersion: originOf(record.envelope, this.current.originVersion), revision });
      return revision;
    } catch (err) {
      if (err instanceof ConflictError) this.conflicted = true;
      throw err;
    }
  }

  public async delete(): Promise<void> {
    throw new ValidationError('the item view never deletes');
  }

  public async scanByVersion(keyring: string, version: number): Promise<RecordPage> {
    const c = this.current;
    if (this.written || c.keyring !== keyring || c.version !== version) return { items: [] };
    return { items: [{ id: this.id, ...c }] };
  }

  public async scanByOrigin(keyring: string, atMost: number): Promise<RecordPage> {
    const c = this.current;
    if (this.written || c.keyring !== keyring || c.originVersion > atMost) return { items: [] };
    return { items: [{ id: this.id, ...c }] };
  }

  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    const c = this.current;
    return c.keyring === keyring ? new Map([[c.version, 1]]) : new Map();
  }

  public async countByOrigin(keyring: string): Promise<Map<number, number>> {
    const c = this.current;
    return c.keyring === keyring ? new Map([[c.originVersion, 1]]) : new Map();
  }

  /** Records a successful write: the counts after it follow what was written. */
  protected wrote(next: Current): void {
    this.written = true;
    this.current = next;
  }
}

/**
 * One record known by its header alone (read with `getHeader`, body untouched), over a
 * {@link BatchRecordStore}: the view is one too, so the Sweeper re-wraps the header and writes
 * it back with `putHeaders`. The header the item read is served once; later reads go to the
 * store. `written` and `conflicted` follow the outcomes of `putHeaders` and `putBatch`.
 *
 * @example
 * const head = await store.getHeader(id);
 * const view = new HeaderItemRecordView(store, head!);
 * await new Sweeper({ records: view, envelopes, versions }).sweep(head!.keyring, head!.version, { mode: 'rewrap', ...opts });
 * view.written; // true when the re-wrapped header was stored
 */
export class HeaderItemRecordView extends ItemRecordView implements BatchRecordStore {
  private headerServed = false;

  public constructor(private readonly batchInner: BatchRecordStore, private readonly header: StoredHeader) {
    super(batchInner, undefined, header);
  }

  public async getHeader(id: string): Promise<StoredHeader | undefined> {
    if (id !== this.id) return undefined;
    if (!this.headerServed) {
      this.headerServed = true;
      return this.header;
    }
    return this.batchInner.getHeader(id);
  }

  public async putHeaders(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; header: Buffer }>[]): Promise<BatchWriteOutcome[]> {
    this.ownWrites(writes);
    const outcomes = await this.batchInner.putHeaders(writes);
    writes.forEach((w, i) => this.observe(outcomes[i], w.write.keyring, w.write.version, originOf(w.write.header, this.current.originVersion)));
    return outcomes;
  }

  public async putBatch(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; envelope: Buffer }>[]): Promise<BatchWriteOutcome[]> {
    this.ownWrites(writes);
    const outcomes = await this.batchInner.putBatch(writes);
    writes.forEach((w, i) => this.observe(outcomes[i], w.write.keyring, w.write.version, originOf(w.write.envelope, this.current.originVersion)));
    return outcomes;
  }

  private ownWrites(writes: readonly ConditionalWrite<{ id: string }>[]): void {
    if (writes.some((w) => w.write.id !== this.id || w.expectedRevision === null)) {
      throw new ValidationError('the item view writes only its own record, conditionally');
    }
  }

  private observe(outcome: BatchWriteOutcome | undefined, keyring: string, version: number, originVersion: number): void {
    if (outcome?.ok === true) this.wrote({ keyring, version, originVersion, revision: outcome.revision });
    else if (outcome !== undefined) this.conflicted = true;
  }
}

// The origin of what was just written (an envelope or a lone header), for the counts after the
// write; the previous one when the bytes do not parse (the write went through the store, which
// has its own rule).
function originOf(bytes: Buffer, fallback: number): number {
  try {
    return inspectEnvelope(bytes).originVersion;
  } catch {
    try {
      return parseHeader(bytes).originVersion;
    } catch {
      return fallback;
    }
  }
}
