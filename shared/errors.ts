/**
 * The one error hierarchy of rekey. Every error a caller can see is a {@link RekeyError};
 * handlers and the CLI map them by `code`. No message ever carries plaintext, key material
 * or a secret-derived value.
 */

/** Stable machine-readable error codes. */
export type RekeyErrorCode =
  | 'DECRYPT_FAILED'
  | 'VALIDATION'
  | 'LIMIT_EXCEEDED'
  | 'UNKNOWN_KEYRING'
  | 'UNKNOWN_VERSION'
  | 'VERSION_REVOKED'
  | 'VERSION_UNAVAILABLE'
  | 'CONTEXT_REQUIRED'
  | 'CONTEXT_MISMATCH'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'ILLEGAL_TRANSITION'
  | 'FROZEN'
  | 'KEY_UNAVAILABLE'
  | 'THROTTLED'
  | 'ACCESS_DENIED'
  | 'BACKEND'
  | 'PARTIAL';

/** Base class of every rekey error. */
export class RekeyError extends Error {
  /** Stable code, for mapping to exit codes, HTTP-like statuses and metrics. */
  public readonly code: RekeyErrorCode;
  /** True when retrying the same call later may succeed. */
  public readonly retryable: boolean;

  public constructor(code: RekeyErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    // The class name is part of the wire contract (responses, logs, Step Functions retriers
    // match it) and minifiers rename classes: every class declares its wire name once, as a
    // field (this covers the base class). Not esbuild keepNames: it costs ~6% of every bundle
    // and would tie the contract to the bundler of whoever consumes the package.
    // test/unit/errors.test.ts checks every name in a minified bundle without keepNames.
    this.name = 'RekeyError';
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

/**
 * Every authentication or parse failure of a ciphertext: one class, one message, whatever
 * went wrong (bad magic, truncation, bit flip, wrong key, limit exceeded while parsing), so
 * that a caller cannot use rekey as an oracle.
 */
export class DecryptError extends RekeyError {
  public override readonly name: string = 'DecryptError';
  /** The only message a DecryptError ever has. */
  public static readonly MESSAGE = 'unable to decrypt: the envelope is malformed, tampered with, or not for this key';
  public constructor(options?: { cause?: unknown }) {
    // The cause is kept for in-process debugging only; it is never serialized by rekey.
    super('DECRYPT_FAILED', DecryptError.MESSAGE, options);
  }
}

/** Bad input from a caller (CLI argument, event, option): nothing was changed. */
export class ValidationError extends RekeyError {
  public override readonly name: string = 'ValidationError';
  public constructor(message: string, options?: { cause?: unknown }) {
    super('VALIDATION', message, options);
  }
}

/** An input to encrypt exceeds a documented hard limit (context size, keyring name, frame size). */
export class LimitExceededError extends RekeyError {
  public override readonly name: string = 'LimitExceededError';
  public constructor(message: string) {
    super('LIMIT_EXCEEDED', message);
  }
}

/** The keyring does not exist in the catalog. */
export class UnknownKeyringError extends RekeyError {
  public override readonly name: string = 'UnknownKeyringError';
  public constructor(public readonly keyring: string) {
    super('UNKNOWN_KEYRING', `unknown keyring '${keyring}'`);
  }
}

/** The keyring exists but has no such version (even after one catalog refresh). */
export class UnknownVersionError extends RekeyError {
  public override readonly name: string = 'UnknownVersionError';
  public constructor(public readonly keyring: string, public readonly version: number) {
    super('UNKNOWN_VERSION', `keyring '${keyring}' has no version ${version}`);
  }
}

/** The version was revoked in an emergency; only the re-encryption worker may still read it. */
export class RevokedVersionError extends RekeyError {
  public override readonly name: string = 'RevokedVersionError';
  public constructor(public readonly keyring: string, public readonly version: number) {
    super('VERSION_REVOKED', `version ${version} of keyring '${keyring}' is revoked`);
  }
}

/** The version exists but can no longer decrypt (disabled or destroyed). */
export class VersionUnavailableError extends RekeyError {
  public override readonly name: string = 'VersionUnavailableError';
  public constructor(public readonly keyring: string, public readonly version: number, public readonly state: string) {
    super('VERSION_UNAVAILABLE', `version ${version} of keyring '${keyring}' is ${state}`);
  }
}

/** The envelope is bound to a caller context and none was supplied. */
export class ContextRequiredError extends RekeyError {
  public override readonly name: string = 'ContextRequiredError';
  public constructor() {
    super('CONTEXT_REQUIRED', 'this envelope is bound to a caller context; supply the same context to decrypt');
  }
}

/** The envelope stores its context in clear and the supplied one differs (names no values). */
export class ContextMismatchError extends RekeyError {
  public override readonly name: string = 'ContextMismatchError';
  public constructor() {
    super('CONTEXT_MISMATCH', 'the supplied context does not match the context stored in the envelope');
  }
}

/** A compare-and-swap or conditional write lost a race; re-read and retry. */
export class ConflictError extends RekeyError {
  public override readonly name: string = 'ConflictError';
  public constructor(message: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, { ...options, retryable: true });
  }
}

/** A named object (record, catalog, escrow entry) does not exist. */
export class NotFoundError extends RekeyError {
  public override readonly name: string = 'NotFoundError';
  public constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** Creating something that already exists (keyring, record with if-absent). */
export class AlreadyExistsError extends RekeyError {
  public override readonly name: string = 'AlreadyExistsError';
  public constructor(message: string) {
    super('ALREADY_EXISTS', message);
  }
}

/** A lifecycle transition that the state machine does not allow. */
export class IllegalTransitionError extends RekeyError {
  public override readonly name: string = 'IllegalTransitionError';
  public constructor(message: string) {
    super('ILLEGAL_TRANSITION', message);
  }
}

/** Automatic transitions are paused (freeze or circuit breaker); revocation is never refused with this. */
export class FrozenError extends RekeyError {
  public override readonly name: string = 'FrozenError';
  public constructor(message: string) {
    super('FROZEN', message);
  }
}

/** The key protecting version keys is disabled, pending deletion or otherwise unusable. */
export class KeyUnavailableError extends RekeyError {
  public override readonly name: string = 'KeyUnavailableError';
  public constructor(message: string, options?: { cause?: unknown }) {
    super('KEY_UNAVAILABLE', message, options);
  }
}

/** The backend throttled us after the SDK's own retries. */
export class ThrottledError extends RekeyError {
  public override readonly name: string = 'ThrottledError';
  public constructor(message: string, options?: { cause?: unknown }) {
    super('THROTTLED', message, { ...options, retryable: true });
  }
}

/** The backend refused the call for lack of permission. */
export class AccessDeniedError extends RekeyError {
  public override readonly name: string = 'AccessDeniedError';
  public constructor(message: string, options?: { cause?: unknown }) {
    super('ACCESS_DENIED', message, options);
  }
}

/** Any other backend failure (I/O, network, unexpected response). */
export class BackendError extends RekeyError {
  public override readonly name: string = 'BackendError';
  public constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super('BACKEND', message, { retryable: true, ...options });
  }
}

/**
 * What a store holds under a record key is not a rekey record (no rekey index metadata, bytes no
 * envelope header starts with): not retryable, and for counts and censuses no record at all, as
 * a listing count treats it. A BackendError, so every caller that handles those handles it.
 */
export class NotARecordError extends BackendError {
  public override readonly name: string = 'NotARecordError';
  public constructor(message: string) {
    super(message, { retryable: false });
  }
}

/**
 * Some of the work was done and some failed (a sweep with failed records, a tick with a keyring
 * that could not be reconciled): the command reports what it did, and scripts see a distinct
 * exit code, not "bad input".
 */
export class PartialFailureError extends RekeyError {
  public override readonly name: string = 'PartialFailureError';
  public constructor(message: string) {
    super('PARTIAL', message);
  }
}

/** Narrows an unknown thrown value to a RekeyError. */
export function isRekeyError(err: unknown): err is RekeyError {
  return err instanceof RekeyError;
}

/** What a response or a log line says about a failure: a code, a safe message, retryable or not. */
export interface ErrorSummary {
  readonly code: RekeyErrorCode;
  readonly message: string;
  readonly retryable: boolean;
}

/**
 * The one summary of a failure for responses and logs. A RekeyError speaks for itself; anything
 * else is what a handler turns it into, a retryable `BACKEND` failure, and its message names only
 * the error's class (an unknown error's message may carry internals, so it is never repeated).
 *
 * @example
 * summarizeError(new ConflictError('lost a race')); // { code: 'CONFLICT', message: 'lost a race', retryable: true }
 * summarizeError(new TypeError('x is undefined')); // { code: 'BACKEND', message: 'unexpected failure (TypeError)', retryable: true }
 */
export function summarizeError(err: unknown): ErrorSummary {
  if (isRekeyError(err)) return { code: err.code, message: err.message, retryable: err.retryable };
  return { code: 'BACKEND', message: `unexpected failure (${errorName(err)})`, retryable: true };
}

/**
 * The name of a thrown value for a message: an Error's `name`, else its `typeof`; never its
 * message or contents.
 *
 * @example
 * errorName(new RangeError('...')); // 'RangeError'
 */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
