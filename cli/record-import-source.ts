/**
 * Where `rekey records import` reads its records: every regular file of one folder (not
 * recursive), or JSON Lines on stdin. Both yield items whose plaintext is read only when the
 * import fills the batch they belong to, so that memory stays bounded by the batch.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendError, LimitExceededError, NotFoundError, RekeyError, ValidationError } from '../shared/errors';
import { ENVELOPE_LIMITS } from '../shared/envelope/limits';
import type { ImportItem } from '../shared/reencrypt/record-service';

/** Longest JSON Lines line accepted, in bytes (a longer one fails alone; its data is never held whole). */
export const MAX_IMPORT_LINE_BYTES = 16 * 1024 * 1024;

/** What listing a folder for import found besides the files it imports. */
export interface FolderListing {
  readonly items: readonly ImportItem[];
  /** Names skipped because they start with a dot (editor and OS files such as `.DS_Store`). */
  readonly dotfiles: number;
  /** Entries skipped because they are not regular files (folders, links, sockets). */
  readonly notFiles: number;
}

/**
 * The regular files of `dir` in name order, each an item named after its file. Dotfiles and
 * entries that are not regular files (sub-folders, symbolic links) are skipped and counted.
 *
 * @example
 * const { items } = await listImportFolder('./export'); // items[0].id === 'user-1.json'
 */
export async function listImportFolder(dir: string): Promise<FolderListing> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`no folder '${dir}' to import: give an existing folder, or - for JSON Lines on stdin`);
    if (code === 'ENOTDIR') throw new ValidationError(`'${dir}' is not a folder: records import reads every file of a folder, or - for JSON Lines on stdin`);
    throw new BackendError(`cannot list folder '${dir}' (${code ?? 'error'}): check its permissions`, { cause: err });
  }
  let dotfiles = 0;
  let notFiles = 0;
  const names: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) dotfiles += 1;
    else if (!e.isFile()) notFiles += 1;
    else names.push(e.name);
  }
  names.sort();
  return { items: names.map((name) => ({ id: name, label: name, load: async () => readImportFile(join(dir, name), name) })), dotfiles, notFiles };
}

/**
 * Reads one file whole, refusing before reading one larger than a record can be, or one that
 * is no longer a regular file (replaced since the listing).
 *
 * Synchronous on purpose: the files are small and local, and each asynchronous step (open, stat,
 * read, close) is a thread-pool round trip that costs far more than the read itself. Measured on
 * 20,000 files of 64..1087 bytes: about 0.2 s read synchronously, 1.7..2.8 s through
 * `fs/promises` with 32 reads in flight and 0.9 s with callbacks and 64 in flight. The event
 * loop is held for one file at a time (a few microseconds for such files), and an import is
 * stopped between batches anyway. O_NONBLOCK keeps a FIFO swapped in after the listing from
 * blocking the open; it changes nothing for a regular file.
 */
function readImportFile(path: string, name: string): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ValidationError(`'${name}' is no longer a regular file; nothing of it was written`);
    if (stat.size > ENVELOPE_LIMITS.oneShotMaxPlaintext) {
      throw new LimitExceededError(`file '${name}' is larger than a record (${ENVELOPE_LIMITS.oneShotMaxPlaintext} bytes); encrypt it with rekey encrypt --framed instead`);
    }
    return readWhole(fd, stat.size);
  } catch (err) {
    if (err instanceof RekeyError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BackendError(`cannot read file '${name}' (${code})`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// Reads the size fstat gave, or less at an early end of file (as fs.readFile does): a file that
// grows while it is read is imported as it was when opened.
function readWhole(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let length = 0;
  while (length < size) {
    const n = readSync(fd, buf, length, size - length, null);
    if (n === 0) break;
    length += n;
  }
  return length === size ? buf : buf.subarray(0, length);
}

/**
 * Items from JSON Lines: each line `{"id": "...", "data": "<utf-8 text>"}` or
 * `{"id": "...", "base64": "..."}`; blank lines are ignored. A malformed line becomes an item
 * that fails with its line number (nothing of it is written); a line over
 * {@link MAX_IMPORT_LINE_BYTES} is skipped to its end without being held.
 *
 * @example
 * for await (const item of jsonLinesItems(process.stdin)) console.log(item.label); // 'line 1', ...
 */
export async function* jsonLinesItems(input: AsyncIterable<Buffer | string>, maxLine = MAX_IMPORT_LINE_BYTES): AsyncGenerator<ImportItem> {
  let parts: Buffer[] = [];
  let length = 0;
  let overlong = false;
  let lineNo = 0;
  const finish = (): ImportItem | undefined => {
    lineNo += 1;
    const line = overlong ? undefined : Buffer.concat(parts, length);
    parts = [];
    length = 0;
    const wasOverlong = overlong;
    overlong = false;
    if (wasOverlong) return failing(lineNo, `is longer than ${maxLine} bytes`);
    return parseLine(line as Buffer, lineNo);
  };
  for await (const chunk of input) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a)) {
      add(buf.subarray(0, nl));
      const item = finish();
      if (item !== undefined) yield item;
      buf = buf.subarray(nl + 1);
    }
    add(buf);
  }
  if (length > 0 || overlong) {
    const item = finish();
    if (item !== undefined) yield item;
  }

  function add(piece: Buffer): void {
    if (overlong || piece.length === 0) return;
    if (length + piece.length > maxLine) {
      overlong = true;
      parts = [];
      length = 0;
      return;
    }
    // Copied: the chunk's memory belongs to the stream.
    parts.push(Buffer.from(piece));
    length += piece.length;
  }
}

function failing(lineNo: number, why: string, id?: string): ImportItem {
  return { id, label: `line ${lineNo}`, load: () => Promise.reject(new ValidationError(`line ${lineNo} ${why}; nothing of it was written`)) };
}

// Never quotes the line: it is the operator's plaintext.
function parseLine(line: Buffer, lineNo: number): ImportItem | undefined {
  const text = line.toString('utf8').trim();
  if (text.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return failing(lineNo, 'is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return failing(lineNo, 'is not a JSON object');
  const o = value as Record<string, unknown>;
  if (typeof o.id !== 'string' || o.id.length === 0) return failing(lineNo, 'has no "id" string');
  const id = o.id;
  const extra = Object.keys(o).filter((k) => k !== 'id' && k !== 'data' && k !== 'base64');
  if (extra.length > 0) return failing(lineNo, `has unknown field(s) ${extra.slice(0, 3).map((k) => JSON.stringify(k.slice(0, 32))).join(', ')} (allowed: id, data, base64)`, id);
  const hasData = typeof o.data === 'string';
  const hasBase64 = typeof o.base64 === 'string';
  if (hasData === hasBase64) return failing(lineNo, 'needs exactly one of "data" (UTF-8 text) or "base64"', id);
  if (hasBase64 && !/^[A-Za-z0-9+/]*={0,2}$/.test(o.base64 as string)) return failing(lineNo, 'has a "base64" value that is not base64', id);
  const plaintext = hasData ? Buffer.from(o.data as string, 'utf8') : Buffer.from(o.base64 as string, 'base64');
  return { id, label: `line ${lineNo} (${id.slice(0, 64)})`, load: () => Promise.resolve(plaintext) };
}
