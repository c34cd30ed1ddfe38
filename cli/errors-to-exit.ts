import { isRekeyError, type RekeyErrorCode } from '../shared/errors';

/**
 * Exit codes of the `rekey` CLI, stable for scripts (the help and the README list them from here).
 */
export const EXIT_CODES = [
  { code: 0, meaning: 'success' },
  { code: 1, meaning: 'unexpected failure (rerun with REKEY_DEBUG=1)' },
  { code: 2, meaning: 'usage or invalid input: nothing was changed' },
  { code: 3, meaning: 'decryption refused (wrong context, revoked or unavailable version, damaged data)' },
  { code: 4, meaning: 'not found (keyring, version, record, home, stack)' },
  { code: 5, meaning: 'conflict or lifecycle state (exists, frozen, not allowed now, not complete yet)' },
  { code: 6, meaning: 'backend or environment (AWS, disk, permissions, key unavailable)' },
  { code: 7, meaning: 'partial failure: some work done, some failed; rerun to resume' },
  { code: 130, meaning: 'interrupted (Ctrl-C); rerun to resume' },
] as const;

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
  PARTIAL: 7,
};

/**
 * Turns any thrown value into the CLI's one-line reason and exit code. Only RekeyError messages
 * are shown verbatim (they are written to carry no secret); anything else is reported by class.
 */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (isInterrupted(err)) return { line: `rekey: ${(err as Error).message}`, exitCode: 130 };
  if (isRekeyError(err)) {
    return { line: `rekey: ${err.message}`, exitCode: EXIT_BY_CODE[err.code] ?? 1 };
  }
  const fsFailure = describeFileError(err);
  if (fsFailure) return fsFailure;
  const name = err instanceof Error ? err.name : typeof err;
  // Unknown errors may come from anywhere (a dependency's message could quote input), so show the class only.
  return { line: `rekey: unexpected ${name}; rerun with REKEY_DEBUG=1 for details`, exitCode: 1 };
}

const EXIT_BY_ERRNO: Readonly<Record<string, number>> = { ENOENT: 4, EEXIST: 5, EISDIR: 2, ENOTDIR: 2, EACCES: 6, EPERM: 6, EROFS: 6, ENOSPC: 6, EDQUOT: 6, EFBIG: 6 };

/** What to do about an errno, after the path and the code. */
const HINT_BY_ERRNO: Readonly<Record<string, string>> = {
  EEXIST: ' (refusing to overwrite)',
  ENOSPC: ' (the disk is full: free space on that file system and retry)',
  EDQUOT: ' (the disk quota is used up: free space and retry)',
  EFBIG: ' (the file would pass the size limit)',
  EROFS: ' (read-only file system: write somewhere writable)',
  EACCES: ' (permission denied: write somewhere this user may)',
  EPERM: ' (not permitted: write somewhere this user may)',
};

/**
 * A file named on the command line that cannot be opened, created or written (--in, --out), or
 * standard output that cannot be written (a full disk behind a redirect), is an operator matter,
 * not an unexpected failure: name the path (or stdout) and the errno and what to do, nothing else.
 */
function describeFileError(err: unknown): { line: string; exitCode: number } | undefined {
  // Duck-typed: errors from node:fs may come from another realm (a test VM), where instanceof fails.
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, syscall, path } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof syscall !== 'string') return undefined;
  const exitCode = EXIT_BY_ERRNO[code];
  if (exitCode === undefined) return undefined;
  // Stream writes (stdout, a write stream) carry no path: the target is then standard output
  // unless the error says otherwise.
  const target = typeof path === 'string' ? `'${path}'` : syscall === 'write' ? 'standard output' : undefined;
  if (target === undefined) return undefined;
  return { line: `rekey: cannot ${syscall} ${target}: ${code}${HINT_BY_ERRNO[code] ?? ''}`, exitCode };
}

/** Thrown by a long command stopped by SIGINT; its message says how to resume. */
export class InterruptedError extends Error {
  public override readonly name = 'InterruptedError';
}

function isInterrupted(err: unknown): boolean {
  return err instanceof InterruptedError;
}

/**
 * True for a write to a pipe whose reader went away (`rekey audit | head -1`): the command ends
 * quietly, as `cat` and `grep` do, instead of reporting a failure. Only stdout's EPIPE counts:
 * a closed pipe on a file or socket the command writes is a real failure.
 */
export function isClosedPipe(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, syscall, path } = err as NodeJS.ErrnoException;
  return (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') && (syscall === undefined || syscall === 'write') && path === undefined;
}
