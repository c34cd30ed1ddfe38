/**
 * The escrow record: everything needed to restore one version key from escrow alone, with no
 * catalog and no access to the key that wraps version keys in production. Serialized as JSON;
 * parsed back only through {@link parseEscrowRecord}, which refuses anything malformed.
 */
import * as z from '../vocabulary/zod';
import { BackendError, ValidationError } from '../errors';
import { keyringName, versionNumber } from '../vocabulary/names';

/** One version key in escrow. Holds only wrapped key material, never a plaintext key. */
export interface EscrowRecord {
  readonly schema: 1;
  readonly keyring: string;
  readonly version: number;
  /** The version key wrapped by the escrow vault under `{ keyring, version, purpose: 'escrow' }` (base64). */
  readonly wrappedKey: string;
  /** Which escrow vault key wrapped it (a KMS key ARN, or the local vault's kind). */
  readonly escrowKeyId: string;
  /**
   * Optional offline copy: the version key encrypted with RSA-OAEP-SHA256 under an operator's
   * public key, OAEP label `rekey-escrow:<keyring>:<version>` (base64).
   */
  readonly rsaWrapped?: string;
  /** SHA-256 of the DER (SPKI) of the RSA public key used for `rsaWrapped` (hex). */
  readonly rsaKeyFingerprint?: string;
  /** An envelope of the fixed canary text, encrypted with the version key (base64). */
  readonly canary: string;
  /**
   * Key check value of the version key (./key-check-value.ts, hex), recorded at archive time:
   * the drill proves the escrowed copy against it without the key vault. Absent from records
   * archived before it existed; the drill checks those by their canary (`check: 'canary'`).
   */
  readonly kcv?: string;
  readonly createdAt: string;
  /** The catalog's wrappingKeyId of this version when it was escrowed. */
  readonly wrappingKeyId: string;
}

// A @__PURE__ z.lazy (see ../vocabulary/names.ts): built on first use, not when a bundle loads.
const recordSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    schema: z.literal(1),
    keyring: keyringName,
    version: versionNumber,
    wrappedKey: z.base64().check(z.minLength(1), z.maxLength(8192)),
    escrowKeyId: z.string().check(z.minLength(1), z.maxLength(2048)),
    rsaWrapped: z.optional(z.base64().check(z.minLength(1), z.maxLength(8192))),
    rsaKeyFingerprint: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/))),
    canary: z.base64().check(z.minLength(1), z.maxLength(65536)),
    kcv: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/))),
    createdAt: z.iso.datetime({ offset: true }),
    wrappingKeyId: z.string().check(z.minLength(1), z.maxLength(2048)),
  }),
);

/** Largest serialized record accepted when reading one back. */
export const MAX_ESCROW_RECORD_BYTES = 128 * 1024;

/**
 * The canary text of a version: fixed and not secret, so that decrypting the canary proves the
 * restored key is the one that encrypted it, without storing anything sensitive.
 */
export function canaryText(keyring: string, version: number): string {
  return `rekey-escrow-canary:${keyring}:${version}`;
}

/** Serializes a record after checking it (ValidationError on a bad record: nothing is written). */
export function serializeEscrowRecord(record: EscrowRecord): Buffer {
  const parsed = recordSchema.safeParse(record);
  if (!parsed.success) throw new ValidationError(`invalid escrow record: ${parsed.error.issues[0]?.path.join('.') ?? ''}`);
  return Buffer.from(JSON.stringify(parsed.data));
}

/**
 * Parses stored bytes as the record of (keyring, version). Anything else (not JSON, wrong
 * shape, another keyring or version, too large) is a BackendError that is not retryable.
 *
 * @example
 * const record = parseEscrowRecord(bytes, 'payments', 3);
 */
export function parseEscrowRecord(bytes: Buffer | string, keyring: string, version: number): EscrowRecord {
  const corrupt = (why: string): BackendError =>
    new BackendError(`escrow record of keyring '${keyring}' version ${version} is corrupt: ${why}`, { retryable: false });
  if (bytes.length > MAX_ESCROW_RECORD_BYTES) throw corrupt('too large');
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    throw corrupt('not JSON');
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) throw corrupt(`field ${parsed.error.issues[0]?.path.join('.') || '(root)'}`);
  if (parsed.data.keyring !== keyring || parsed.data.version !== version) throw corrupt('it names another keyring or version');
  return parsed.data as EscrowRecord;
}
