/**
 * Local development: the same handler over a local rekey home (no AWS account, no network) and
 * an in-memory bucket. `npx ts-node src/local.ts [home]` stores one customer and reads it back
 * through API Gateway v2 events, exactly as the deployed function receives them.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createLocalRekeyClient } from 'rekey-kms/client';
import { createHandler, KEYRING } from './handler';
import { MemoryRecordBucket } from './record-bucket';

/**
 * An HTTP API payload format 2.0 event for `method /customers/{id}`
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
 *
 * @example
 * const event = httpApiEvent('GET', 'c-42');
 */
export function httpApiEvent(method: 'GET' | 'PUT', id: string, body?: string): APIGatewayProxyEventV2 {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: `${method} /customers/{id}`,
    rawPath: `/customers/${encodeURIComponent(id)}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'localhost' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: `/customers/${encodeURIComponent(id)}`, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'local' },
      requestId: `local-${now.getTime()}`,
      routeKey: `${method} /customers/{id}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    pathParameters: { id },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body }),
  };
}

async function main(home: string): Promise<void> {
  // The home holds a master key: a scratch folder, never committed.
  const rekey = await createLocalRekeyClient({ home, keyrings: [KEYRING] });
  const handler = createHandler({ rekey: { client: rekey }, records: new MemoryRecordBucket() });
  const context = { functionName: 'customer-records-local', awsRequestId: 'local' } as Context;
  try {
    const put = await handler(httpApiEvent('PUT', 'c-42', JSON.stringify({ name: 'Ada Lovelace', email: 'ada@example.com', card: '4111111111111111' })), context);
    console.log('PUT', put.statusCode, put.body);
    const get = await handler(httpApiEvent('GET', 'c-42'), context);
    console.log('GET', get.statusCode, get.body);
  } finally {
    await rekey.close();
  }
}

if (require.main === module) {
  main(process.argv[2] ?? '.rekey-local').catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  });
}
