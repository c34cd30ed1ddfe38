/**
 * The middleware around a real middy handler with API Gateway-shaped events, over the AWS
 * client on moto_server (made from `clientOptions` at the first invocation) and over a local
 * home, as an application's own tests would run it. Event and result shapes: API Gateway's
 * Lambda proxy integration, "Input format of a Lambda function for proxy integration" and
 * "Output format ..." in https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createLocalRekeyClient } from '../../../shared/app/client';
import { rekeyMiddleware, type RekeyLambdaContext } from '../../../shared/app/middleware';
import { DecryptError } from '../../../shared/errors';
import { METRIC } from '../../../shared/vocabulary/metric-names';
import { scratchDir } from '../../support/scratch';
import { createHarness, lambdaContext, RecordingMetrics, type Harness } from '../functions/support/harness';

function put(id: string, body: Record<string, unknown>, base64 = false): APIGatewayProxyEvent {
  const text = JSON.stringify(body);
  return {
    resource: '/customers/{id}',
    path: `/customers/${id}`,
    httpMethod: 'PUT',
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: { 'content-type': ['application/json'] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { id },
    stageVariables: null,
    requestContext: { accountId: '123456789012', apiId: 'api', httpMethod: 'PUT', path: `/prod/customers/${id}`, stage: 'prod', requestId: `r-${id}`, resourcePath: '/customers/{id}' } as APIGatewayProxyEvent['requestContext'],
    body: base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: base64,
  };
}

/** An application's handler: stores what it gets (already decrypted) and echoes it back. */
function customerApi(store: Map<string, unknown>, options: Parameters<typeof rekeyMiddleware<APIGatewayProxyEvent>>[0]) {
  return middy(async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const customer = JSON.parse(event.body ?? '{}') as Record<string, unknown>;
    store.set(event.pathParameters?.id ?? '', customer);
    // The client is on the context too, for what the fields do not cover.
    const note = await (context as RekeyLambdaContext).rekey.encrypt(options.keyring, 'audit note', { context: { customer: event.pathParameters?.id ?? '' } });
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...customer, note: note.length > 0 }) };
  }).use(rekeyMiddleware<APIGatewayProxyEvent>(options));
}

const byCustomer = (event: APIGatewayProxyEvent): Record<string, string> => ({ customer: event.pathParameters?.id ?? '' });

describe('rekeyMiddleware', () => {
  describe('on AWS (moto_server)', () => {
    let h: Harness;
    let metrics: RecordingMetrics;

    beforeAll(async () => {
      h = await createHarness();
      metrics = new RecordingMetrics();
    });

    afterAll(async () => {
      await h.close();
    });

    it('decrypts the request fields, encrypts the response fields, and flushes the counts with each invocation', async () => {
      // Prepare: another service sealed the SSN with the functions' own wiring.
      const ssn = (await h.services.envelopes.encrypt(h.keyring, Buffer.from(JSON.stringify('123-45-6789')), { context: { customer: 'c-1' } })).toString('base64');
      const store = new Map<string, unknown>();
      const handler = customerApi(store, {
        clientOptions: { env: h.env, clients: { kms: h.clients.kms, s3: h.clients.s3 }, metrics },
        keyring: h.keyring,
        fields: { decrypt: ['ssn'], encrypt: ['ssn'] },
        context: byCustomer,
      });
      // Act
      const first = (await handler(put('c-1', { name: 'Ada', ssn }), lambdaContext())) as APIGatewayProxyResult;
      const afterFirst = metrics.points.splice(0);
      const second = (await handler(put('c-1', { name: 'Ada', ssn }, true), lambdaContext())) as APIGatewayProxyResult;
      // Assess
      expect(store.get('c-1')).toEqual({ name: 'Ada', ssn: '123-45-6789' });
      for (const result of [first, second]) {
        const body = JSON.parse(result.body) as { ssn: string; name: string; note: boolean };
        expect(body).toMatchObject({ name: 'Ada', note: true });
        const opened = await h.services.envelopes.decrypt(Buffer.from(body.ssn, 'base64'), { context: { customer: 'c-1' } });
        expect(JSON.parse(opened.plaintext.toString())).toBe('123-45-6789');
      }
      expect(afterFirst).toEqual([
        { name: METRIC.decryptAttempts, value: 1, dimensions: { keyring: h.keyring, version: 1 } },
        { name: METRIC.decryptFailures, value: 0, dimensions: { keyring: h.keyring, version: 1 } },
      ]);
      expect(metrics.values(METRIC.decryptAttempts, { keyring: h.keyring, version: 1 })).toEqual([1]);
    });

    it('answers a field sealed for another customer with DecryptError and publishes the failure', async () => {
      // Prepare
      const ssn = (await h.services.envelopes.encrypt(h.keyring, Buffer.from(JSON.stringify('x')), { context: { customer: 'c-2' } })).toString('base64');
      const store = new Map<string, unknown>();
      const failures = new RecordingMetrics();
      const handler = customerApi(store, { clientOptions: { env: h.env, clients: { kms: h.clients.kms, s3: h.clients.s3 }, metrics: failures }, keyring: h.keyring, fields: { decrypt: ['ssn'] }, context: byCustomer });
      // Act
      const err = await handler(put('c-1', { ssn }), lambdaContext()).catch((e: unknown) => e);
      // Assess
      expect(err).toBeInstanceOf(DecryptError);
      expect(store.size).toBe(0);
      expect(failures.values(METRIC.decryptFailures, { keyring: h.keyring, version: 1 })).toEqual([1]);
    });
  });

  describe('on a local home (an application test without AWS)', () => {
    it('runs the same handler with a local client', async () => {
      // Prepare
      const client = await createLocalRekeyClient({ home: scratchDir('app-mw-'), keyrings: ['pii'] });
      const ssn = (await client.encrypt('pii', JSON.stringify('987-65-4321'), { context: { customer: 'c-7' } })).toString('base64');
      const store = new Map<string, unknown>();
      const handler = customerApi(store, { client, keyring: 'pii', fields: { decrypt: ['ssn'], encrypt: ['ssn'] }, context: byCustomer });
      // Act
      const result = (await handler(put('c-7', { ssn }), lambdaContext())) as APIGatewayProxyResult;
      // Assess
      expect(store.get('c-7')).toEqual({ ssn: '987-65-4321' });
      const sealed = (JSON.parse(result.body) as { ssn: string }).ssn;
      expect(JSON.parse((await client.decrypt(Buffer.from(sealed, 'base64'), { context: { customer: 'c-7' } })).plaintext.toString())).toBe('987-65-4321');
      await client.close();
    });
  });
});
