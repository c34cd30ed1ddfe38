/**
 * The body of an envelope file for a header-only `rewrap --in FILE`: the bytes after the old
 * header, copied unchanged, exactly as far as the length the head was validated against.
 */
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ConflictError } from '../shared/errors';

/**
 * Streams bytes `start` to `totalLength - 1` of `path` (the length the envelope's head was
 * checked against) and fails when fewer arrive or the file is no longer that long when the
 * copy ends: the file changed under the rewrap, and what was copied is not the envelope that
 * was checked. With `--out` the output file is then never linked into place.
 *
 * @example
 * Readable.from(prepend(newHeader, envelopeBody('dump.rekey', head.header.length, head.totalLength)));
 * @throws ConflictError naming the file (by its base name) when it shrank or grew meanwhile.
 */
export async function* envelopeBody(path: string, start: number, totalLength: number): AsyncGenerator<Buffer> {
  const expected = totalLength - start;
  let copied = 0;
  // An empty range has no stream (createReadStream refuses end < start).
  if (expected > 0) {
    for await (const chunk of createReadStream(path, { start, end: totalLength - 1 })) {
      const buf = chunk as Buffer;
      copied += buf.length;
      yield buf;
    }
  }
  const now = statSync(path).size;
  if (copied !== expected || now !== totalLength) {
    throw new ConflictError(`'${basename(path)}' changed while it was re-wrapped (${totalLength} bytes when checked, ${now} now); discard what was written to stdout (--out files are never created then) and rerun rewrap once nothing writes to it`);
  }
}
