/**
 * Shared pieces of the twin's request mapping: the raw HTTP request the proxy received, the
 * SigV4 credential it carries, and the small ARN / context helpers every service mapper uses.
 */
import type { AuthzRequest, RequestContext, TwinPrincipal } from '../authz/types';
import type { TwinRole, TwinWorld } from '../world';

/** One HTTP request exactly as the proxy received it (header names lower-cased). */
export interface RawHttpRequest {
  readonly method: string;
  /** Path without the query string, still percent-encoded (`/bucket/a%2Fb`). */
  readonly path: string;
  /** Raw query string without the leading `?` (may be empty). */
  readonly query: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

/** The wire protocols of the services the twin serves (names as in the Smithy protocol traits). */
export type AwsProtocol = 'rest-xml' | 'rest-json' | 'json-1.0' | 'json-1.1' | 'query';

/** An authorization question before the principal is attached (the mapper does not know it). */
export type AuthzCheck = Omit<AuthzRequest, 'principal'> & { readonly principal?: TwinPrincipal };

/** What a service mapper derives from a request. */
export interface MappedOperation {
  readonly operation: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly checks: readonly AuthzCheck[];
}

/** Everything a service mapper may read besides the request itself. */
export interface MapContext {
  readonly world: TwinWorld;
  readonly region: string;
  readonly account: string;
  /** Global condition keys of this request (`aws:SecureTransport`, `aws:CurrentTime`, ...). */
  readonly global: RequestContext;
  /** KMS alias name (`alias/x`) → key ARN, for aliases the world does not know itself. */
  readonly aliases: ReadonlyMap<string, string>;
}

/** The SigV4 credential of a request: `Credential=AKID/20270101/us-east-1/s3/aws4_request`. */
export interface SigV4Credential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

/**
 * Reads the credential from the `Authorization` header or, for presigned URLs, the
 * `X-Amz-Credential` query parameter (SigV4: "Authenticating Requests: Using the Authorization
 * Header" / "Using Query Parameters", AWS General Reference, Signature Version 4).
 */
export function sigV4Credential(raw: RawHttpRequest): SigV4Credential | undefined {
  const auth = raw.headers['authorization'];
  const fromHeader = auth === undefined ? undefined : /Credential=([^,\s]+)/.exec(auth)?.[1];
  const scope = fromHeader ?? new URLSearchParams(raw.query).get('X-Amz-Credential') ?? undefined;
  if (scope === undefined) return undefined;
  const [accessKeyId, date, region, service] = scope.split('/');
  if (accessKeyId === undefined || date === undefined || region === undefined || service === undefined) return undefined;
  return { accessKeyId, date, region, service };
}

/** The request time the caller signed (`x-amz-date`, `20270101T000000Z`), in ms; the caller's clock is simulated. */
export function requestTime(raw: RawHttpRequest): number | undefined {
  const stamp = raw.headers['x-amz-date'] ?? new URLSearchParams(raw.query).get('X-Amz-Date') ?? undefined;
  const m = stamp === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (m !== null) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const date = raw.headers['date'];
  const parsed = date === undefined ? NaN : Date.parse(date);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** The role a credential belongs to, if the world knows its access key. */
export function roleOf(world: TwinWorld, credential: SigV4Credential | undefined): TwinRole | undefined {
  return credential === undefined ? undefined : world.roleByAccessKey(credential.accessKeyId);
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>` in the world's account. */
export function arn(ctx: MapContext, service: string, resource: string, region: string = ctx.region): string {
  return `arn:${ctx.world.partition}:${service}:${region}:${ctx.account}:${resource}`;
}

/** Parses a JSON request body (AWS JSON 1.0 / 1.1, REST-JSON); `{}` when empty or not an object. */
export function jsonBody(raw: RawHttpRequest): Record<string, unknown> {
  if (raw.body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(raw.body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A string field of a parsed body, if it is one. */
export function str(params: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = params[name];
  return typeof v === 'string' ? v : undefined;
}

/** A string → string map field of a parsed body (encryption contexts), if it is one. */
export function strMap(params: Readonly<Record<string, unknown>>, name: string): Record<string, string> | undefined {
  const v = params[name];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** The operation named by `X-Amz-Target: <ServiceTarget>.<Operation>` (AWS JSON 1.0 / 1.1). */
export function jsonTarget(raw: RawHttpRequest): string | undefined {
  const target = raw.headers['x-amz-target'];
  if (target === undefined) return undefined;
  const dot = target.lastIndexOf('.');
  return dot < 0 ? undefined : target.slice(dot + 1);
}

/** Form fields of an awsQuery body (`Action=Publish&TopicArn=...`), plus the URL query. */
export function queryParams(raw: RawHttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw.query)) out[k] = v;
  const type = raw.headers['content-type'] ?? '';
  if (raw.method === 'POST' && type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(raw.body.toString('utf8'))) out[k] = v;
  }
  return out;
}
