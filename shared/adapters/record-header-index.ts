/**
 * What every record store indexes from an envelope's header, and the one rule they all apply
 * before a write: the keyring and version a caller states must be the ones the header carries.
 * A store that indexed a record under a version other than the one wrapping its data key would
 * hide it from the sweep of that version and from the counts that gate disabling it.
 */
import { parseHeader } from '../envelope/format';
import { ValidationError } from '../errors';

/** The index fields read from a header. */
export interface HeaderIndex {
  /** The version under which the data key was created (1 for bytes that do not parse). */
  readonly originVersion: number;
  /** Length of the header at the start of the bytes (the whole length for bytes that do not parse). */
  readonly headerLength: number;
  /** False for bytes that are not a parsable rekey header (an older format, or not an envelope). */
  readonly parsed: boolean;
}

/**
 * Reads the index fields of `bytes` (an envelope or a header) and checks the caller's claim
 * against them. Bytes that do not parse are indexed with origin 1, the oldest possible: such a
 * record is counted as exposed by every revocation, never silently left out of one.
 *
 * @example
 * const { originVersion, headerLength } = headerIndex(envelope, { keyring: 'pii', version: 3 });
 */
export function headerIndex(bytes: Buffer, claimed: { readonly keyring: string; readonly version: number }): HeaderIndex {
  let header;
  try {
    header = parseHeader(bytes);
  } catch {
    return { originVersion: 1, headerLength: bytes.length, parsed: false };
  }
  if (header.keyring !== claimed.keyring || header.version !== claimed.version) {
    throw new ValidationError('record keyring and version must be the ones its envelope header carries');
  }
  return { originVersion: header.originVersion, headerLength: header.headerLength, parsed: true };
}
