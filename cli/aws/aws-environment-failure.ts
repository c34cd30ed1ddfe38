/**
 * What an operator sees when AWS mode cannot reach or use AWS at all: no credentials, no region,
 * an endpoint that refuses or never answers, a refused call. The SDK reports these as bare
 * classes (`CredentialsProviderError`, `TimeoutError`, an `Error` with code `ECONNREFUSED`), often
 * wrapped by an adapter's mapping as the `cause` of a BackendError; the CLI would then print only
 * a class name. Each becomes one line that says what is wrong and what to do, with exit 6.
 * Nothing of the request or the credentials goes into the line: only the endpoint (a URL the
 * operator gave or the SDK's regional default), the region and the call's name.
 */
import { AccessDeniedError, BackendError, isRekeyError } from '../../shared/errors';

/** Where the failed command was pointed, for the message. */
export interface AwsWhere {
  /** `--endpoint`, when given. */
  readonly endpoint?: string;
  /** The region, when known. */
  readonly region?: string;
}

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
}

/** The error and its causes, outermost first (bounded: a cyclic chain cannot loop). */
function chainOf(err: unknown): ErrorShape[] {
  const out: ErrorShape[] = [];
  let e: unknown = err;
  while (typeof e === 'object' && e !== null && out.length < 8 && !out.includes(e as ErrorShape)) {
    out.push(e as ErrorShape);
    e = (e as ErrorShape).cause;
  }
  return out;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

function endpointOf(where: AwsWhere): string {
  if (where.endpoint !== undefined) return where.endpoint;
  return where.region === undefined ? 'the AWS endpoint' : `the AWS endpoint in ${where.region}`;
}

/** "4 s" from the SDK's "…configured 4000 ms requestTimeout" / "…timed out after 4000 ms…". */
function timeoutOf(message: string): string {
  const ms = /(\d+) ms/.exec(message)?.[1];
  return ms === undefined ? 'its timeout' : `${Math.round(Number(ms) / 1000)} s`;
}

const ERRNO_IN_TEXT = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|EHOSTDOWN|ETIMEDOUT|EPIPE)\b/;
const NETWORK_UNREACHABLE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EHOSTDOWN']);
const NAME_UNRESOLVED = new Set(['ENOTFOUND', 'EAI_AGAIN']);

/**
 * Turns an AWS environment failure into its one-line RekeyError; anything else is returned as it
 * is (the CLI's own mapping applies).
 *
 * @example
 * throw explainAwsFailure(err, { endpoint: '--endpoint value', region: 'eu-west-1' });
 */
export function explainAwsFailure(err: unknown, where: AwsWhere): unknown {
  const chain = chainOf(err);
  const endpoint = endpointOf(where);
  for (const e of chain) {
    const name = text(e.name);
    const message = text(e.message);
    // The SDK's retry step rewraps an error of another realm (a test VM) as "AWS SDK error wrapper
    // for Error: connect ECONNREFUSED …", keeping only the text: read the errno from it then.
    const code = text(e.code) || (ERRNO_IN_TEXT.exec(message)?.[1] ?? '');
    if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
      return new BackendError(
        'no AWS credentials found: set AWS_PROFILE (after aws configure or aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then retry',
        { cause: err },
      );
    }
    if (/^region is missing$/i.test(message.trim())) {
      return new BackendError('no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)', { cause: err });
    }
    if (code === 'ECONNREFUSED') {
      return new BackendError(`could not connect to ${endpoint}: connection refused; check --endpoint and that the service listens there, then retry`, { cause: err });
    }
    if (NAME_UNRESOLVED.has(code)) {
      return new BackendError(`could not resolve the host of ${endpoint} (${code}): check --endpoint, --region and your DNS or network`, { cause: err });
    }
    if (NETWORK_UNREACHABLE.has(code)) {
      return new BackendError(`could not reach ${endpoint} (${code}): check your network, VPN or proxy, then retry`, { cause: err });
    }
    if (name === 'TimeoutError' || code === 'ETIMEDOUT') {
      return new BackendError(`${endpoint} did not answer within ${timeoutOf(message)} (after the SDK's retries): check --endpoint, --region and your network, VPN or proxy, then retry`, { cause: err });
    }
    if (code === 'ECONNRESET' || code === 'EPIPE') {
      return new BackendError(`${endpoint} closed the connection (${code}): check --endpoint and any proxy in between, then retry`, { cause: err });
    }
  }
  // A denial the CLI already explained names AWS_PROFILE; an adapter's mapped one gets the advice here.
  if (isRekeyError(err) && err.code === 'ACCESS_DENIED' && !err.message.includes('AWS_PROFILE')) {
    return new AccessDeniedError(`${err.message}; use a role the stack grants this to (docs/deploy.md, operator roles) or check AWS_PROFILE`, { cause: err });
  }
  return err;
}
