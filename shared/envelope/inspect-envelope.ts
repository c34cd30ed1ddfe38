/**
 * inspectEnvelope: what an envelope says about itself, read without any key.
 */
import { ValidationError } from '../errors';
import type { EnvelopeInfo } from './api';
import { decodeContext } from './context-encoding';
import { checkEnvelopeHead, type EnvelopeHead } from './envelope-head';
import { SUITE_NAMES, SUITE_FRAMED, SUITE_ONE_SHOT, checkOneShotBody, framedLayout, parseHeader, type ParsedHeader } from './format';

/**
 * Parses an envelope's header and checks its body's structure, without any key: keyring,
 * version, the origin version the data key was created under, suite, frame size, whether a context is bound, and the context when stored in
 * clear. Throws DecryptError on anything malformed. Nothing here is authenticated until a
 * decrypt succeeds.
 *
 * @example
 * const { keyring, version, originVersion } = inspectEnvelope(envelope); // { keyring: 'payments', version: 3, originVersion: 1, ... }
 */
export function inspectEnvelope(envelope: Buffer): EnvelopeInfo {
  if (!Buffer.isBuffer(envelope)) throw new ValidationError('envelope must be a Buffer');
  const header = parseHeader(envelope);
  const body = envelope.subarray(header.headerLength);
  if (header.suite === SUITE_ONE_SHOT) checkOneShotBody(body.length);
  else framedLayout(body, header.frameSize as number);
  return infoOf(header, envelope.length);
}

/**
 * {@link inspectEnvelope} from the envelope's head alone (header, total length, final frame
 * prefix): the same checks and the same answer, for an envelope too large to hold.
 *
 * @example
 * inspectEnvelopeHead({ header, totalLength: stat.size, finalPrefix }).version; // 3
 */
export function inspectEnvelopeHead(head: EnvelopeHead): EnvelopeInfo {
  return infoOf(checkEnvelopeHead(head), head.totalLength);
}

function infoOf(header: ParsedHeader, totalLength: number): EnvelopeInfo {
  return {
    formatVersion: header.formatVersion,
    suite: SUITE_NAMES[header.suite] as string,
    keyring: header.keyring,
    version: header.version,
    originVersion: header.originVersion,
    framed: header.suite === SUITE_FRAMED,
    ...(header.frameSize === undefined ? {} : { frameSize: header.frameSize }),
    contextBound: header.contextBound,
    ...(header.storedContext === undefined ? {} : { storedContext: decodeContext(header.storedContext) }),
    headerLength: header.headerLength,
    totalLength,
  };
}
