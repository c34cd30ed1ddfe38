/**
 * AWS Lambda (REST-JSON; @aws-sdk/client-lambda uses AwsRestJsonProtocol). Invoke is
 * `POST /2015-03-31/functions/{FunctionName}/invocations` with `?Qualifier=`, the
 * `X-Amz-Invocation-Type` header (RequestResponse | Event | DryRun) and the payload as the body
 * (the http trait of InvokeCommand in @aws-sdk/client-lambda/dist-cjs/index.js).
 *
 * Authorization: lambda:InvokeFunction on the function ARN, qualified when a version or alias is
 * named ("Actions, resources, and condition keys for AWS Lambda", Service Authorization Reference;
 * "Working with Lambda function ARNs": a qualified ARN is its own resource).
 */
import { arn, jsonBody, type MapContext, type MappedOperation, type RawHttpRequest } from './common';

/** The function ARN for any FunctionName form (name, `name:qualifier`, partial or full ARN) plus a separate qualifier. */
export function functionArn(ctx: MapContext, functionName: string, qualifier?: string): string {
  let name = functionName;
  let q = qualifier;
  if (functionName.startsWith('arn:')) {
    const parts = functionName.split(':');
    name = parts[6] ?? '';
    q = q ?? parts[7];
  } else if (/^\d{12}:function:/.test(functionName)) {
    const parts = functionName.split(':');
    name = parts[2] ?? '';
    q = q ?? parts[3];
  } else if (functionName.includes(':')) {
    [name = '', q] = [functionName.slice(0, functionName.indexOf(':')), q ?? functionName.slice(functionName.indexOf(':') + 1)];
  }
  const base = ctx.world.fn(name)?.arn ?? arn(ctx, 'lambda', `function:${name}`);
  return q === undefined ? base : `${base}:${q}`;
}

/** REST routes: method, path pattern → operation and IAM action. */
const ROUTES: readonly [string, RegExp, string, string][] = [
  ['POST', /^\/2015-03-31\/functions\/([^/]+)\/invocations$/, 'Invoke', 'lambda:InvokeFunction'],
  ['POST', /^\/2014-11-13\/functions\/([^/]+)\/invoke-async\/?$/, 'InvokeAsync', 'lambda:InvokeFunction'],
  ['GET', /^\/2015-03-31\/functions\/([^/]+)\/configuration$/, 'GetFunctionConfiguration', 'lambda:GetFunctionConfiguration'],
  ['GET', /^\/2015-03-31\/functions\/([^/]+)\/policy$/, 'GetPolicy', 'lambda:GetPolicy'],
  ['GET', /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config$/, 'GetFunctionEventInvokeConfig', 'lambda:GetFunctionEventInvokeConfig'],
  ['GET', /^\/2019-09-30\/functions\/([^/]+)\/concurrency$/, 'GetFunctionConcurrency', 'lambda:GetFunctionConcurrency'],
  ['PUT', /^\/2017-10-31\/functions\/([^/]+)\/concurrency$/, 'PutFunctionConcurrency', 'lambda:PutFunctionConcurrency'],
  ['GET', /^\/2015-03-31\/functions\/([^/]+)$/, 'GetFunction', 'lambda:GetFunction'],
  ['GET', /^\/2015-03-31\/functions\/?$/, 'ListFunctions', 'lambda:ListFunctions'],
];

/** Maps one Lambda request. */
export function mapLambda(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const q = new URLSearchParams(raw.query);
  for (const [method, pattern, operation, action] of ROUTES) {
    const m = raw.method.toUpperCase() === method ? pattern.exec(raw.path) : null;
    if (m === null) continue;
    const encoded = m[1];
    if (encoded === undefined) return { operation, params: {}, checks: [{ action, resource: '*', context: ctx.global }] };
    const functionName = decodeURIComponent(encoded);
    const qualifier = q.get('Qualifier') ?? undefined;
    const params: Record<string, unknown> = { FunctionName: functionName, ...(qualifier === undefined ? {} : { Qualifier: qualifier }) };
    if (operation === 'Invoke') {
      params['InvocationType'] = raw.headers['x-amz-invocation-type'] ?? 'RequestResponse';
      params['Payload'] = raw.body;
    } else if (raw.body.length > 0) {
      Object.assign(params, jsonBody(raw));
    }
    return { operation, params, checks: [{ action, resource: functionArn(ctx, functionName, qualifier), context: ctx.global }] };
  }
  return { operation: 'Unknown', params: {}, checks: [{ action: 'lambda:Unknown', resource: '*', context: ctx.global }] };
}
