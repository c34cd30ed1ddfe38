/**
 * Where the JSON document of a Lambda event or result is: the `body` of an API Gateway proxy
 * event or result (a JSON string, base64 when `isBase64Encoded`, or an object a body parser put
 * there), else the event or result itself. Reading gives the document and the means to put a
 * changed one back in the same shape. Pure.
 *
 * Shapes: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
 * ("Input format of a Lambda function for proxy integration", "Output format ...").
 */
import { ValidationError } from '../errors';

/** A JSON document found in a carrier, and how to write a changed one back. */
export interface FoundDocument {
  /** Undefined when the carrier holds no document (no body, an empty body). */
  readonly doc: unknown;
  /** The carrier with `doc` replaced, in the carrier's own shape; the input is not changed. */
  readonly replace: (doc: unknown) => unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** True for an API Gateway proxy event (`httpMethod` or `requestContext`) or result (`statusCode`). */
function isHttpShape(carrier: Record<string, unknown>): boolean {
  return 'body' in carrier && ('statusCode' in carrier || 'httpMethod' in carrier || 'requestContext' in carrier);
}

/**
 * Finds the document of `carrier`.
 *
 * @example
 * const { doc, replace } = findDocument({ httpMethod: 'POST', body: '{"ssn":"…"}', isBase64Encoded: false });
 * replace({ ssn: '123' }); // { httpMethod: 'POST', body: '{"ssn":"123"}', isBase64Encoded: false }
 * @throws ValidationError when a body is there but is not JSON (the message quotes none of it).
 */
export function findDocument(carrier: unknown): FoundDocument {
  if (!isObject(carrier)) return { doc: undefined, replace: () => carrier };
  if (!isHttpShape(carrier)) return { doc: carrier, replace: (doc) => doc };
  const body = carrier.body;
  if (body === null || body === undefined || body === '') return { doc: undefined, replace: () => carrier };
  if (typeof body !== 'string') return { doc: body, replace: (doc) => ({ ...carrier, body: doc }) };
  const text = carrier.isBase64Encoded === true ? Buffer.from(body, 'base64').toString('utf8') : body;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the body, which may hold the very values to protect.
    throw new ValidationError('the body is not JSON');
  }
  // Written back as JSON text; a base64 body becomes plain text (it is JSON, not binary).
  return { doc, replace: (next) => ({ ...carrier, body: JSON.stringify(next), ...('isBase64Encoded' in carrier ? { isBase64Encoded: false } : {}) }) };
}
