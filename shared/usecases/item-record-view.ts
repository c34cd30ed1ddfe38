/**
 * A RecordStore view of exactly one record, over the real store. A Distributed Map batch or an
 * S3 Batch Operations task has already listed the objects, so the worker must migrate those
 * and nothing else: the Sweeper runs over this view (its scan finds only this record) and
 * keeps its verification and conditional-write logic, while the view observes the outcome of
 * the write for the per-item result.
 */
import { ConflictError, ValidationError } from '../errors';
import { inspectEnvelope } from '../envelope';
import type { RecordPage, RecordStore, StoredRecord } from '../ports/record-store';

/**
 * One record, as read at the start of the item, exposed through the RecordStore port.
 *
 * @example
 * const view = new ItemRecordView(store, record);
 * await new Sweeper({ records: view, envelopes, versions }).sweep(record.keyring, record.version, opts);
 * view.written; // true when the migrated envelope was stored
 */
export class ItemRecordView implements RecordStore {
  private current: { keyring: string; version: number; originVersion: number; revision: string };
  private served = false;
  /** True once a migrated envelope was written. */
  public written = false;
  /** True when the conditional write lost to a concurrent writer. */
  public conflicted = false;

  public constructor(private readonly inner: RecordStore, private readonly record: StoredRecord) {
    this.current = { keyring: record.keyring, version: record.version, originVersion: record.originVersion, revision: record.revision };
  }

  public async get(id: string): Promise<StoredRecord | undefined> {
    if (id !== this.record.id) return undefined;
    // The first read is the one the item already made; later reads see the store's truth.
    if (!this.served) {
      this.served = true;
      return this.record;
    }
    return this.inner.get(id);
  }

  public async put(record: { id: string; keyring: string; version: number; envelope: Buffer }, expectedRevision?: string | null): Promise<string> {
    if (record.id !== this.record.id || expectedRevision === undefined || expectedRevision === null) {
      throw new ValidationError('the item view writes only its own record, conditionally');
    }
    try {
      const revision = await this.inner.put(record, expectedRevision);
      this.written = true;
      this.current = { keyring: record.keyring, version: record.version, originVersion: originOf(record.envelope, this.current.originVersion), revision };
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
    return { items: [{ id: this.record.id, ...c }] };
  }

  public async scanByOrigin(keyring: string, atMost: number): Promise<RecordPage> {
    const c = this.current;
    if (this.written || c.keyring !== keyring || c.originVersion > atMost) return { items: [] };
    return { items: [{ id: this.record.id, ...c }] };
  }

  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    const c = this.current;
    return c.keyring === keyring ? new Map([[c.version, 1]]) : new Map();
  }

  public async countByOrigin(keyring: string): Promise<Map<number, number>> {
    const c = this.current;
    return c.keyring === keyring ? new Map([[c.originVersion, 1]]) : new Map();
  }
}

// The origin of what was just written, for the counts after the write; the previous one when
// the bytes do not parse (the write went through the store, which has its own rule).
function originOf(envelope: Buffer, fallback: number): number {
  try {
    return inspectEnvelope(envelope).originVersion;
  } catch {
    return fallback;
  }
}
