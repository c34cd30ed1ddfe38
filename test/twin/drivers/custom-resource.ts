/**
 * CloudFormation's side of a Lambda-backed custom resource. The request event is built as
 * documented in "Custom resource request objects" and the Create/Update/Delete request type
 * pages (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html;
 * typed by @types/aws-lambda's CloudFormationCustomResourceEvent, which carries ServiceToken at
 * the top level too). Its ResponseURL is a presigned-S3-like URL on a loopback HTTP server this
 * driver starts; the provider is invoked asynchronously (as CloudFormation invokes it, Event
 * invocation type) and must PUT the response object of "Custom resource response objects"
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html):
 * Status SUCCESS|FAILED, Reason (required when FAILED), PhysicalResourceId (non-empty, up to
 * 1 KB), StackId, RequestId and LogicalResourceId copied from the request, NoEcho, Data; body up
 * to 4096 bytes. A response that breaks those rules fails the resource, as in CloudFormation.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { CustomResourceCall } from '../standup/types';

/** What CloudFormation concluded from the provider's response. */
export interface CustomResourceOutcome {
  readonly status: 'SUCCESS' | 'FAILED';
  readonly physicalResourceId: string;
  readonly data?: Record<string, unknown>;
  readonly reason?: string;
  readonly noEcho?: boolean;
  /** The request event the provider was invoked with. */
  readonly event: CloudFormationCustomResourceEvent;
  /** The raw body the provider PUT, if any. */
  readonly responseBody?: string;
}

/** Options of {@link runCustomResource}. */
export interface RunCustomResourceOptions {
  /** Real-time bound on waiting for the provider's PUT; default 60 s. */
  readonly timeoutMs?: number;
  /** Serve the ResponseURL over HTTPS with this identity, as S3 does (default: plain HTTP, for unit tests). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

/** Invokes the provider (a Lambda ARN) asynchronously with the request event. */
export type InvokeAsync = (functionArn: string, event: CloudFormationCustomResourceEvent) => Promise<void>;

const MAX_BODY = 4096;
const MAX_PHYSICAL_ID = 1024;

/** Builds the request event CloudFormation sends for `call`, answered at `responseUrl`. */
export function customResourceEvent(call: CustomResourceCall, responseUrl: string, requestId: string = randomUUID()): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: call.serviceToken,
    ResponseURL: responseUrl,
    StackId: call.stackId,
    RequestId: requestId,
    ResourceType: call.type,
    LogicalResourceId: call.logicalId,
    ResourceProperties: { ...call.properties, ServiceToken: call.serviceToken },
  };
  if (call.requestType === 'Create') return { ...common, RequestType: 'Create' };
  if (call.physicalResourceId === undefined) throw new Error(`${call.requestType} of ${call.logicalId} needs the PhysicalResourceId`);
  if (call.requestType === 'Delete') return { ...common, RequestType: 'Delete', PhysicalResourceId: call.physicalResourceId };
  return { ...common, RequestType: 'Update', PhysicalResourceId: call.physicalResourceId, OldResourceProperties: { ...(call.oldProperties ?? {}), ServiceToken: call.serviceToken } };
}

/** Why a provider's response is not one CloudFormation accepts, or undefined when it is. */
export function responseProblem(body: string, event: CloudFormationCustomResourceEvent): string | undefined {
  if (Buffer.byteLength(body) > MAX_BODY) return `Response object is too long (${Buffer.byteLength(body)} bytes > ${MAX_BODY})`;
  let r: Record<string, unknown>;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'Invalid response object: not a JSON object';
    r = parsed as Record<string, unknown>;
  } catch {
    return 'Invalid response object: not JSON';
  }
  if (r['Status'] !== 'SUCCESS' && r['Status'] !== 'FAILED') return `Invalid response object: Status must be SUCCESS or FAILED, got ${JSON.stringify(r['Status'])}`;
  for (const field of ['StackId', 'RequestId', 'LogicalResourceId'] as const) {
    if (r[field] !== event[field]) return `Invalid response object: ${field} ${JSON.stringify(r[field])} does not match the request's ${JSON.stringify(event[field])}`;
  }
  const physical = r['PhysicalResourceId'];
  if (typeof physical !== 'string' || physical === '') return 'Invalid PhysicalResourceId: must be a non-empty string';
  if (Buffer.byteLength(physical) > MAX_PHYSICAL_ID) return 'Invalid PhysicalResourceId: longer than 1 KB';
  if (event.RequestType === 'Delete' && physical !== event.PhysicalResourceId) return `Invalid PhysicalResourceId: a Delete must return ${event.PhysicalResourceId}`;
  if (r['Status'] === 'FAILED' && (typeof r['Reason'] !== 'string' || r['Reason'] === '')) return 'Invalid response object: Reason is required when Status is FAILED';
  if (r['Data'] !== undefined && (r['Data'] === null || typeof r['Data'] !== 'object' || Array.isArray(r['Data']))) return 'Invalid response object: Data must be a JSON object';
  if (r['NoEcho'] !== undefined && typeof r['NoEcho'] !== 'boolean') return 'Invalid response object: NoEcho must be a boolean';
  return undefined;
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Keep one byte past the limit so the validator reports the oversize body.
      if (size <= limit + 1) chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** S3's error document for a refused presigned request (S3 API Reference, "Error responses"). */
function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

/**
 * Runs one custom-resource request: invokes the provider asynchronously with the documented
 * event and waits (bounded) for its PUT to the ResponseURL. A missing or invalid response
 * yields FAILED, with the reason CloudFormation would give.
 *
 * @example
 * const outcome = await runCustomResource(call, (arn, event) => runtime.invokeAsync(arn, event).then(() => undefined));
 */
export async function runCustomResource(call: CustomResourceCall, invokeAsync: InvokeAsync, opts: RunCustomResourceOptions = {}): Promise<CustomResourceOutcome> {
  const requestId = randomUUID();
  const objectKey = `/cloudformation-custom-resource-response-${call.stackId.split(':')[3]?.replace(/-/g, '') ?? 'useast1'}/${encodeURIComponent(`${call.stackId}|${call.logicalId}|${requestId}`)}`;
  const signature = randomBytes(32).toString('hex');
  let deliver: (body: string) => void = () => undefined;
  const delivered = new Promise<string>((resolve) => {
    deliver = resolve;
  });
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== objectKey || url.searchParams.get('X-Amz-Signature') !== signature) return s3Error(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    if (req.method !== 'PUT') return s3Error(res, 403, 'SignatureDoesNotMatch', 'The URL was presigned for PUT.');
    readBody(req, MAX_BODY).then(
      (body) => {
        res.writeHead(200, { etag: `"${randomBytes(16).toString('hex')}"`, connection: 'close' });
        res.end();
        deliver(body);
      },
      () => s3Error(res, 400, 'IncompleteBody', 'The request body terminated unexpectedly'),
    );
  };
  const server = opts.tls === undefined ? createServer(serve) : createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const query = new URLSearchParams({ 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Date': '20270101T000000Z', 'X-Amz-Expires': '7200', 'X-Amz-SignedHeaders': 'host', 'X-Amz-Signature': signature });
  const event = customResourceEvent(call, `${opts.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}${objectKey}?${query.toString()}`, requestId);
  const failed = (reason: string, responseBody?: string): CustomResourceOutcome => ({
    status: 'FAILED',
    physicalResourceId: call.physicalResourceId ?? `${call.logicalId}-${requestId}`,
    reason,
    event,
    ...(responseBody === undefined ? {} : { responseBody }),
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await invokeAsync(call.serviceToken, event);
    const body = await Promise.race([
      delivered,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), opts.timeoutMs ?? 60_000);
      }),
    ]);
    if (body === undefined) return failed(`CloudFormation did not receive a response from your Custom Resource within ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s`);
    const problem = responseProblem(body, event);
    if (problem !== undefined) return failed(problem, body);
    const r = JSON.parse(body) as { Status: 'SUCCESS' | 'FAILED'; Reason?: string; PhysicalResourceId: string; Data?: Record<string, unknown>; NoEcho?: boolean };
    return {
      status: r.Status,
      physicalResourceId: r.PhysicalResourceId,
      event,
      responseBody: body,
      ...(r.Data === undefined ? {} : { data: r.Data }),
      ...(r.Reason === undefined ? {} : { reason: r.Reason }),
      ...(r.NoEcho === undefined ? {} : { noEcho: r.NoEcho }),
    };
  } catch (err) {
    return failed(`the provider could not be invoked: ${(err as Error).message}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
