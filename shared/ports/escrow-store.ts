/**
 * EscrowStore: where escrow records live (an S3 bucket with Object Lock on AWS, a folder of
 * read-only files locally). Records are written once and never changed: `put` creates only.
 */
import type { EscrowRecord } from '../escrow/escrow-record';

/** Port to the write-once store of escrow records. */
export interface EscrowStore {
  /** Stores a record only if none exists for (keyring, version); AlreadyExistsError otherwise. */
  put(record: EscrowRecord): Promise<void>;
  /**
   * Reads the record of (keyring, version), or undefined. A stored record that does not parse
   * is a BackendError (not retryable), never a half-read record.
   */
  get(keyring: string, version: number): Promise<EscrowRecord | undefined>;
  /** Versions of a keyring that have a record, ascending. */
  list(keyring: string): Promise<number[]>;
}
