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
