/**
 * The ports of a migration: where the records are (read raw, write back conditionally), what
 * decrypts another tool's messages, and the envelope operations that seal and verify.
 */
import type { CallerContext, Decrypted, EnvelopeInfo } from '../envelope/api';

/** A record as stored, whatever it holds. */
export interface RawRecord {
  readonly id: string;
  /** The stored bytes (plaintext, another tool's message or a rekey envelope). */
  readonly bytes: Buffer;
  /** Opaque revision (row revision, S3 ETag) the replacing write is conditional on. */
  readonly revision: string;
  /**
   * What else the store keeps with the record and carries over to the migrated one (an S3
   * object's user metadata and content type): opaque to the migration, never data.
   */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** A page of record ids, with the cursor of the next page (undefined at the end). */
export interface RawRecordPage {
  readonly ids: readonly string[];
  readonly cursor?: string;
}

/** The migrated record written in place of a raw one. */
export interface MigratedWrite {
  readonly keyring: string;
  /** The key version the envelope's header names. */
  readonly version: number;
  readonly envelope: Buffer;
}

/**
 * Port to a store whose records a migration rewrites in place. `replace` must be conditional:
 * it writes only if the record's revision is still the revision `read` carries, else
 * ConflictError (a record deleted meanwhile is a ConflictError too).
 */
export interface MigrationStore {
  /** Names the store in the migration id and the report (no secret in it), e.g. `s3://bucket/prefix/`. */
  readonly label: string;
  /** Lists record ids in a stable order, `limit` at a time, from `cursor`. */
  list(options: { cursor?: string; limit: number }): Promise<RawRecordPage>;
  /** Reads a record's bytes and revision, or undefined when it is gone. */
  read(id: string): Promise<RawRecord | undefined>;
  /**
   * Writes the migrated record in place of `read` if its revision still matches; returns the new
   * revision. `read.bytes` may have been zeroed by then (it is not to be used).
   */
  replace(read: RawRecord, write: MigratedWrite): Promise<string>;
}

/** What a source decryptor gives back: the plaintext and the message's encryption context. */
export interface SourceDecrypted {
  readonly plaintext: Buffer;
  readonly context: Readonly<Record<string, string>>;
}

/**
 * Decrypts another tool's messages (an AWS Encryption SDK adapter). Every failure is a
 * RekeyError with no message data in it: DecryptError for a message it cannot open,
 * ContextMismatchError when a required encryption context is not the message's.
 */
export interface SourceDecryptor {
  decrypt(message: Buffer): Promise<SourceDecrypted>;
}

/**
 * The envelope operations a migration uses: the application client (`RekeyClient`) and
 * `EnvelopeClient` both fit.
 */
export interface MigrationEnvelopes {
  encrypt(keyring: string, plaintext: Buffer, options?: { context?: CallerContext; storeContext?: boolean }): Promise<Buffer>;
  decrypt(envelope: Buffer, options?: { context?: CallerContext }): Promise<Decrypted>;
  inspect(envelope: Buffer): EnvelopeInfo;
}
