/**
 * What a stored record is, from its bytes alone: a rekey envelope already, an AWS Encryption
 * SDK message, plaintext, or something that starts like one of the two formats and is neither
 * (undecidable: never migrated, as wrapping it could double-wrap a damaged ciphertext).
 */
import { FORMAT_VERSION, parseHeader, SUITE_FRAMED, SUITE_ONE_SHOT } from '../envelope/format';
import { probeEsdkHeader } from './esdk-header';

/** The kinds of record a migration tells apart. */
export type RecordKind = 'rekey' | 'esdk' | 'plaintext' | 'undecidable';

/**
 * True when the first bytes could start a rekey envelope (format byte, suite byte, flags):
 * such a record is never taken for plaintext.
 */
function looksLikeRekey(bytes: Buffer): boolean {
  if (bytes.length < 3 || bytes[0] !== FORMAT_VERSION) return false;
  if (bytes[1] !== SUITE_ONE_SHOT && bytes[1] !== SUITE_FRAMED) return false;
  const flags = bytes[2] as number;
  return (flags & ~3) === 0;
}

function isRekeyEnvelope(bytes: Buffer): boolean {
  try {
    return bytes.length > parseHeader(bytes).headerLength;
  } catch {
    return false;
  }
}

/**
 * Classifies a record's bytes. A rekey envelope of any keyring is `rekey`; bytes that start
 * like a rekey envelope or an ESDK message but do not parse as one are `undecidable`.
 *
 * @example
 * classifyRecord(Buffer.from('{"card":"4111"}')); // 'plaintext'
 * classifyRecord(await rekey.encrypt('pii', data)); // 'rekey'
 */
export function classifyRecord(bytes: Buffer): RecordKind {
  if (looksLikeRekey(bytes)) return isRekeyEnvelope(bytes) ? 'rekey' : 'undecidable';
  const esdk = probeEsdkHeader(bytes);
  if (esdk.kind === 'esdk') return 'esdk';
  if (esdk.kind === 'malformed') return 'undecidable';
  return 'plaintext';
}
