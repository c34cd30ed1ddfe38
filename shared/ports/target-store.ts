/**
 * TargetStore: one record target (a bucket and prefix holding one keyring's records) with the
 * RecordStore over it. On AWS there is one per configured target; locally the SQLite record
 * store is the one target of every keyring.
 */
import type { RecordStore } from './record-store';

/** Where a keyring's records live (the configuration's RecordTarget has this shape). */
export interface RecordTargetRef {
  readonly keyring: string;
  readonly bucket: string;
  readonly prefix: string;
}

/** One record target and its store. */
export interface TargetStore {
  readonly target: RecordTargetRef;
  readonly store: RecordStore;
}
