/**
 * The one place rekey builds an AWS SDK client, so that no client is ever left without
 * timeouts. The SDK's defaults wait forever: NodeHttpHandler's `connectionTimeout` and
 * `requestTimeout` both "default to 0, which disables the timeout" (NodeHttpHandlerOptions,
 * `@smithy/types` http/httpHandlerInitialization.d.ts; https://github.com/smithy-lang/smithy-typescript
 * packages/node-http-handler), so an endpoint that accepts a connection and never answers held
 * `rekey --aws status` for minutes. A client's `requestHandler` may be given as those options
 * (the client builds its NodeHttpHandler from them: `NodeHttpHandler.create`).
 *
 * In the installed handler `requestTimeout` only logs a warning unless `throwOnRequestTimeout`
 * is set, and `socketTimeout` is the idle timeout of the socket; both are set, so a silent
 * endpoint fails with a `TimeoutError`, which the SDK's standard retry strategy counts as
 * transient and retries up to `maxAttempts` (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
 */

/** Timeouts and attempts of one kind of caller. */
export interface SdkTimeouts {
  /** Longest TCP (and TLS) connection phase, in ms. */
  readonly connectionTimeoutMs: number;
  /** Longest wait for a whole request and response, and longest socket silence, in ms. */
  readonly requestTimeoutMs: number;
  /** Attempts including the first; `undefined` keeps the SDK's default (3, standard retries). */
  readonly maxAttempts?: number;
}

/**
 * The operator's CLI: a silent endpoint fails within about 15 s (3 attempts of 4 s plus the
 * SDK's short backoff) with one line, instead of hanging.
 */
export const CLI_SDK_TIMEOUTS: SdkTimeouts = { connectionTimeoutMs: 3_000, requestTimeoutMs: 4_000, maxAttempts: 3 };

/**
 * The CLI's Lambda invoke: the rotate and escrow functions may work for minutes (their own
 * timeout is 15 min), and an invoke is not idempotent, so one attempt with a request timeout
 * just above the function's own.
 */
export const CLI_INVOKE_SDK_TIMEOUTS: SdkTimeouts = { connectionTimeoutMs: 3_000, requestTimeoutMs: 960_000, maxAttempts: 1 };

/**
 * The Lambda functions: regional endpoints answer in milliseconds, so a stuck call is cut well
 * inside the function's own timeout and retried by the SDK (default attempts).
 */
export const FUNCTION_SDK_TIMEOUTS: SdkTimeouts = { connectionTimeoutMs: 2_000, requestTimeoutMs: 5_000 };

/** The request-handler options and attempts {@link newSdkClient} adds to a client's configuration. */
export interface SdkClientTimeoutConfig {
  readonly requestHandler: {
    readonly connectionTimeout: number;
    readonly requestTimeout: number;
    readonly socketTimeout: number;
    readonly throwOnRequestTimeout: true;
  };
  readonly maxAttempts?: number;
}

/**
 * The configuration fragment that gives a client `timeouts`.
 *
 * @example
 * sdkClientOptions(CLI_SDK_TIMEOUTS).requestHandler.requestTimeout; // 4000
 */
export function sdkClientOptions(timeouts: SdkTimeouts): SdkClientTimeoutConfig {
  return {
    requestHandler: {
      connectionTimeout: timeouts.connectionTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      socketTimeout: timeouts.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
    ...(timeouts.maxAttempts === undefined ? {} : { maxAttempts: timeouts.maxAttempts }),
  };
}

/**
 * Builds an SDK client of class `Client` from `config` with `timeouts` applied (they win over
 * any request handler in `config`: no caller may opt out of them by accident).
 *
 * @example
 * const s3 = newSdkClient(S3Client, { region: 'eu-west-1' }, FUNCTION_SDK_TIMEOUTS);
 */
export function newSdkClient<Config extends object, Client>(ClientClass: new (config: Config) => Client, config: Config, timeouts: SdkTimeouts): Client {
  return new ClientClass({ ...config, ...sdkClientOptions(timeouts) });
}
