/**
 * RecordStore: the application data that rekey keeps encrypted: each record is one envelope
 * with its keyring and key version indexed, so that a sweep can find every record of a version
 * without reading payloads, and every write can be made conditional on what was read.
 */

/** One stored record. */
export interface StoredRecord {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  /** The envelope bytes. */
  readonly envelope: Buffer;
  /** Opaque revision (row revision, S3 ETag) used by conditional writes. */
  readonly revision: string;
}

/** Header-only view of a record, enough for scanning and statistics. */
export interface RecordRef {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly revision: string;
}

/** A page of a scan, with the cursor for the next page (undefined at the end). */
export interface RecordPage {
  readonly items: readonly RecordRef[];
  readonly cursor?: string;
}

/** Port to the store of application records. */
export interface RecordStore {
  /** Reads a record or returns undefined. */
  get(id: string): Promise<StoredRecord | undefined>;
  /**
   * Writes a record. With `expectedRevision` the write happens only if the stored revision still
   * equals it (`null`: only if absent); otherwise ConflictError. Returns the new revision.
   */
  put(
    record: { id: string; keyring: string; version: number; envelope: Buffer },
    expectedRevision?: string | null,
  ): Promise<string>;
  /** Deletes a record (conditional like put). */
  delete(id: string, expectedRevision?: string): Promise<void>;
  /** Lists records of one keyring version in a stable order, `limit` at a time, from `cursor`. */
  scanByVersion(keyring: string, version: number, options: { cursor?: string; limit: number }): Promise<RecordPage>;
  /** Number of records per version of a keyring. */
  countByVersion(keyring: string): Promise<Map<number, number>>;
}

/** A record's header without its payload: what a header-only re-wrap reads. */
export interface StoredHeader {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  /** The envelope's header bytes (the envelope is `header || body`). */
  readonly header: Buffer;
  readonly revision: string;
}

/** One write of a conditional batch. */
export interface ConditionalWrite<T> {
  readonly write: T;
  /** The revision the writer read (`null`: only if absent). */
  readonly expectedRevision: string | null;
}

/** Outcome of one write of a batch: its new revision, or `conflict` (nothing written for it). */
export type BatchWriteOutcome = { readonly ok: true; readonly revision: string } | { readonly ok: false; readonly reason: 'conflict' };

/**
 * Optional capabilities of a RecordStore that keeps an envelope's header apart from its body
 * and can commit many conditional writes at once (the local SQLite store does; an object store
 * cannot). Sweeps use them when present: a header-only re-wrap then never reads or writes the
 * payload, and a batch costs one commit instead of one per record.
 */
export interface BatchRecordStore extends RecordStore {
  /** Reads a record's header and revision without its body, or undefined. */
  getHeader(id: string): Promise<StoredHeader | undefined>;
  /**
   * Replaces the header of each record, keeping its body, if its revision still matches;
   * all in one atomic commit, each write succeeding or conflicting on its own.
   */
  putHeaders(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; header: Buffer }>[]): Promise<BatchWriteOutcome[]>;
  /** Writes whole envelopes conditionally, in one atomic commit, each succeeding or conflicting on its own. */
  putBatch(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; envelope: Buffer }>[]): Promise<BatchWriteOutcome[]>;
}

/** True when `store` offers the {@link BatchRecordStore} capabilities. */
export function isBatchRecordStore(store: RecordStore): store is BatchRecordStore {
  const s = store as Partial<BatchRecordStore>;
  return typeof s.getHeader === 'function' && typeof s.putHeaders === 'function' && typeof s.putBatch === 'function';
}
