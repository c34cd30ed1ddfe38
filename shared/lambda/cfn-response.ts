/**
 * Answers a CloudFormation custom resource request: an HTTPS PUT of the response object to the
 * request's presigned ResponseURL.
 *
 * The object's fields are those of "Custom resource response objects"
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html):
 * Status (SUCCESS or FAILED), Reason (required when FAILED), PhysicalResourceId (non-empty, at
 * most 1 KB, identical for every response of the resource), StackId, RequestId and
 * LogicalResourceId copied verbatim from the request, optional NoEcho and Data; the whole body
 * at most 4096 bytes. The request is sent as the `cfn-response` module of the CloudFormation
 * User Guide sends it ("cfn-response module", its Node.js source): method PUT, an empty
 * `content-type` (the presigned URL is signed without one) and the body's `content-length`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendError, ValidationError } from '../errors';

/** One response object. */
export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho?: boolean;
  readonly Data?: Readonly<Record<string, string>>;
}

/** Options of {@link sendCfnResponse}. */
export interface CfnResponderOptions {
  /** Time allowed for one PUT. @default 10000 */
  readonly timeoutMs?: number;
  /** PUTs before giving up (each retry after a short pause). @default 3 */
  readonly attempts?: number;
  /**
   * Also accept `http://` URLs to a loopback host (tests answer to a local server). CloudFormation
   * itself always sends an `https://` presigned S3 URL. @default false
   */
  readonly allowLoopbackHttp?: boolean;
}

/** Largest response body CloudFormation accepts. */
export const MAX_RESPONSE_BYTES = 4096;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Checks a ResponseURL before anything is sent to it.
 *
 * @throws ValidationError unless it is an https URL (or, when allowed, http to a loopback host).
 */
export function checkResponseUrl(text: string, allowLoopbackHttp = false): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ValidationError('ResponseURL is not a URL');
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowLoopbackHttp && LOOPBACK.has(url.hostname)) return url;
  throw new ValidationError('ResponseURL must be an https URL');
}

/**
 * Serializes `response`, shortening Reason (never anything else) so that the body fits in
 * {@link MAX_RESPONSE_BYTES}.
 */
export function responseBody(response: CfnResponse): string {
  const body = JSON.stringify(response);
  if (Buffer.byteLength(body) <= MAX_RESPONSE_BYTES) return body;
  const reason = response.Reason ?? '';
  const withReason = (keep: number): string => JSON.stringify({ ...response, Reason: `${reason.slice(0, keep)}…` });
  // The longest prefix of Reason that fits (bytes, not characters: JSON escapes and UTF-8 vary).
  let lo = 0;
  let hi = reason.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (Buffer.byteLength(withReason(mid)) <= MAX_RESPONSE_BYTES) lo = mid;
    else hi = mid - 1;
  }
  const clipped = withReason(lo);
  if (Buffer.byteLength(clipped) > MAX_RESPONSE_BYTES) throw new ValidationError('custom resource response is larger than 4096 bytes');
  return clipped;
}

/**
 * PUTs `response` to `responseUrl`, retrying a failed or timed-out PUT a few times.
 *
 * @example
 * await sendCfnResponse(event.ResponseURL, { Status: 'SUCCESS', PhysicalResourceId: 'pii', StackId, RequestId, LogicalResourceId });
 * @throws ValidationError on a bad URL; BackendError when every attempt failed (the invoker retries).
 */
export async function sendCfnResponse(responseUrl: string, response: CfnResponse, options: CfnResponderOptions = {}): Promise<void> {
  const url = checkResponseUrl(responseUrl, options.allowLoopbackHttp === true);
  const body = responseBody(response);
  const attempts = options.attempts ?? 3;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let last = 'no attempt';
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      const res = await fetch(url, {
        method: 'PUT',
        // fetch sets content-length itself from the string body.
        headers: { 'content-type': '' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      // Drain the (small) body so the connection is released.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.name : 'error';
    }
    if (attempt < attempts) await sleep(200 * attempt);
  }
  throw new BackendError(`could not deliver the custom resource response (${last})`);
}
