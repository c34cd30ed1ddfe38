/**
 * The twin's authorizing proxy: the one AWS endpoint every twin process uses
 * (`AWS_ENDPOINT_URL=<proxy url>`). Each request is mapped to the authorization questions AWS
 * would ask, answered by the RequestAuthorizer (identity, resource and key policies, grants), and
 * then either served by a twin handler (hooks) or forwarded byte-for-byte to the private moto.
 * Every request is logged in `world.requestLog`.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthzDecision, GrantSource, RequestAuthorizer } from './authz/types';
import { accessDeniedReply, awsErrorReply, invalidAccessKeyReply, type ProxyReply } from './request-map/errors';
import { mapRequest, type AwsRequest, type RawHttpRequest } from './request-map/index';
import { defaultRetentionHeaders, retainUntil, retentionXml } from './request-map/object-lock';
import type { TwinWorld } from './world';

export { awsErrorReply, accessDeniedReply, invalidAccessKeyReply, protocolOf, type ProxyReply } from './request-map/errors';
export { mapRequest, INSECURE_TRANSPORT_HEADER, type AwsRequest, type MapOptions, type RawHttpRequest, type AwsProtocol } from './request-map/index';
export { stackArn } from './request-map/query';

/** Twin handlers the proxy consults after authorization. */
export interface ProxyHooks {
  /** Serves a request itself (Lambda Invoke, StartExecution, PutEvents, DescribeStacks); `undefined` forwards it to moto. */
  handle?(req: AwsRequest): ProxyReply | undefined | Promise<ProxyReply | undefined>;
  /** Observes every authorized request and its reply (S3 → EventBridge notifications, cache invalidation). */
  after?(req: AwsRequest, reply: ProxyReply): void | Promise<void>;
  /** Observes every request the authorizer denied, with the AccessDenied reply (CloudTrail records those too). */
  denied?(req: AwsRequest, reply: ProxyReply): void | Promise<void>;
}

/** Options of {@link startTwinProxy}. */
export interface TwinProxyOptions {
  readonly world: TwinWorld;
  /** The private moto_server behind the proxy (`http://127.0.0.1:<port>`). */
  readonly motoUrl: string;
  readonly authorizer: RequestAuthorizer;
  /** Invalidated after a successful CreateGrant / RevokeGrant / RetireGrant. */
  readonly grants?: GrantSource;
  readonly hooks?: ProxyHooks;
  /** Fallback clock for requests without `x-amz-date` (default: Date.now). */
  readonly now?: () => number;
}

/** A running proxy. */
export interface TwinProxy {
  /** `http://127.0.0.1:<port>`: the AWS_ENDPOINT_URL of every twin process. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and framing the proxy recomputes. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer', 'content-length']);

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toRaw(req: http.IncomingMessage, body: Buffer): RawHttpRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return { method: req.method ?? 'GET', path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers, body };
}

/** Sends one request to moto and collects the reply. */
function send(motoUrl: string, method: string, pathAndQuery: string, headers: Record<string, string>, body: Buffer): Promise<ProxyReply> {
  const target = new URL(pathAndQuery, motoUrl);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
  out['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: target.hostname, port: target.port, method, path: `${target.pathname}${target.search}`, headers: out }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const replyHeaders: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) replyHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
        // A HEAD reply has no body but announces the object's length (HeadObject's ContentLength).
        if (method === 'HEAD' && res.headers['content-length'] !== undefined) replyHeaders['content-length'] = res.headers['content-length'];
        resolve({ status: res.statusCode ?? 502, headers: replyHeaders, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** Reads moto's KMS aliases (ListAliases, AWS JSON 1.1) so alias KeyIds resolve to their key. */
async function motoAliases(motoUrl: string, region: string): Promise<Map<string, string>> {
  const aliases = new Map<string, string>();
  let marker: string | undefined;
  do {
    const reply = await send(
      motoUrl,
      'POST',
      '/',
      {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.ListAliases',
        // moto_server picks the service from the credential scope; it verifies no signature.
        authorization: `AWS4-HMAC-SHA256 Credential=twin/20270101/${region}/kms/aws4_request, SignedHeaders=host, Signature=0`,
      },
      Buffer.from(JSON.stringify(marker === undefined ? {} : { Marker: marker })),
    );
    const page = JSON.parse(reply.body.toString('utf8')) as { Aliases?: { AliasName?: string; AliasArn?: string; TargetKeyId?: string }[]; NextMarker?: string; Truncated?: boolean };
    for (const a of page.Aliases ?? []) {
      if (a.AliasName === undefined || a.TargetKeyId === undefined || a.AliasArn === undefined) continue;
      aliases.set(a.AliasName, a.AliasArn.replace(/:alias\/.*$/, `:key/${a.TargetKeyId}`));
    }
    marker = page.Truncated === true ? page.NextMarker : undefined;
  } while (marker !== undefined);
  return aliases;
}

/** Whether an S3 reply is a success (CompleteMultipartUpload and CopyObject can fail inside a 200: "CompleteMultipartUpload", S3 API Reference). */
function succeeded(reply: ProxyReply): boolean {
  return reply.status >= 200 && reply.status < 300 && !reply.body.subarray(0, 200).toString('utf8').includes('<Error>');
}

/**
 * Starts the proxy on a free loopback port.
 *
 * @example
 * const proxy = await startTwinProxy({ world, motoUrl: moto.url, authorizer });
 * new S3Client({ endpoint: proxy.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey } });
 */
export async function startTwinProxy(options: TwinProxyOptions): Promise<TwinProxy> {
  const { world, motoUrl, authorizer, grants, hooks } = options;

  const serve = async (raw: RawHttpRequest): Promise<{ req?: AwsRequest; reply: ProxyReply; decision?: AuthzDecision }> => {
    const wantsAliases = raw.headers['x-amz-target']?.startsWith('TrentService.') === true && raw.body.includes('alias/');
    const aliases = wantsAliases ? await motoAliases(motoUrl, world.region) : undefined;
    const req = mapRequest(world, raw, { ...(aliases === undefined ? {} : { aliases }), ...(options.now === undefined ? {} : { now: options.now }) });
    if (req.unknownAccessKey) return { req, reply: invalidAccessKeyReply(req.service), decision: { allowed: false, reason: `unknown access key ${req.credential?.accessKeyId ?? ''}` } };
    let last: AuthzDecision = { allowed: true, reason: 'no authorization required' };
    for (const question of req.authz) {
      last = await authorizer.authorize(question);
      if (!last.allowed) {
        const reply = accessDeniedReply(req.service, last.reason);
        await hooks?.denied?.(req, reply);
        return { req, reply, decision: last };
      }
    }
    const served = await hooks?.handle?.(req);
    const reply = served ?? (await forward(req));
    if (req.service === 'kms' && ['CreateGrant', 'RevokeGrant', 'RetireGrant'].includes(req.operation) && reply.status < 300) {
      const key = req.authz[0]?.resource;
      grants?.invalidate(key === undefined || key === '*' ? undefined : key);
    }
    await hooks?.after?.(req, reply);
    return { req, reply, decision: last };
  };

  const forward = async (req: AwsRequest): Promise<ProxyReply> => {
    const { raw } = req;
    const bucket = req.service === 's3' && typeof req.params['Bucket'] === 'string' ? world.buckets.get(req.params['Bucket']) : undefined;
    const headers = { ...raw.headers, ...(defaultRetentionHeaders(req, bucket) ?? {}) } as Record<string, string>;
    const pathAndQuery = raw.query === '' ? raw.path : `${raw.path}?${raw.query}`;
    const reply = await send(motoUrl, raw.method, pathAndQuery, headers, raw.body);
    if (req.operation === 'CompleteMultipartUpload' && bucket?.objectLock !== undefined && succeeded(reply)) {
      // moto's multipart path ignores Object Lock: set the default retention on the new version.
      const version = reply.headers['x-amz-version-id'];
      const body = Buffer.from(retentionXml(bucket.objectLock.mode, retainUntil(req.at, bucket.objectLock.days)));
      const query = `retention${version === undefined ? '' : `&versionId=${encodeURIComponent(version)}`}`;
      const set = await send(motoUrl, 'PUT', `${raw.path}?${query}`, { authorization: raw.headers['authorization'] ?? '', 'content-md5': createHash('md5').update(body).digest('base64'), 'content-type': 'application/xml' }, body);
      if (!succeeded(set)) return awsErrorReply('s3', 500, 'InternalError', `twin: applying default retention failed: ${set.body.toString('utf8')}`);
    }
    return reply;
  };

  const server = http.createServer((incoming, outgoing) => {
    void (async () => {
      const body = await readBody(incoming);
      const raw = toRaw(incoming, body);
      let result: { req?: AwsRequest; reply: ProxyReply; decision?: AuthzDecision };
      try {
        result = await serve(raw);
      } catch (err) {
        const service = raw.headers['authorization']?.split('/')[3] ?? 's3';
        result = { reply: awsErrorReply(service, 500, 'InternalFailure', `twin proxy: ${err instanceof Error ? err.message : String(err)}`) };
      }
      const { req, reply, decision } = result;
      world.requestLog.push({
        at: req?.at ?? (options.now ?? Date.now)(),
        service: req?.service ?? 'unknown',
        action: req?.authz[0]?.action ?? `${req?.service ?? 'unknown'}:${req?.operation ?? 'Unknown'}`,
        operation: req?.operation ?? 'Unknown',
        caller: req === undefined ? 'anonymous' : req.principal.kind === 'role' ? req.principal.arn : req.principal.kind === 'service' ? req.principal.service : 'anonymous',
        resources: req?.authz.map((a) => a.resource) ?? [],
        allowed: decision?.allowed ?? false,
        ...(decision === undefined ? { reason: 'twin proxy failure' } : decision.allowed ? {} : { reason: decision.reason }),
        bytesIn: body.length,
        bytesOut: reply.body.length,
        status: reply.status,
      });
      const length = incoming.method === 'HEAD' ? (reply.headers['content-length'] ?? '0') : String(reply.body.length);
      // The SDK corrects its clock from the reply's Date header when they differ (SigV4 clock-skew
      // correction: AwsSdkSigV4Signer.successHandler in @aws-sdk/core sets systemClockOffset from it after
      // every reply): moto's wall-clock Date would pull a simulated caller back
      // to real time, so the reply carries the caller's own (simulated) time instead.
      const date = new Date(req?.at ?? (options.now ?? Date.now)()).toUTCString();
      outgoing.writeHead(reply.status, { ...reply.headers, date, 'content-length': length });
      outgoing.end(incoming.method === 'HEAD' ? undefined : reply.body);
    })();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}
