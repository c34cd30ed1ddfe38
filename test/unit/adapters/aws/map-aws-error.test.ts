import { KMSServiceException } from '@aws-sdk/client-kms';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { classifyAwsError, isAwsConditionFailed, isAwsNotFound, mapAwsError } from '../../../../shared/adapters/aws/map-aws-error';
import {
  AccessDeniedError,
  BackendError,
  ConflictError,
  DecryptError,
  KeyUnavailableError,
  NotFoundError,
  ThrottledError,
  ValidationError,
} from '../../../../shared/errors';

function serviceError(name: string, status: number, extra: Record<string, unknown> = {}): S3ServiceException {
  return Object.assign(new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', message: name, $metadata: { httpStatusCode: status } }), extra);
}

function kmsError(name: string, status = 400): KMSServiceException {
  return new KMSServiceException({ name, $fault: status >= 500 ? 'server' : 'client', message: name, $metadata: { httpStatusCode: status } });
}

describe('mapAwsError', () => {
  describe('throttling (the SDK classification)', () => {
    it.each([
      ['ThrottlingException', 400],
      ['Throttling', 400],
      ['TooManyRequestsException', 429],
      ['RequestLimitExceeded', 400],
      ['SlowDown', 503],
      ['ProvisionedThroughputExceededException', 400],
      ['LimitExceededException', 400],
      ['RequestThrottledException', 400],
      ['AnythingAt429', 429],
      ['ServiceUnavailable', 503],
    ])('maps %s (%i) to a retryable ThrottledError for operations and objects alike', (name, status) => {
      // Act
      const forOperation = mapAwsError(serviceError(name, status), 'events:PutEvents');
      const forObject = mapAwsError(serviceError(name, status), { resource: 's3://b/k' });
      // Assess
      expect(forOperation).toBeInstanceOf(ThrottledError);
      expect(forOperation).toMatchObject({ retryable: true, message: `events:PutEvents was throttled (${name})` });
      expect(forObject).toBeInstanceOf(ThrottledError);
      expect(forObject.message).toContain('s3://b/k');
    });

    it('honours the SDK throttling trait of an error whatever its name', () => {
      // Act
      const mapped = mapAwsError(serviceError('SomethingNew', 400, { $retryable: { throttling: true } }), 'states:StartExecution');
      // Assess
      expect(mapped).toBeInstanceOf(ThrottledError);
    });
  });

  describe('an operation', () => {
    it.each([
      ['AccessDeniedException', 400, AccessDeniedError, 'access denied: lambda:InvokeFunction (AccessDeniedException)'],
      ['Forbidden', 403, AccessDeniedError, 'access denied: lambda:InvokeFunction (Forbidden)'],
      ['ResourceNotFoundException', 404, BackendError, 'lambda:InvokeFunction failed (ResourceNotFoundException)'],
      ['ConcurrentModificationException', 409, BackendError, 'lambda:InvokeFunction failed (ConcurrentModificationException)'],
      ['NotFoundException', 400, BackendError, 'lambda:InvokeFunction failed (NotFoundException)'],
      ['InternalFailure', 500, BackendError, 'lambda:InvokeFunction failed (InternalFailure)'],
    ] as const)('maps %s (%i) to %p', (name, status, type, message) => {
      // Act
      const mapped = mapAwsError(serviceError(name, status), 'lambda:InvokeFunction');
      // Assess
      expect(mapped).toBeInstanceOf(type);
      expect(mapped.message).toBe(message);
    });

    it('maps a failure without a response (a network error) to a retryable BackendError keeping the cause', () => {
      // Prepare
      const cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      // Act
      const mapped = mapAwsError(cause, 'cloudwatch:GetMetricData');
      // Assess
      expect(mapped).toBeInstanceOf(BackendError);
      expect(mapped).toMatchObject({ retryable: true, cause, message: 'cloudwatch:GetMetricData failed (Error)' });
    });
  });

  describe('an object', () => {
    it.each([
      ['PreconditionFailed', 412, ConflictError],
      ['ConditionalRequestConflict', 409, ConflictError],
      ['AccessDenied', 403, AccessDeniedError],
      ['InvalidAccessKeyId', 403, AccessDeniedError],
      ['NoSuchKey', 404, NotFoundError],
      ['NotFound', 404, NotFoundError],
      ['NoSuchVersion', 404, NotFoundError],
      ['NoSuchBucket', 404, BackendError],
      ['InternalError', 500, BackendError],
    ] as const)('maps S3 %s (%i) to %p', (name, status, type) => {
      // Act
      const mapped = mapAwsError(serviceError(name, status), { resource: 's3://b/k' });
      // Assess
      expect(mapped).toBeInstanceOf(type);
      expect(mapped.message).toContain('s3://b/k');
    });

    it('says "access denied to" the object, exactly as operators see it', () => {
      // Act
      const mapped = mapAwsError(serviceError('AccessDenied', 403), { resource: "catalog of keyring 'pii'" });
      // Assess
      expect(mapped.message).toBe("access denied to catalog of keyring 'pii'");
    });

    it.each([
      ['DisabledException', KeyUnavailableError],
      ['KMSInvalidStateException', KeyUnavailableError],
      ['NotFoundException', KeyUnavailableError],
      ['KeyUnavailableException', KeyUnavailableError],
      ['InvalidKeyUsageException', KeyUnavailableError],
      ['InvalidCiphertextException', DecryptError],
      ['IncorrectKeyException', DecryptError],
      ['UnrecognizedClientException', AccessDeniedError],
      ['ExpiredTokenException', AccessDeniedError],
      ['KMSInternalException', BackendError],
    ] as const)('maps KMS %s to %p', (name, type) => {
      // Act
      const mapped = mapAwsError(kmsError(name, name === 'KMSInternalException' ? 500 : 400), { resource: 'KMS key arn:aws:kms:us-east-1:123456789012:key/k' });
      // Assess
      expect(mapped).toBeInstanceOf(type);
      if (type === KeyUnavailableError) expect(mapped).toMatchObject({ retryable: false });
      if (type === DecryptError) expect(mapped.message).toBe(DecryptError.MESSAGE);
    });
  });

  it('passes a RekeyError through unchanged', () => {
    // Prepare
    const err = new ValidationError('bad');
    // Act / Assess
    expect(mapAwsError(err, 'events:PutEvents')).toBe(err);
    expect(mapAwsError(err, { resource: 'x' })).toBe(err);
  });

  describe('classifyAwsError', () => {
    it('answers the S3 predicates the adapters branch on', () => {
      // Act / Assess
      expect([isAwsNotFound(serviceError('NoSuchKey', 404)), isAwsNotFound(serviceError('NoSuchBucket', 404)), isAwsNotFound(undefined)]).toEqual([true, false, false]);
      expect([isAwsConditionFailed(serviceError('PreconditionFailed', 412)), isAwsConditionFailed(serviceError('OperationAborted', 409)), isAwsConditionFailed('x')]).toEqual([true, true, false]);
      expect(classifyAwsError(serviceError('Code', 500, { Code: 'SlowDown' }))).toBe('throttled');
    });
  });
});
