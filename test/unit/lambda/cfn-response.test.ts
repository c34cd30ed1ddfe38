/**
 * The custom resource response object and its URL check (shared/lambda/cfn-response.ts).
 * Limits from "Custom resource response objects" (CloudFormation User Guide): the body at most
 * 4096 bytes; Reason required on FAILED.
 */
import { checkResponseUrl, MAX_RESPONSE_BYTES, responseBody, type CfnResponse } from '../../../shared/lambda/cfn-response';
import { ValidationError } from '../../../shared/errors';

const base: CfnResponse = {
  Status: 'FAILED',
  Reason: 'x',
  PhysicalResourceId: 'pii',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Rekey/1',
  RequestId: 'r-1',
  LogicalResourceId: 'KeyringsKeyringpii',
};

describe('responseBody', () => {
  it('keeps a small response as it is', () => {
    // Prepare / Act
    const body = responseBody(base);
    // Assess
    expect(JSON.parse(body)).toEqual(base);
  });

  it('shortens only the Reason of an oversized response (multi-byte text included) to fit 4096 bytes', () => {
    // Prepare
    const huge = { ...base, Reason: `é${'ü'.repeat(5000)}` };
    // Act
    const body = responseBody(huge);
    const parsed = JSON.parse(body) as CfnResponse;
    // Assess
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(parsed.Reason?.endsWith('…')).toBe(true);
    expect(parsed.Reason?.startsWith('éü')).toBe(true);
    expect({ ...parsed, Reason: undefined }).toEqual({ ...huge, Reason: undefined });
  });
});

describe('checkResponseUrl', () => {
  it('accepts https and refuses http unless a loopback host is explicitly allowed', () => {
    // Prepare / Act / Assess
    expect(checkResponseUrl('https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=s').protocol).toBe('https:');
    expect(() => checkResponseUrl('http://127.0.0.1:8080/x')).toThrow(ValidationError);
    expect(checkResponseUrl('http://127.0.0.1:8080/x', true).hostname).toBe('127.0.0.1');
    expect(() => checkResponseUrl('http://169.254.169.254/latest', true)).toThrow('ResponseURL must be an https URL');
    expect(() => checkResponseUrl('not a url')).toThrow('ResponseURL is not a URL');
  });
});
