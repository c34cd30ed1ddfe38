/**
 * RecordAdmin: the operator's view of a record store (list what is there, page by page), kept
 * apart from {@link RecordStore} because an application never needs it and not every backend
 * can list cheaply.
 */
import type { RecordStore } from './record-store';

/** Which records a listing returns. */
export interface RecordListFilter {
  /** Only records of this keyring. */
  readonly keyring?: string;
  /** Only records under this key version (with or without a keyring). */
  readonly version?: number;
  /** Most records returned, 1 .. 100000. */
  readonly limit: number;
  /** Resume after this cursor (from a previous page). */
  readonly cursor?: string;
}

/** One listed record: identifiers and sizes only, never a byte of the envelope. */
export interface RecordListing {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  /** Envelope size in bytes (header and body). */
  readonly size: number;
  /** When the record was last written, or undefined for rows written before the store kept it. */
  readonly updatedAt?: Date;
}

/** A page of a listing, with the cursor for the next page (undefined at the end). */
export interface RecordListPage {
  readonly items: readonly RecordListing[];
  readonly cursor?: string;
}

/** Optional capability of a RecordStore that can list its records in id order. */
export interface RecordAdmin extends RecordStore {
  listRecords(filter: RecordListFilter): Promise<RecordListPage>;
}

/** True when `store` offers {@link RecordAdmin.listRecords}. */
export function isRecordAdmin(store: RecordStore): store is RecordAdmin {
  return typeof (store as Partial<RecordAdmin>).listRecords === 'function';
}
