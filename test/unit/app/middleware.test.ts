/**
 * The middleware around a real middy handler, over a real client (the seeded test key
 * provider). Event shape: API Gateway's Lambda proxy integration input, and the result its
 * output format (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html).
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { rekeyMiddleware, type RekeyLambdaContext } from '../../../shared/app/middleware';
import { DecryptError, ValidationError } from '../../../shared/errors';
import { METRIC } from '../../../shared/vocabulary/metric-names';
import { testClient } from './support';

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'orders-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders-api',
    memoryLimitInMB: '256',
    awsRequestId: 'req-1',
    logGroupName: '/aws/lambda/orders-api',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function post(body: unknown, customer = 'c-1'): APIGatewayProxyEvent {
  return {
    resource: '/customers/{id}',
    path: `/customers/${customer}`,
    httpMethod: 'POST',
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { id: customer },
    stageVariables: null,
    requestContext: { requestId: 'r-1', httpMethod: 'POST', path: `/prod/customers/${customer}`, stage: 'prod' } as APIGatewayProxyEvent['requestContext'],
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const customerContext = (event: APIGatewayProxyEvent): Record<string, string> => ({ customer: event.pathParameters?.id ?? '' });

describe('rekeyMiddleware', () => {
  describe('options', () => {
    it.each<[string, unknown]>([
      ['no client', { keyring: 'pii' }],
      ['both client and clientOptions', { client: testClient().client, clientOptions: { env: {} }, keyring: 'pii' }],
      ['no keyring', { client: testClient().client }],
      ['a typo', { client: testClient().client, keyring: 'pii', feilds: {} }],
      ['a typo in fields', { client: testClient().client, keyring: 'pii', fields: { decrpyt: ['ssn'] } }],
      ['a bad field path', { client: testClient().client, keyring: 'pii', fields: { encrypt: ['a..b'] } }],
      ['a context that is not a function', { client: testClient().client, keyring: 'pii', context: { customer: 'c-1' } }],
    ])('throws ValidationError at once for %s', (_what, options) => {
      // Act / Assess
      expect(() => rekeyMiddleware(options as Parameters<typeof rekeyMiddleware>[0])).toThrow(ValidationError);
    });
  });

  it('hands the handler decrypted fields and the client, and encrypts the result fields under the caller context', async () => {
    // Prepare
    const { client } = testClient();
    const ssn = (await client.encrypt('pii', JSON.stringify('123-45-6789'), { context: { customer: 'c-1' } })).toString('base64');
    const seen: unknown[] = [];
    // Typed as the adoption guide shows it: the handler names RekeyLambdaContext.
    const handler = middy(async (event: APIGatewayProxyEvent, context: RekeyLambdaContext): Promise<APIGatewayProxyResult> => {
      const customer = JSON.parse(event.body ?? '{}') as Record<string, unknown>;
      seen.push(customer, context.rekey === client);
      return { statusCode: 201, body: JSON.stringify({ ...customer, dob: { year: 1980 } }) };
    }).use(rekeyMiddleware<APIGatewayProxyEvent>({ client, keyring: 'pii', fields: { decrypt: ['ssn'], encrypt: ['ssn', 'dob'] }, context: customerContext }));
    // Act
    const result = (await handler(post({ name: 'Ada', ssn }), lambdaContext() as RekeyLambdaContext)) as APIGatewayProxyResult;
    // Assess
    expect(seen).toEqual([{ name: 'Ada', ssn: '123-45-6789' }, true]);
    const body = JSON.parse(result.body) as Record<string, string>;
    expect(result.statusCode).toBe(201);
    expect(body.name).toBe('Ada');
    expect(body.ssn).not.toContain('123');
    const opened = await client.decrypt(Buffer.from(body.dob!, 'base64'), { context: { customer: 'c-1' } });
    expect(JSON.parse(opened.plaintext.toString())).toEqual({ year: 1980 });
    await expect(client.decrypt(Buffer.from(body.ssn!, 'base64'), { context: { customer: 'c-2' } })).rejects.toThrow();
  });

  it('makes the client once per execution environment and again after a failed creation', async () => {
    // Prepare
    const { client } = testClient();
    let calls = 0;
    const make = async (): Promise<typeof client> => {
      calls += 1;
      if (calls === 1) throw new Error('cold start: no network yet');
      return client;
    };
    const handler = middy(async () => ({ statusCode: 200, body: '{}' })).use(rekeyMiddleware({ client: make, keyring: 'pii' }));
    // Act
    await expect(handler(post({}), lambdaContext())).rejects.toThrow('cold start');
    await handler(post({}), lambdaContext());
    await handler(post({}), lambdaContext());
    // Assess
    expect(calls).toBe(2);
  });

  it('fails a request whose field will not decrypt with the one DecryptError, and flushes its failure counts', async () => {
    // Prepare
    const { client, metrics } = testClient();
    const other = (await client.encrypt('pii', JSON.stringify('x'), { context: { customer: 'c-9' } })).toString('base64');
    let ran = false;
    const handler = middy(async () => {
      ran = true;
      return { statusCode: 200, body: '{}' };
    }).use(rekeyMiddleware<APIGatewayProxyEvent>({ client, keyring: 'pii', fields: { decrypt: ['ssn'] }, context: customerContext }));
    // Act
    const err = (await handler(post({ ssn: other }), lambdaContext()).catch((e: unknown) => e)) as Error;
    // Assess
    expect(err).toBeInstanceOf(DecryptError);
    expect(err.message).toBe(DecryptError.MESSAGE);
    expect(ran).toBe(false);
    expect(metrics.points).toEqual(
      expect.arrayContaining([
        { name: METRIC.decryptAttempts, value: 1, dimensions: { keyring: 'pii', version: 1 } },
        { name: METRIC.decryptFailures, value: 1, dimensions: { keyring: 'pii', version: 1 } },
      ]),
    );
  });

  it('flushes the decrypt counts after every invocation, so each one publishes only its own', async () => {
    // Prepare
    const { client, metrics } = testClient();
    const sealed = (await client.encrypt('pii', JSON.stringify('v'))).toString('base64');
    const handler = middy(async () => ({ statusCode: 200, body: '{}' })).use(rekeyMiddleware({ client, keyring: 'pii', fields: { decrypt: ['a', 'b'] } }));
    // Act
    await handler(post({ a: sealed, b: sealed }), lambdaContext());
    const first = metrics.points.splice(0);
    await handler(post({ a: sealed }), lambdaContext());
    // Assess
    expect(first).toEqual([
      { name: METRIC.decryptAttempts, value: 2, dimensions: { keyring: 'pii', version: 1 } },
      { name: METRIC.decryptFailures, value: 0, dimensions: { keyring: 'pii', version: 1 } },
    ]);
    expect(metrics.points).toEqual([
      { name: METRIC.decryptAttempts, value: 1, dimensions: { keyring: 'pii', version: 1 } },
      { name: METRIC.decryptFailures, value: 0, dimensions: { keyring: 'pii', version: 1 } },
    ]);
  });

  it('refuses a body that is not JSON without quoting it', async () => {
    // Prepare
    const { client } = testClient();
    const handler = middy(async () => ({ statusCode: 200, body: '{}' })).use(rekeyMiddleware({ client, keyring: 'pii', fields: { decrypt: ['ssn'] } }));
    const event = { ...post({}), body: 'ssn=123-45-6789' };
    // Act
    const err = (await handler(event, lambdaContext()).catch((e: unknown) => e)) as Error;
    // Assess
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).not.toContain('123');
  });

  it('works on a plain event and result (not API Gateway) as the document itself', async () => {
    // Prepare
    const { client } = testClient();
    const sealed = (await client.encrypt('pii', JSON.stringify(42))).toString('base64');
    const handler = middy(async (event: { n: number; id: string }) => ({ id: event.id, doubled: event.n * 2 })).use(
      rekeyMiddleware<{ n: number; id: string }>({ client, keyring: 'pii', fields: { decrypt: ['n'], encrypt: ['doubled'] } }),
    );
    // Act
    const result = (await handler({ n: sealed as unknown as number, id: 'x' }, lambdaContext())) as unknown as { id: string; doubled: string };
    // Assess
    expect(result.id).toBe('x');
    expect(JSON.parse((await client.decrypt(Buffer.from(result.doubled, 'base64'))).plaintext.toString())).toBe(84);
  });
});

describe('AppRekeyClient', () => {
  it('refuses every call after close, releases the backend once, and publishes what was left', async () => {
    // Prepare
    const { client, metrics, released } = testClient();
    await client.decrypt(await client.encrypt('pii', 'hello'));
    // Act
    await Promise.all([client.close(), client.close()]);
    // Assess
    expect(released()).toBe(1);
    expect(metrics.points.map((p) => p.name)).toEqual([METRIC.decryptAttempts, METRIC.decryptFailures]);
    await expect(async () => client.encrypt('pii', 'x')).rejects.toThrow(/closed/);
    expect(() => client.decryptStream()).toThrow(/closed/);
  });

  it('never passes a purpose to the provider: a revoked version stays unreadable to an application', async () => {
    // Prepare
    const { client, provider } = testClient();
    const envelope = await client.encrypt('pii', 'card');
    provider.revoked.add('pii#1');
    // Act / Assess
    await expect(client.decrypt(envelope, { purpose: 'reencrypt' } as never)).rejects.toThrow(/revoked/);
    expect(provider.decryptCalls.map((c) => c.purpose)).toEqual(['read']);
  });
});
