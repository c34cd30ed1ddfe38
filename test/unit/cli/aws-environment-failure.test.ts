/**
 * explainAwsFailure: the SDK's bare failures, also when an adapter's mapping wrapped them as the
 * cause of a BackendError, become one line saying what is wrong and what to do; anything else
 * passes through unchanged.
 */
import { explainAwsFailure } from '../../../cli/aws/aws-environment-failure';
import { AccessDeniedError, BackendError, NotFoundError } from '../../../shared/errors';

const where = { endpoint: 'http://127.0.0.1:4566', region: 'eu-west-1' };

describe('explainAwsFailure', () => {
  it('reads a timeout wrapped by an adapter as the endpoint not answering, with the configured seconds', () => {
    // Arrange
    const timeout = Object.assign(new Error('@smithy/node-http-handler - the request socket timed out after 4000 ms of inactivity'), { name: 'TimeoutError' });
    const mapped = new BackendError('request for s3://b/k failed (TimeoutError)', { cause: timeout });
    // Act
    const explained = explainAwsFailure(mapped, where);
    // Assess
    expect(explained).toBeInstanceOf(BackendError);
    expect((explained as Error).message).toMatch(/^http:\/\/127\.0\.0\.1:4566 did not answer within 4 s /);
  });

  it('names the regional endpoint when no --endpoint was given', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect((explainAwsFailure(refused, { region: 'eu-west-1' }) as Error).message).toMatch(/^could not connect to the AWS endpoint in eu-west-1: connection refused;/);
  });

  it('adds what to do to a mapped denial, once', () => {
    // Act
    const once = explainAwsFailure(new AccessDeniedError('access denied: events:PutEvents on bus b (AccessDeniedException)'), where);
    const twice = explainAwsFailure(once, where);
    // Assess
    expect((twice as Error).message).toBe('access denied: events:PutEvents on bus b (AccessDeniedException); use a role the stack grants this to (docs/deploy.md, operator roles) or check AWS_PROFILE');
  });

  it('passes any other failure through unchanged', () => {
    const notFound = new NotFoundError("stack 'X' not found in eu-west-1");
    expect(explainAwsFailure(notFound, where)).toBe(notFound);
  });
});
