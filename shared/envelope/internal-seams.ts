/**
 * Test seams of the envelope layer. Deliberately not exported from index.ts: only the
 * known-answer vector generator and the tests use them, to replace the random data key
 * with a fixed one.
 */
import type { DataKeySource } from './envelope-crypto';

/** Option key under which EnvelopeClient accepts a {@link DataKeySource} (vectors and tests only). */
export const DATA_KEY_SOURCE: unique symbol = Symbol('rekey.envelope.dataKeySource');

/** The client options with the seam. */
export interface InternalClientOptions {
  readonly [DATA_KEY_SOURCE]?: DataKeySource;
}
