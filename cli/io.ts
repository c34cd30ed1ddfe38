/**
 * Bounded I/O for the CLI: stdin is read into memory only up to a limit (checked while
 * reading, never after), and plaintext output is written only once it is complete, so a
 * failure never leaves partial plaintext on stdout or in a file.
 */
import { createReadStream, createWriteStream, closeSync, existsSync, linkSync, openSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { AlreadyExistsError } from '../shared/errors';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { LimitExceededError } from '../shared/errors';
import { describeStorageFailure, isDiskFull, isReadOnlyFailure } from '../shared/adapters/local/open-database';

/** Largest input the CLI buffers in memory (envelopes above it go through --in/--out streaming). */
export const MAX_BUFFERED_INPUT = 256 * 1024 * 1024;

/** Reads all of a stream, failing as soon as it passes `limit` bytes. */
export async function readAllBounded(input: NodeJS.ReadableStream, limit = MAX_BUFFERED_INPUT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > limit) throw new LimitExceededError(`input is larger than ${limit} bytes; use --in FILE --out FILE to stream it`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** Reads stdin, or the file named by `path`. */
export async function readInput(path?: string): Promise<Buffer> {
  return readAllBounded(path ? createReadStream(path) : process.stdin);
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
