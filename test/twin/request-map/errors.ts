/**
 * Error replies in each service's own wire shape, so a real SDK client raises the exception name
 * AWS would. Shapes, from the protocols' documentation and the SDK's error parsers
 * (@aws-sdk/core/dist-cjs/submodules/protocols: loadRestXmlErrorCode, loadQueryErrorCode,
 * loadRestJsonErrorCode, and the awsQueryCompatible `x-amzn-query-error` header):
 * - rest-xml (S3): `<Error><Code/><Message/><RequestId/></Error>` ("Error responses", Amazon S3 API Reference).
 * - query (SNS, CloudFormation, ElastiCache, STS): `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`
 *   ("Query API error responses" / "Common Errors" of each API Reference).
 * - AWS JSON 1.0 / 1.1: `{"__type": code, "message": ...}`; SQS and CloudWatch are awsQueryCompatible and
 *   also send `x-amzn-query-error: <Code>;Sender` ("Interpreting Amazon SQS JSON API responses", SQS Developer Guide).
 * - rest-json (Lambda): `x-amzn-ErrorType: <code>` with `{"Type":"User","message":...}` ("Errors", Lambda API Reference).
 */
import { randomUUID } from 'node:crypto';
import type { AwsProtocol } from './common';

/** An HTTP reply the proxy sends (from moto, a twin handler, or an error). */
export interface ProxyReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Each signing name's protocol; awsQueryCompatible JSON services carry the query error code in a header. */
const SERVICES: Readonly<Record<string, { protocol: AwsProtocol; queryCompatible?: boolean; xmlns?: string }>> = {
  s3: { protocol: 'rest-xml' },
  kms: { protocol: 'json-1.1' },
  events: { protocol: 'json-1.1' },
  sqs: { protocol: 'json-1.0', queryCompatible: true },
  monitoring: { protocol: 'json-1.0', queryCompatible: true },
  states: { protocol: 'json-1.0' },
  dynamodb: { protocol: 'json-1.0' },
  lambda: { protocol: 'rest-json' },
  sns: { protocol: 'query', xmlns: 'http://sns.amazonaws.com/doc/2010-03-31/' },
  cloudformation: { protocol: 'query', xmlns: 'http://cloudformation.amazonaws.com/doc/2010-05-15/' },
  elasticache: { protocol: 'query', xmlns: 'http://elasticache.amazonaws.com/doc/2015-02-02/' },
  sts: { protocol: 'query', xmlns: 'https://sts.amazonaws.com/doc/2011-06-15/' },
};

/** The wire protocol of a service, by its SigV4 signing name (`s3`, `kms`, `monitoring`, `states`, ...). */
export function protocolOf(service: string): AwsProtocol {
  return SERVICES[service]?.protocol ?? 'json-1.1';
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * An error reply in `service`'s protocol shape, for the twin's own handlers and the proxy.
 *
 * @example awsErrorReply('kms', 400, 'NotFoundException', 'Key ... does not exist')
 */
export function awsErrorReply(service: string, status: number, code: string, message: string): ProxyReply {
  const info = SERVICES[service] ?? { protocol: 'json-1.1' as const };
  const requestId = randomUUID();
  const type = status >= 500 ? 'Receiver' : 'Sender';
  switch (info.protocol) {
    case 'rest-xml': {
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message><RequestId>${requestId}</RequestId><HostId>twin</HostId></Error>`;
      return { status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId }, body: Buffer.from(body) };
    }
    case 'query': {
      const body = `<ErrorResponse xmlns="${info.xmlns ?? ''}"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
      return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: Buffer.from(body) };
    }
    case 'rest-json':
      return {
        status,
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': code, 'x-amzn-requestid': requestId },
        body: Buffer.from(JSON.stringify({ Type: type === 'Sender' ? 'User' : 'Service', message })),
      };
    default: {
      const headers: Record<string, string> = { 'content-type': `application/x-amz-json-${info.protocol === 'json-1.0' ? '1.0' : '1.1'}`, 'x-amzn-requestid': requestId };
      if (info.queryCompatible === true) headers['x-amzn-query-error'] = `${code};${type}`;
      return { status, headers, body: Buffer.from(JSON.stringify({ __type: code, message })) };
    }
  }
}

/**
 * Each service's access-denied error (status, code): S3 `AccessDenied` 403 ("Error responses",
 * S3 API Reference); KMS, EventBridge and Step Functions `AccessDeniedException` 400 (their
 * "Common Errors"); Lambda `AccessDeniedException` 403 ("Errors", Lambda API Reference); SNS
 * `AuthorizationError` 403 (SNS API Reference, e.g. "Publish" Errors); SQS, CloudWatch,
 * CloudFormation, ElastiCache and STS `AccessDenied` 403 (the query-protocol code).
 */
const ACCESS_DENIED: Readonly<Record<string, readonly [number, string]>> = {
  s3: [403, 'AccessDenied'],
  kms: [400, 'AccessDeniedException'],
  events: [400, 'AccessDeniedException'],
  states: [400, 'AccessDeniedException'],
  // DynamoDB API Reference, "Common Errors": AccessDeniedException, HTTP 400.
  dynamodb: [400, 'AccessDeniedException'],
  lambda: [403, 'AccessDeniedException'],
  sns: [403, 'AuthorizationError'],
};

/** The reply AWS sends when authorization fails. */
export function accessDeniedReply(service: string, message: string): ProxyReply {
  const [status, code] = ACCESS_DENIED[service] ?? [403, 'AccessDenied'];
  return awsErrorReply(service, status, code, message);
}

/**
 * The reply AWS sends for an access key it does not know: S3 `InvalidAccessKeyId` 403 ("Error
 * responses", S3 API Reference); query-protocol services `InvalidClientTokenId` 403 ("Common
 * Errors"); JSON services `UnrecognizedClientException` (400; 403 for Lambda's REST-JSON).
 */
export function invalidAccessKeyReply(service: string): ProxyReply {
  const protocol = protocolOf(service);
  if (protocol === 'rest-xml') return awsErrorReply(service, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  const message = 'The security token included in the request is invalid.';
  if (protocol === 'query' || SERVICES[service]?.queryCompatible === true) return awsErrorReply(service, 403, 'InvalidClientTokenId', message);
  return awsErrorReply(service, protocol === 'rest-json' ? 403 : 400, 'UnrecognizedClientException', message);
}
