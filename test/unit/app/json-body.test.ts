/**
 * Event and result shapes: API Gateway's Lambda proxy integration, "Input format of a Lambda
 * function for proxy integration" and "Output format ..." in
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
 * (`body` is a string, base64 when `isBase64Encoded`; the result carries `statusCode`).
 */
import { findDocument } from '../../../shared/app/json-body';
import { ValidationError } from '../../../shared/errors';

describe('findDocument', () => {
  it('parses the JSON body of a proxy event and writes a changed one back as JSON text', () => {
    // Prepare
    const event = { httpMethod: 'POST', path: '/customers', body: '{"ssn":"sealed"}', isBase64Encoded: false };
    // Act
    const { doc, replace } = findDocument(event);
    const out = replace({ ssn: '123' });
    // Assess
    expect(doc).toEqual({ ssn: 'sealed' });
    expect(out).toEqual({ httpMethod: 'POST', path: '/customers', body: '{"ssn":"123"}', isBase64Encoded: false });
    expect(event.body).toBe('{"ssn":"sealed"}');
  });

  it('decodes a base64 body and writes it back as plain JSON text', () => {
    // Prepare
    const event = { requestContext: { requestId: 'r-1' }, body: Buffer.from('{"a":1}').toString('base64'), isBase64Encoded: true };
    // Act
    const { doc, replace } = findDocument(event);
    // Assess
    expect(doc).toEqual({ a: 1 });
    expect(replace({ a: 2 })).toEqual({ requestContext: { requestId: 'r-1' }, body: '{"a":2}', isBase64Encoded: false });
  });

  it('takes the body of a proxy result, and a body a parser already turned into an object', () => {
    // Act
    const result = findDocument({ statusCode: 200, body: '{"a":1}' });
    const parsed = findDocument({ httpMethod: 'POST', body: { a: 1 } });
    // Assess
    expect(result.replace({ a: 2 })).toEqual({ statusCode: 200, body: '{"a":2}' });
    expect(parsed.doc).toEqual({ a: 1 });
    expect(parsed.replace({ a: 2 })).toEqual({ httpMethod: 'POST', body: { a: 2 } });
  });

  it('finds no document in an empty or absent body', () => {
    // Act / Assess
    for (const body of [null, undefined, '']) {
      const event = { httpMethod: 'GET', body };
      const found = findDocument(event);
      expect(found.doc).toBeUndefined();
      expect(found.replace({})).toBe(event);
    }
  });

  it('takes any other event or result as the document itself', () => {
    // Prepare
    const event = { customer: 'c-1', ssn: 'sealed' };
    // Act
    const { doc, replace } = findDocument(event);
    // Assess
    expect(doc).toBe(event);
    expect(replace({ customer: 'c-1', ssn: '123' })).toEqual({ customer: 'c-1', ssn: '123' });
    expect(findDocument('text').doc).toBeUndefined();
  });

  it('throws ValidationError for a body that is not JSON, quoting none of it', () => {
    // Act
    const err = (() => {
      try {
        findDocument({ httpMethod: 'POST', body: 'ssn=123-45-6789' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    // Assess
    expect(err).toBeInstanceOf(ValidationError);
    expect(err?.message).not.toContain('123');
    expect(err?.cause).toBeUndefined();
  });
});
