/**
 * An envelope known by its head: the header bytes, the total length, and (framed suite) the
 * 4-byte length prefix of the final frame. That is everything `inspect` checks and everything a
 * header-only re-wrap needs, so a caller holding a file of any size reads only these bytes
 * (see cli/io.ts) instead of the whole body. Bytes only: no I/O, no key.
 */
import { DecryptError } from '../errors';
import { FINAL_PREFIX_LENGTH, MIN_FINAL_FRAME_LENGTH, SUITE_FRAMED, TAG_LENGTH, checkOneShotBody, parseHeader, type ParsedHeader } from './format';
import { ENVELOPE_LIMITS } from './limits';

/** The parts of an envelope that describe it. */
export interface EnvelopeHead {
  /** Exactly the header (its length is in its first bytes; see {@link headerLengthOf}). */
  readonly header: Buffer;
  /** Length of the whole envelope in bytes. */
  readonly totalLength: number;
  /** Framed suite: the 4 bytes at {@link finalPrefixOffset}. */
  readonly finalPrefix?: Buffer;
}

/** Most leading bytes ever needed to know a header's length (the longest header). */
export const HEAD_PROBE_LENGTH = ENVELOPE_LIMITS.headerMaxLength;

/**
 * Where, from the start of the envelope, the final frame's length prefix lies, from lengths
 * alone (the framed layout is unique for a body length); undefined for a one-shot envelope.
 * Throws DecryptError for a length no envelope has.
 *
 * @example
 * const at = finalPrefixOffset(parseHeader(head), stat.size); // read 4 bytes there
 */
export function finalPrefixOffset(header: ParsedHeader, totalLength: number): number | undefined {
  const bodyLength = totalLength - header.headerLength;
  if (header.suite !== SUITE_FRAMED) {
    checkOneShotBody(bodyLength);
    return undefined;
  }
  return header.headerLength + framedFinal(bodyLength, header.frameSize as number).finalOffset;
}

function framedFinal(bodyLength: number, frameSize: number): { finalOffset: number; finalLength: number } {
  if (bodyLength < MIN_FINAL_FRAME_LENGTH) throw new DecryptError();
  const fullFrameLength = frameSize + TAG_LENGTH;
  const fullFrames = Math.floor((bodyLength - MIN_FINAL_FRAME_LENGTH) / fullFrameLength);
  if (fullFrames + 1 > ENVELOPE_LIMITS.maxFrames) throw new DecryptError();
  const finalOffset = fullFrames * fullFrameLength;
  const finalLength = bodyLength - finalOffset - MIN_FINAL_FRAME_LENGTH;
  if (finalLength > frameSize) throw new DecryptError();
  return { finalOffset, finalLength };
}

/**
 * Parses the head and checks it exactly as inspecting the whole envelope would: the header,
 * the body length for the suite, and the final frame's length prefix. Throws DecryptError on
 * anything malformed. Returns the parsed header.
 *
 * @example
 * const header = checkEnvelopeHead({ header, totalLength, finalPrefix });
 */
export function checkEnvelopeHead(head: EnvelopeHead): ParsedHeader {
  const header = parseHeader(head.header);
  if (header.headerLength !== head.header.length) throw new DecryptError();
  const bodyLength = head.totalLength - header.headerLength;
  if (header.suite !== SUITE_FRAMED) {
    checkOneShotBody(bodyLength);
    return header;
  }
  const { finalLength } = framedFinal(bodyLength, header.frameSize as number);
  if (head.finalPrefix === undefined || head.finalPrefix.length !== FINAL_PREFIX_LENGTH || head.finalPrefix.readUInt32BE(0) !== finalLength) {
    throw new DecryptError();
  }
  return header;
}
