import { isRekeyError, type RekeyErrorCode } from '../shared/errors';

/** Exit codes of the `rekey` CLI, stable for scripts: 0 ok, 1 unexpected, 2 usage/validation, 3 decrypt, 4 not found, 5 conflict or state, 6 backend. */
const EXIT_BY_CODE: Readonly<Record<RekeyErrorCode, number>> = {
  VALIDATION: 2,
  LIMIT_EXCEEDED: 2,
  CONTEXT_REQUIRED: 2,
  DECRYPT_FAILED: 3,
  CONTEXT_MISMATCH: 3,
  VERSION_REVOKED: 3,
  VERSION_UNAVAILABLE: 3,
  UNKNOWN_KEYRING: 4,
  UNKNOWN_VERSION: 4,
  NOT_FOUND: 4,
  ALREADY_EXISTS: 5,
  CONFLICT: 5,
  ILLEGAL_TRANSITION: 5,
  FROZEN: 5,
  KEY_UNAVAILABLE: 6,
  THROTTLED: 6,
  ACCESS_DENIED: 6,
  BACKEND: 6,
};

/**
 * Turns any thrown value into the CLI's one-line reason and exit code. Only RekeyError messages
 * are shown verbatim (they are written to carry no secret); anything else is reported by class.
 */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (isRekeyError(err)) {
    return { line: `rekey: ${err.message}`, exitCode: EXIT_BY_CODE[err.code] ?? 1 };
  }
  const fsFailure = describeFileError(err);
  if (fsFailure) return fsFailure;
  const name = err instanceof Error ? err.name : typeof err;
  // Unknown errors may come from anywhere (a dependency's message could quote input), so show the class only.
  return { line: `rekey: unexpected ${name}; rerun with REKEY_DEBUG=1 for details`, exitCode: 1 };
}

const EXIT_BY_ERRNO: Readonly<Record<string, number>> = { ENOENT: 4, EEXIST: 5, EISDIR: 2, ENOTDIR: 2, EACCES: 6, EPERM: 6, ENOSPC: 6 };

/**
 * A file named on the command line that cannot be opened or created (--in, --out) is an
 * operator mistake, not an unexpected failure: name the path and the errno, nothing else.
 */
function describeFileError(err: unknown): { line: string; exitCode: number } | undefined {
  // Duck-typed: errors from node:fs may come from another realm (a test VM), where instanceof fails.
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, syscall, path } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof syscall !== 'string' || typeof path !== 'string') return undefined;
  const exitCode = EXIT_BY_ERRNO[code];
  if (exitCode === undefined) return undefined;
  return { line: `rekey: cannot ${syscall} '${path}': ${code}${code === 'EEXIST' ? ' (refusing to overwrite)' : ''}`, exitCode };
}
