/**
 * The application client of rekey (package subpath `rekey-kms/client`): envelope encryption
 * with a deployed rekey's keyrings in about three lines, from the stack's outputs or from the
 * environment the rekey construct sets on a consumer function; and the same client over a
 * local rekey home, for the application's own tests.
 *
 * The AWS path loads the S3 and KMS clients only; CloudFormation loads when a stack is named,
 * and the local backends (SQLite) only when a local client is made.
 */
import { buildAppClientServices } from '../compose/aws/app-client-services';
import { DecryptMetrics } from '../lambda/decrypt-metrics';
import { PowertoolsMetricsPublisher } from '../lambda/rekey-metrics';
import { AppRekeyClient } from './app-client';
import { checkClientOptions, resolveClientConfig } from './client-config';
import type { RekeyClient, RekeyClientOptions } from './client-types';

export { createLocalRekeyClient } from './local-client';
export { configFromOutputs } from './client-config';
// Reading and writing S3 record objects in either layout (the metadata layout keeps the header in x-amz-meta-rekey-header).
export { envelopeFromS3Object, s3ObjectFromEnvelope, type S3ObjectParts, type S3ObjectWrite } from '../envelope/s3-object-layout';
// The errors an application meets, so it can map them to its own answers (instanceof, or `code`).
export {
  AccessDeniedError,
  BackendError,
  ContextMismatchError,
  ContextRequiredError,
  DecryptError,
  RekeyError,
  RevokedVersionError,
  ThrottledError,
  UnknownKeyringError,
  UnknownVersionError,
  ValidationError,
  VersionUnavailableError,
  isRekeyError,
} from '../errors';
export type { AppDecryptOptions, KeyCacheOptions, LocalRekeyClientOptions, RekeyClient, RekeyClientAwsClients, RekeyClientOptions } from './client-types';
export type { CallerContext, Decrypted, EncryptOptions, EnvelopeInfo, StreamEncryptOptions } from '../envelope/api';
export type { MetricDimensions, MetricsPublisher } from '../ports/metrics-publisher';

/** Powertools service name of the default metrics publisher. */
const DEFAULT_SERVICE_NAME = 'rekey-client';

/**
 * Creates a client for a deployed rekey. Nothing connects until the first encrypt or decrypt
 * (except `stackName`, whose outputs are read here). Defaults: SDK clients with the functions'
 * timeouts and standard retries, catalog reads trusted for the stack's lifetime and honouring
 * the revocation ledger, unwrapped keys cached 5 min, decrypt counts to Powertools Metrics.
 * The role needs what the rekey construct grants a consumer: the catalog document, the
 * revocation ledger, and kms:Decrypt on the keyring's key through its per-version grants.
 *
 * @example
 * const rekey = await createRekeyClient({ env: process.env });
 * const envelope = await rekey.encrypt('pii', Buffer.from('4111'), { context: { customer: 'c-42' } });
 * const { plaintext } = await rekey.decrypt(envelope, { context: { customer: 'c-42' } });
 * @throws ValidationError for bad options or configuration (naming them); NotFoundError or
 *   AccessDeniedError when a named stack cannot be read.
 */
export async function createRekeyClient(options: RekeyClientOptions): Promise<RekeyClient> {
  checkClientOptions(options);
  const config = await resolveClientConfig(options);
  const decryptMetrics = new DecryptMetrics(options.metrics ?? new PowertoolsMetricsPublisher({ serviceName: options.serviceName ?? DEFAULT_SERVICE_NAME }));
  const clients = options.clients;
  const services = buildAppClientServices(config, {
    clients: {
      ...(clients?.kms === undefined ? {} : { kms: clients.kms }),
      ...(clients?.s3 === undefined ? {} : { s3: clients.s3 }),
    },
    observer: decryptMetrics,
    ...(options.catalogTtlMs === undefined ? {} : { catalogTtlMs: options.catalogTtlMs }),
    ...(options.keyCache === undefined ? {} : { keyCache: options.keyCache }),
  });
  return new AppRekeyClient({ envelopes: services.envelopes, decryptMetrics, release: () => services.close() });
}
