/**
 * rekey for application teams: the client (AWS and local) and the Middy middleware. The
 * package's subpaths point at ./client (`rekey-kms/client`, also the package root) and
 * ./middleware (`rekey-kms/middleware`); this index names both for code inside the repository.
 */
export { createRekeyClient, createLocalRekeyClient, configFromOutputs } from './client';
export type {
  AppDecryptOptions,
  CallerContext,
  Decrypted,
  EncryptOptions,
  EnvelopeInfo,
  KeyCacheOptions,
  LocalRekeyClientOptions,
  MetricDimensions,
  MetricsPublisher,
  RekeyClient,
  RekeyClientAwsClients,
  RekeyClientOptions,
  StreamEncryptOptions,
} from './client';
export { rekeyMiddleware } from './middleware';
export type { RekeyLambdaContext, RekeyMiddlewareOptions } from './middleware';
