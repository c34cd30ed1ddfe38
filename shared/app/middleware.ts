/**
 * The Middy middleware of rekey for application Lambdas (package subpath `rekey-kms/middleware`):
 * a ready {@link RekeyClient} on `context.rekey`, made once per execution environment and reused
 * by every invocation; optionally named JSON fields of the event decrypted before the handler
 * and named fields of the result encrypted after it (base64 envelopes); the decrypt counts
 * flushed with every invocation, successful or not. It logs nothing, so no plaintext can reach
 * a log through it.
 */
import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { CallerContext } from '../envelope/api';
import { ValidationError } from '../errors';
import { createRekeyClient } from './client';
import type { RekeyClient, RekeyClientOptions } from './client-types';
import { findDocument } from './json-body';
import { openField, parseFieldPaths, sealField, transformFields, type FieldPath } from './json-fields';

export type { CallerContext } from '../envelope/api';
export type { RekeyClient, RekeyClientOptions } from './client-types';

/** The Lambda context as the handler sees it behind the middleware. */
export type RekeyLambdaContext = Context & { readonly rekey: RekeyClient };

/** Options of {@link rekeyMiddleware}: `client` or `clientOptions`, not both. */
export interface RekeyMiddlewareOptions<TEvent = unknown> {
  /** A client made by the application (createRekeyClient or createLocalRekeyClient), or a function that makes one. */
  readonly client?: RekeyClient | (() => Promise<RekeyClient>);
  /** Options of createRekeyClient, for a client made at the first invocation. */
  readonly clientOptions?: RekeyClientOptions;
  /** The keyring the result's fields are encrypted under. */
  readonly keyring: string;
  /** Fields (dotted paths) of the event's JSON to decrypt, and of the result's JSON to encrypt. @default none */
  readonly fields?: { readonly encrypt?: readonly string[]; readonly decrypt?: readonly string[] };
  /**
   * The caller context of every field of one invocation (a tenant, a record id), bound into each
   * envelope: a field copied to another record or tenant does not decrypt there.
   * @default no context
   */
  readonly context?: (event: TEvent) => CallerContext;
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['client', 'clientOptions', 'keyring', 'fields', 'context']);

interface Settled<TEvent> {
  readonly getClient: () => Promise<RekeyClient>;
  readonly keyring: string;
  readonly encrypt: readonly FieldPath[];
  readonly decrypt: readonly FieldPath[];
  readonly context: ((event: TEvent) => CallerContext) | undefined;
}

/** Validates the options (a typo fails when the handler module loads) and settles the client source. */
function settle<TEvent>(options: RekeyMiddlewareOptions<TEvent>): Settled<TEvent> {
  if (options === null || typeof options !== 'object') throw new ValidationError('rekeyMiddleware needs an options object');
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new ValidationError(`unknown option '${name.slice(0, 40)}' of rekeyMiddleware`);
  }
  if ((options.client === undefined) === (options.clientOptions === undefined)) throw new ValidationError('rekeyMiddleware needs exactly one of client or clientOptions');
  if (typeof options.keyring !== 'string' || options.keyring === '') throw new ValidationError('rekeyMiddleware needs the keyring to encrypt under');
  if (options.context !== undefined && typeof options.context !== 'function') throw new ValidationError('rekeyMiddleware context must be a function of the event');
  const fields = options.fields ?? {};
  for (const name of Object.keys(fields)) {
    if (name !== 'encrypt' && name !== 'decrypt') throw new ValidationError(`unknown option 'fields.${name.slice(0, 40)}' of rekeyMiddleware`);
  }
  const source = options.client;
  const make: () => Promise<RekeyClient> =
    source === undefined ? () => createRekeyClient(options.clientOptions as RekeyClientOptions) : typeof source === 'function' ? source : () => Promise.resolve(source);
  // One client per execution environment; a failed creation is not kept, so the next invocation tries again.
  let pending: Promise<RekeyClient> | undefined;
  const getClient = (): Promise<RekeyClient> => {
    pending ??= make().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
  return {
    getClient,
    keyring: options.keyring,
    encrypt: parseFieldPaths(fields.encrypt, 'fields.encrypt'),
    decrypt: parseFieldPaths(fields.decrypt, 'fields.decrypt'),
    context: options.context,
  };
}

/**
 * Builds the middleware.
 *
 * @example
 * export const handler = middy(async (event: APIGatewayProxyEvent, context: RekeyLambdaContext) => {
 *   const customer = JSON.parse(event.body ?? '{}'); // `ssn` already decrypted
 *   await save(customer);
 *   return { statusCode: 200, body: JSON.stringify(customer) }; // `ssn` encrypted again on the way out
 * }).use(rekeyMiddleware({ clientOptions: { env: process.env }, keyring: 'pii', fields: { decrypt: ['ssn'], encrypt: ['ssn'] } }));
 * @throws ValidationError (at once) for bad options.
 */
export function rekeyMiddleware<TEvent = unknown, TResult = unknown>(options: RekeyMiddlewareOptions<TEvent>): MiddlewareObj<TEvent, TResult, Error, Context> {
  const s = settle(options);
  let current: RekeyClient | undefined;
  const contextOf = (event: TEvent): CallerContext | undefined => s.context?.(event);

  const rekeyMiddlewareBefore = async (request: Request<TEvent, TResult, Error, Context>): Promise<void> => {
    const client = await s.getClient();
    current = client;
    Object.assign(request.context, { rekey: client });
    if (s.decrypt.length === 0) return;
    const context = contextOf(request.event);
    const { doc, replace } = findDocument(request.event);
    if (doc === undefined) return;
    const opened = await transformFields(doc, s.decrypt, (value) => openField(value, async (envelope) => (await client.decrypt(envelope, context === undefined ? {} : { context })).plaintext));
    if (opened !== doc) request.event = replace(opened) as TEvent;
  };

  const rekeyMiddlewareAfter = async (request: Request<TEvent, TResult, Error, Context>): Promise<void> => {
    try {
      if (s.encrypt.length === 0 || current === undefined) return;
      const client = current;
      const context = contextOf(request.event);
      const { doc, replace } = findDocument(request.response);
      if (doc === undefined) return;
      const sealed = await transformFields(doc, s.encrypt, (value) => sealField(value, (plaintext) => client.encrypt(s.keyring, plaintext, context === undefined ? {} : { context })));
      if (sealed !== doc) request.response = replace(sealed) as TResult;
    } finally {
      current?.flushMetrics();
    }
  };

  const rekeyMiddlewareOnError = (): void => {
    // The failed invocation's decrypt failures are exactly what the circuit breaker must see.
    current?.flushMetrics();
  };

  return { name: 'rekey', before: rekeyMiddlewareBefore, after: rekeyMiddlewareAfter, onError: rekeyMiddlewareOnError };
}
