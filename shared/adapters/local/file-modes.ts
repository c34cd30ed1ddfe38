/**
 * Owner-only modes for everything a local rekey home holds. The home is 0700, its files 0600
 * (or tighter, like the 0400 escrow records). Files and folders that already exist with group
 * or other bits are tightened when a store opens them, not refused: a home made by an older
 * rekey (databases were 0644) keeps working and becomes private. Tightening only ever clears
 * group and other bits, so it never widens a mode. Where the mode cannot be changed (a
 * read-only file system, a file owned by someone else) it is left as it is and the store's own
 * open decides whether the home is usable. A home this process cannot write (a read-only mount,
 * a folder without write permission) is a read-only home: its modes are left exactly as they are.
 */
import { accessSync, chmodSync, closeSync, constants as fsc, lstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** Mode of a file in a rekey home. */
export const PRIVATE_FILE_MODE = 0o600;

/** Mode of a rekey home and the folders inside it. */
export const PRIVATE_DIR_MODE = 0o700;

const GROUP_AND_OTHER = 0o077;

/** chmod failures that mean "cannot tighten here", not "the home is broken". */
const UNCHANGEABLE = new Set(['EROFS', 'EPERM', 'EACCES', 'ENOENT']);

function code(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

/** Whether this process may create files in `dir` (false on a read-only mount or without permission). */
export function isWritableDirSync(dir: string): boolean {
  try {
    accessSync(dir, fsc.W_OK | fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Clears the group and other bits of `path` when any is set. A symbolic link is left alone: its
 * target is not ours to change. Missing paths are ignored, and so is everything in a read-only
 * home (a folder that cannot be written, or a file in one): reading a home never changes it.
 *
 * @example
 * tightenSync(join(home, 'catalog.db')); // 0644 → 0600
 */
export function tightenSync(path: string): void {
  let mode: number;
  let isDir: boolean;
  try {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    mode = stat.mode & 0o777;
    isDir = stat.isDirectory();
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw err;
  }
  if ((mode & GROUP_AND_OTHER) === 0) return;
  if (!isWritableDirSync(isDir ? path : dirname(path))) return;
  try {
    chmodSync(path, mode & ~GROUP_AND_OTHER);
  } catch (err) {
    if (!UNCHANGEABLE.has(code(err) ?? '')) throw err;
  }
}

/**
 * Makes `dir` (and missing parents) with mode 0700, and tightens it when it already exists.
 *
 * @example
 * ensurePrivateDirSync(home);
 */
export function ensurePrivateDirSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tightenSync(dir);
}

/**
 * Prepares an SQLite database file before the driver opens it: creates it empty with mode 0600
 * when missing (SQLite treats an empty file as a new database and gives its `-wal` and `-shm`
 * files the mode of the database file), and tightens the file and any journal beside it that
 * already exist. `:memory:` and the empty path (temporary databases) are left alone.
 *
 * @example
 * preparePrivateDatabaseSync(join(home, 'records.db'));
 * const db = new Database(join(home, 'records.db'));
 */
export function preparePrivateDatabaseSync(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  try {
    closeSync(openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, PRIVATE_FILE_MODE));
  } catch (err) {
    // EEXIST: tightened below. Anything else (a read-only or missing folder) is for SQLite's
    // own open to report, with its own message; the files beside it are still tightened.
    if (code(err) !== 'EEXIST' && code(err) !== 'EROFS' && code(err) !== 'EACCES') return;
  }
  for (const suffix of ['', '-wal', '-shm', '-journal']) tightenSync(`${path}${suffix}`);
}
