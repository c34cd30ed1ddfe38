/**
 * Bounded I/O for the CLI: stdin is read into memory only up to a limit (checked while
 * reading, never after); `--out FILE` is written to a temporary file linked into place only on
 * success; an envelope's head is read without its body. `-` names stdin for `--in` and stdout
 * for `--out`.
 */
import { createReadStream, createWriteStream, closeSync, existsSync, fstatSync, linkSync, openSync, readSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { AlreadyExistsError } from '../shared/errors';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { LimitExceededError } from '../shared/errors';
import { describeStorageFailure, isDiskFull, isReadOnlyFailure } from '../shared/adapters/local/open-database';
import { HEAD_PROBE_LENGTH, finalPrefixOffset, type EnvelopeHead } from '../shared/envelope/envelope-head';
import { MIN_FINAL_FRAME_LENGTH, parseHeader, probeHeaderLength } from '../shared/envelope/format';
import { DecryptError } from '../shared/errors';
import { ENVELOPE_LIMITS } from '../shared/envelope/limits';

/** Largest input the CLI buffers in memory (envelopes above it go through --in/--out streaming). */
export const MAX_BUFFERED_INPUT = 256 * 1024 * 1024;

/** True when `path` names a standard stream: absent, or `-`. */
export function isStdio(path: string | undefined): path is undefined | '-' {
  return path === undefined || path === '-';
}

/** A stream of stdin (`-` or absent) or of the file named by `path`. */
export function inputStream(path: string | undefined): NodeJS.ReadableStream {
  return isStdio(path) ? process.stdin : createReadStream(path);
}

/** Reads all of a stream, failing as soon as it passes `limit` bytes (with `advice` when given). */
export async function readAllBounded(input: NodeJS.ReadableStream, limit = MAX_BUFFERED_INPUT, advice = 'use --in FILE --out FILE to stream it'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > limit) {
      for (const c of chunks) c.fill(0);
      throw new LimitExceededError(`input is larger than ${limit} bytes; ${advice}`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** Reads stdin (`-` or absent), or the file named by `path`. */
export async function readInput(path?: string): Promise<Buffer> {
  return readAllBounded(inputStream(path));
}

/**
 * Reads the plaintext of a one-shot `encrypt`: refuses a file over the one-shot limit by its
 * size before reading a byte of it, and stdin as soon as the limit is passed, both saying to
 * use `--framed`.
 */
export async function readOneShotPlaintext(path: string | undefined): Promise<Buffer> {
  const limit = ENVELOPE_LIMITS.oneShotMaxPlaintext;
  const advice = `use --framed for inputs over ${limit / 1024 / 1024} MiB`;
  if (!isStdio(path)) {
    const fd = openSync(path, 'r');
    try {
      if (fstatSync(fd).size > limit) throw new LimitExceededError(`'${basename(path)}' is larger than ${limit} bytes; ${advice}`);
    } finally {
      closeSync(fd);
    }
  }
  return readAllBounded(inputStream(path), limit, advice);
}

/**
 * Reads an envelope file's head (header, total size, final frame prefix) with positional
 * reads: a few KiB whatever the file's size, never its body.
 *
 * @example
 * inspectEnvelopeHead(readEnvelopeHeadFile('dump.rekey'));
 */
export function readEnvelopeHeadFile(path: string): EnvelopeHead {
  const fd = openSync(path, 'r');
  try {
    const totalLength = fstatSync(fd).size;
    const probe = readAt(fd, 0, Math.min(HEAD_PROBE_LENGTH, totalLength));
    const headerLength = probeHeaderLength(probe);
    if (headerLength === undefined || headerLength > probe.length) throw new DecryptError();
    const header = Buffer.from(probe.subarray(0, headerLength));
    const at = finalPrefixOffset(parseHeader(header), totalLength);
    return { header, totalLength, ...(at === undefined ? {} : { finalPrefix: readAt(fd, at, 4) }) };
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let done = 0; done < length; ) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new DecryptError();
    done += n;
  }
  return buf;
}

/**
 * Reads an envelope's head from a stream (stdin) in bounded memory: the header, the length,
 * and the last frame's worth of bytes (at most 4 MiB + 20), where the final frame's prefix is.
 */
export async function readEnvelopeHeadStream(input: NodeJS.ReadableStream): Promise<EnvelopeHead> {
  let head = Buffer.alloc(0);
  let headerLength: number | undefined;
  let total = 0;
  const tail: Buffer[] = [];
  let tailLength = 0;
  const keep = ENVELOPE_LIMITS.frameSizeMax + MIN_FINAL_FRAME_LENGTH;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (headerLength === undefined || head.length < headerLength) {
      head = Buffer.concat([head, buf.subarray(0, HEAD_PROBE_LENGTH)]);
      headerLength ??= probeHeaderLength(head);
    }
    tail.push(buf);
    tailLength += buf.length;
    while (tail.length > 1 && tailLength - (tail[0] as Buffer).length >= keep) tailLength -= (tail.shift() as Buffer).length;
  }
  if (headerLength === undefined || head.length < headerLength) throw new DecryptError();
  const header = Buffer.from(head.subarray(0, headerLength));
  const at = finalPrefixOffset(parseHeader(header), total);
  if (at === undefined) return { header, totalLength: total };
  const tailStart = total - tailLength;
  if (at < tailStart) throw new DecryptError();
  const joined = Buffer.concat(tail, tailLength);
  return { header, totalLength: total, finalPrefix: Buffer.from(joined.subarray(at - tailStart, at - tailStart + 4)) };
}

/**
 * Writes what `source` yields to stdout, each chunk once flushed (so memory stays bounded by
 * the stream's buffers, whatever the size). The chunks are zeroed after writing: they may be
 * plaintext.
 */
export async function streamToStdout(source: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of source) {
    try {
      await writeStdout(chunk);
    } finally {
      chunk.fill(0);
    }
  }
}

/**
 * Writes a whole buffer to stdout and waits until it is flushed. A failed write (stdout
 * redirected to a full disk) is also emitted as an `error` event, which would crash the process
 * with a stack trace if nobody listened: it is taken here and becomes the command's one-line failure.
 */
export function writeStdout(data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    process.stdout.once('error', onError);
    process.stdout.write(data, (err) => {
      if (err) return reject(err);
      process.stdout.off('error', onError);
      resolve();
    });
  });
}

/** Writes `data` to stdout as indented JSON and a newline. */
export function writeJson(data: unknown): Promise<void> {
  return writeStdout(`${JSON.stringify(data, null, 2)}\n`);
}

/**
 * Streams `input` through `transform` into `outPath` atomically: a private temp file beside it,
 * fsync'd and linked into place only when the transform finished without error. Like every
 * other `--out`, it never overwrites an existing file.
 */
export async function streamToFileAtomic(input: NodeJS.ReadableStream, transform: Transform, outPath: string): Promise<void> {
  if (existsSync(outPath)) throw new AlreadyExistsError(`'${basename(outPath)}' already exists; rekey never overwrites an output file`);
  const tmp = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await pipeline(input, transform, createWriteStream(tmp, { mode: 0o600, flags: 'wx' }));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    // link() fails if the target appeared meanwhile, where rename() would silently replace it.
    linkSync(tmp, outPath);
  } catch (err) {
    throw namingOutput(outPath, err);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * A write stream's or a descriptor's errors carry no path: a full disk or a read-only folder
 * behind `--out` would otherwise be told without the file. Other failures pass unchanged.
 */
function namingOutput(path: string, err: unknown): unknown {
  return isDiskFull(err) || isReadOnlyFailure(err) ? describeStorageFailure('output file', path, err, 'write') : err;
}

/** Writes secret bytes to a new file readable by the owner only; refuses to overwrite. */
export function writeSecretFile(path: string, data: Buffer): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    // A short write (a disk filling up) returns less than asked: write the rest, or fail on it.
    for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } catch (err) {
    // A partial file must not look like a whole envelope or key.
    closeSync(fd);
    rmSync(path, { force: true });
    throw namingOutput(path, err);
  }
  closeSync(fd);
}
