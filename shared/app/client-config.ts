/**
 * Where an application client's configuration comes from: the environment (the variable names
 * rekey's own functions read), the stack's outputs, or the stack itself. All three end in the
 * one loader, loadConfig, so an application and the functions next to it cannot disagree about
 * a bucket, a prefix or a keyring's KMS key.
 */
import { loadConfig, type RekeyConfig } from '../config/load-config';
import { configFromOutputs } from '../config/config-from-outputs';
import { ENV } from '../config/env-names';
import { DEFAULT_CATALOG_TTL_MS } from '../vocabulary/catalog-cache';
import { ValidationError } from '../errors';
import type { KeyCacheOptions, RekeyClientOptions } from './client-types';

export { configFromOutputs };

const OPTION_NAMES: ReadonlySet<string> = new Set(['env', 'outputs', 'stackName', 'region', 'clients', 'metrics', 'serviceName', 'catalogTtlMs', 'keyCache']);
const KEY_CACHE_NAMES: ReadonlySet<string> = new Set(['ttlMs', 'maxUses', 'maxEntries']);

/**
 * Checks the options before anything is built, so a typo fails at cold start with its name.
 *
 * @example
 * checkClientOptions({ env: process.env }); // passes
 * checkClientOptions({ evn: process.env }); // ValidationError: unknown option 'evn'
 * @throws ValidationError naming the option.
 */
export function checkClientOptions(options: RekeyClientOptions): void {
  if (options === null || typeof options !== 'object') throw new ValidationError('createRekeyClient needs an options object: { env }, { outputs } or { stackName }');
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new ValidationError(`unknown option '${name.slice(0, 40)}' of createRekeyClient`);
  }
  const sources = (['env', 'outputs', 'stackName'] as const).filter((s) => options[s] !== undefined);
  if (sources.length !== 1) {
    throw new ValidationError(`createRekeyClient needs exactly one of env, outputs or stackName (got ${sources.length === 0 ? 'none' : sources.join(' and ')})`);
  }
  if (options.stackName !== undefined && (typeof options.stackName !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(options.stackName))) {
    throw new ValidationError('stackName must be a CloudFormation stack name (a letter, then letters, digits or hyphens)');
  }
  if (options.catalogTtlMs !== undefined) checkPositiveInteger('catalogTtlMs', options.catalogTtlMs);
  if (options.keyCache !== undefined) checkKeyCache(options.keyCache);
}

function checkKeyCache(keyCache: KeyCacheOptions): void {
  for (const name of Object.keys(keyCache)) {
    if (!KEY_CACHE_NAMES.has(name)) throw new ValidationError(`unknown option 'keyCache.${name.slice(0, 40)}' of createRekeyClient`);
  }
  for (const name of KEY_CACHE_NAMES) {
    const value = (keyCache as Record<string, unknown>)[name];
    if (value !== undefined) checkPositiveInteger(`keyCache.${name}`, value);
  }
}

function checkPositiveInteger(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new ValidationError(`${name} must be a positive integer`);
}

/**
 * Resolves the options' source into a configuration; only `stackName` calls AWS (and only
 * then is the CloudFormation client loaded).
 *
 * @example
 * const config = await resolveClientConfig({ env: process.env });
 * @throws ValidationError for incomplete configuration; NotFoundError or AccessDeniedError for a stack that cannot be read.
 */
export async function resolveClientConfig(options: RekeyClientOptions): Promise<RekeyConfig> {
  let config: RekeyConfig;
  if (options.env !== undefined) {
    config = loadConfig(options.region === undefined ? options.env : { ...options.env, [ENV.region]: options.region });
  } else if (options.outputs !== undefined) {
    config = configFromOutputs(options.outputs, options.region);
  } else {
    const { fetchStackOutputs } = await import('../compose/aws/stack-outputs-reader');
    const outputs = await fetchStackOutputs({
      stackName: options.stackName as string,
      ...(options.region === undefined ? {} : { region: options.region }),
      ...(options.clients?.cloudFormation === undefined ? {} : { cloudFormation: options.clients.cloudFormation }),
    });
    config = configFromOutputs(outputs, options.region);
  }
  const stackTtl = config.catalogTtlMs ?? DEFAULT_CATALOG_TTL_MS;
  if (options.catalogTtlMs !== undefined && options.catalogTtlMs > stackTtl) {
    throw new ValidationError(
      `catalogTtlMs ${options.catalogTtlMs} is longer than the stack's catalog lifetime (${stackTtl} ms): a revocation waits only that long for readers to see it`,
    );
  }
  return config;
}
