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
  /**
   * The version under which the record's data key was created (the envelope header's origin
   * version, authenticated there): a header-only re-wrap keeps it, a re-encryption advances it.
   * Every version from the origin on may have wrapped this data key.
   */
  readonly originVersion: number;
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
  /** See {@link StoredRecord.originVersion}. */
  readonly originVersion: number;
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
   * Writes a record; the store indexes the envelope header's origin version itself (the
   * caller cannot misstate it). With `expectedRevision` the write happens only if the stored revision still
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
  /**
   * Lists the records of a keyring whose data key was created at or before `atMost` (origin
   * version <= atMost), whatever their current version, in a stable order: what revoking
   * `atMost` must re-encrypt, since a header-only re-wrap kept each of those data keys.
   */
  scanByOrigin(keyring: string, atMost: number, options: { cursor?: string; limit: number }): Promise<RecordPage>;
  /** Number of records per origin version of a keyring (the exposure of version v is the sum over origins <= v). */
  countByOrigin(keyring: string): Promise<Map<number, number>>;
}

/**
 * Records whose data key `version` may have wrapped (origin <= version), from a count by
 * origin.
 *
 * @example
 * exposedBy(await store.countByOrigin('pii'), 2); // records created under v1 or v2, wherever they are now
 */
export function exposedBy(countsByOrigin: ReadonlyMap<number, number>, version: number): number {
  let n = 0;
  for (const [origin, count] of countsByOrigin) if (origin <= version) n += count;
  return n;
}

/** Why an old copy of a record under a revoked key is still there. */
export type RemainingCopyReason =
  /** The store is not allowed to delete old versions (configuration). */
  | 'not-configured'
  /** The store's role may not list, read or delete old versions. */
  | 'access-denied'
  /** The current record is not re-encrypted yet; its old versions are kept until it is. */
  | 'current-not-reencrypted'
  /** The record was deleted (a delete marker is current); its old versions are left to the operator. */
  | 'record-deleted'
  /** The old version's origin could not be read. */
  | 'unreadable';

/** One old copy (an S3 noncurrent object version) still holding a data key the revoked version wrapped. */
export interface RemainingCopy {
  readonly id: string;
  /** The store's id of the copy (an S3 VersionId). */
  readonly copyId: string;
  readonly reason: RemainingCopyReason;
}

/** What a purge of old copies did. */
export interface CopyPurgeReport {
  /** Old copies deleted by this run. */
  readonly deleted: number;
  /** Old copies still there, at most {@link MAX_REPORTED_COPIES} listed. */
  readonly remaining: readonly RemainingCopy[];
  /** Exact number of old copies still there. */
  readonly remainingCount: number;
}

/** Most remaining copies listed in a report (the count is always exact). */
export const MAX_REPORTED_COPIES = 1000;

/**
 * Optional capability of a RecordStore that keeps old copies of a record (a versioned S3
 * bucket keeps noncurrent object versions): deletes the copies whose data key was created at or
 * before `version` once the current record has been re-encrypted past it, and reports exactly
 * which copies remain.
 */
export interface CopyKeepingRecordStore extends RecordStore {
  purgeExposedCopies(keyring: string, version: number): Promise<CopyPurgeReport>;
}

/** True when `store` offers {@link CopyKeepingRecordStore.purgeExposedCopies}. */
export function isCopyKeepingRecordStore(store: RecordStore): store is CopyKeepingRecordStore {
  return typeof (store as Partial<CopyKeepingRecordStore>).purgeExposedCopies === 'function';
}

/** A record's header without its payload: what a header-only re-wrap reads. */
export interface StoredHeader {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly originVersion: number;
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
 * Optional capabilities of a RecordStore that can read and replace an envelope's header without
 * its body, and write many records conditionally in one call. Sweeps use them when present: a
 * header-only re-wrap then never decrypts the payload and, where the store keeps the header
 * apart (SQLite, PostgreSQL, DynamoDB attributes, S3 objects above the multipart threshold),
 * never moves it either.
 *
 * Each write of a batch is conditional on its own revision and succeeds or conflicts on its
 * own. A store with transactions commits the batch at once (SQLite, PostgreSQL: one commit
 * instead of one per record); a store without them (S3, DynamoDB) issues one conditional write
 * per item, so a crash midway leaves some written and some not, which a retry of the batch
 * resolves (the written ones then conflict or are skipped, never applied twice). A batch call
 * that throws means nothing about which writes happened.
 */
export interface BatchRecordStore extends RecordStore {
  /** Reads a record's header and revision without its body, or undefined. */
  getHeader(id: string): Promise<StoredHeader | undefined>;
  /**
   * Replaces the header of each record, keeping its body, if its revision still matches; each
   * write succeeding or conflicting on its own (see the interface for atomicity). A store may
   * keep the revision across a header-only write when the body is unchanged (S3's metadata
   * layout: the ETag is the body's), so two header writes read at one revision may both land, the
   * later winning; every write that changes the body still changes the revision.
   */
  putHeaders(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; header: Buffer }>[]): Promise<BatchWriteOutcome[]>;
  /** Writes whole envelopes conditionally, each succeeding or conflicting on its own (see the interface for atomicity). */
  putBatch(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; envelope: Buffer }>[]): Promise<BatchWriteOutcome[]>;
}

/** True when `store` offers the {@link BatchRecordStore} capabilities. */
export function isBatchRecordStore(store: RecordStore): store is BatchRecordStore {
  const s = store as Partial<BatchRecordStore>;
  return typeof s.getHeader === 'function' && typeof s.putHeaders === 'function' && typeof s.putBatch === 'function';
}
