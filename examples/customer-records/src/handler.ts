/**
 * The customer-records API: an API Gateway HTTP API (payload format 2.0) Lambda behind Middy
 * with rekey's middleware. `PUT /customers/{id}` encrypts the record with keyring `pii` and
 * stores it; `GET /customers/{id}` decrypts it and, when the keyring rotated since, stores the
 * envelope refreshed to the active version (lazy re-wrap, conditional on the revision read).
 *
 * Event and result shapes: "Create AWS Lambda proxy integrations for HTTP APIs in API Gateway",
 * payload format version 2.0
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
 * `routeKey` ("PUT /customers/{id}"), `pathParameters`, `body` (base64 when `isBase64Encoded`),
 * and a result `{ statusCode, headers, body }`.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { isRekeyError, RevokedVersionError, UnknownVersionError } from 'rekey-kms/client';
import { rekeyMiddleware, type RekeyLambdaContext, type RekeyMiddlewareOptions } from 'rekey-kms/middleware';
import { BadRequestError, CustomerId, CustomerInput, parseOrBadRequest, type Customer } from './customers';
import { RecordConflictError, recordContext, S3RecordBucket, type RecordBucket } from './record-bucket';

/** The keyring the records are encrypted under. */
export const KEYRING = 'pii';

type Result = APIGatewayProxyStructuredResultV2;

/** What the handler is built from: where rekey comes from, and where the records live. */
export interface CustomerApiOptions {
  /** `clientOptions` on AWS (`{ env: process.env }`), `client` in tests and local development. */
  readonly rekey: Pick<RekeyMiddlewareOptions, 'client' | 'clientOptions'>;
  /** The records, or a function making them at the first invocation. */
  readonly records: RecordBucket | (() => RecordBucket);
}

function json(statusCode: number, body: unknown): Result {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function bodyOf(event: APIGatewayProxyEventV2): unknown {
  if (event.body === undefined || event.body === '') throw new BadRequestError('a JSON body is required');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BadRequestError('the body is not valid JSON');
  }
}

/**
 * Failures a retry can outlast: rekey's retryable errors (ThrottledError, BackendError, a lost
 * race), a version revoked whose record the revocation's sweep has not re-encrypted yet, and a
 * version newer than this process's catalog (refreshed at most once a second). docs/adopt.md:
 * answer 503 with Retry-After, never 404.
 */
function isRetryable(err: unknown): boolean {
  return isRekeyError(err) && (err.retryable || err instanceof RevokedVersionError || err instanceof UnknownVersionError);
}

/**
 * Builds the Lambda handler.
 *
 * @example
 * export const handler = createHandler({ rekey: { clientOptions: { env: process.env } }, records: () => S3RecordBucket.fromEnv(process.env) });
 */
export function createHandler(options: CustomerApiOptions) {
  let records: RecordBucket | undefined;
  const bucket = (): RecordBucket => (records ??= typeof options.records === 'function' ? options.records() : options.records);

  async function putCustomer(id: string, event: APIGatewayProxyEventV2, context: RekeyLambdaContext): Promise<Result> {
    const input = parseOrBadRequest(CustomerInput, bodyOf(event));
    const customer: Customer = { id, ...input, updatedAt: new Date().toISOString() };
    const envelope = await context.rekey.encrypt(KEYRING, JSON.stringify(customer), { context: recordContext(id) });
    const info = context.rekey.inspect(envelope);
    await bucket().put(id, envelope, { keyring: info.keyring, version: info.version, originVersion: info.originVersion });
    return json(200, { id, name: customer.name, email: customer.email, updatedAt: customer.updatedAt });
  }

  async function getCustomer(id: string, context: RekeyLambdaContext): Promise<Result> {
    const stored = await bucket().get(id);
    if (stored === undefined) return json(404, { message: `no customer '${id}'` });
    const bound = { context: recordContext(id) };
    const { plaintext } = await context.rekey.decrypt(stored.envelope, bound);
    const customer = JSON.parse(plaintext.toString('utf8')) as Customer;
    plaintext.fill(0);
    // Lazy re-wrap: move the record to the active version while it is at hand. Best effort: a
    // concurrent PUT (or rekey's own sweep) won the race and wrote something at least as new.
    const fresh = await context.rekey.refresh(stored.envelope, bound);
    if (fresh !== undefined) {
      const info = context.rekey.inspect(fresh);
      await bucket()
        .put(id, fresh, { keyring: info.keyring, version: info.version, originVersion: info.originVersion }, { ifMatch: stored.etag })
        .catch((err: unknown) => {
          if (!(err instanceof RecordConflictError)) throw err;
        });
    }
    return json(200, customer);
  }

  async function route(event: APIGatewayProxyEventV2, context: RekeyLambdaContext): Promise<Result> {
    try {
      const id = parseOrBadRequest(CustomerId, event.pathParameters?.id);
      if (event.routeKey === 'PUT /customers/{id}') return await putCustomer(id, event, context);
      if (event.routeKey === 'GET /customers/{id}') return await getCustomer(id, context);
      return json(404, { message: 'no such route' });
    } catch (err) {
      if (err instanceof BadRequestError) return json(400, { message: err.message });
      // Log the class and code only: a message may name internals, never shown to the caller.
      console.error(JSON.stringify({ level: 'ERROR', message: 'request failed', error: (err as Error).name, code: (err as { code?: string }).code }));
      if (isRetryable(err)) return { ...json(503, { message: 'temporarily unavailable, retry' }), headers: { 'content-type': 'application/json', 'retry-after': '1' } };
      return json(500, { message: 'internal error' });
    }
  }

  // Lambda calls with its plain Context; the middleware's `before` has put the client on it.
  return middy<APIGatewayProxyEventV2, Result, Error, Context>((event: APIGatewayProxyEventV2, context: Context) => route(event, context as RekeyLambdaContext)).use(
    rekeyMiddleware<APIGatewayProxyEventV2, Result>({ ...options.rekey, keyring: KEYRING }),
  );
}

/**
 * The Lambda entry point: rekey's configuration from the variables the rekey construct binds
 * (`bindEnvironment`), the records from RECORDS_BUCKET / RECORDS_PREFIX. Both are made at the
 * first invocation and reused by the warm execution environment.
 */
export const handler = createHandler({
  rekey: { clientOptions: { env: process.env } },
  records: () => S3RecordBucket.fromEnv(process.env),
});
