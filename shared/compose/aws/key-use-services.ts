/**
 * The AWS KeyUseLog (S3, in the state bucket beside the catalog) for every composition that
 * needs it (the lifecycle facts of grace-period and revoke, the CLI's AWS mode), and the
 * services of the `key-use` function: the log and the keyring keys, the census and the record
 * targets' headers, one S3 client, no KMS.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3KeyUseLog } from '../../adapters/aws/s3-key-use-log';
import type { RekeyConfig } from '../../config/load-config';
import { ValidationError } from '../../errors';
import type { KeyUseLog } from '../../ports/key-use-log';
import type { KeyUseServices } from '../../usecases/key-use';
import type { RecordWrittenServices } from '../../usecases/record-census';
import { S3RecordCensus } from '../../adapters/aws/s3-record-census';
import { S3RecordStore } from '../../adapters/aws/s3-record-store';
import { KEY_USE_IGNORED_ROLES_ENV } from '../../vocabulary/key-use-names';
import type { BuildAwsServicesOptions } from './aws-core';
import type { FunctionServices } from './rekey-services';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';


/**
 * The KeyUseLog on the configured state bucket. Every composition leaves `startOnRead` off: a
 * keyring's observation begins with the first CloudTrail event the key-use function records
 * for it (any version: an application's encrypt unwraps the active version too), never with a
 * reconciler's read. Silence only counts as evidence once the pipeline (a trail with logging
 * enabled, the rule, the function) has proven it delivers; without a trail no event ever
 * arrives, key use stays unknown and no version is disabled on an assumption.
 *
 * @example
 * const keyUse = buildKeyUseLog(config, core.s3, { clock: core.clock });
 */
export function buildKeyUseLog(config: RekeyConfig, s3: S3Client, options: { readonly startOnRead?: boolean; readonly clock?: () => Date } = {}): KeyUseLog {
  return new S3KeyUseLog({ client: s3, bucket: config.catalogBucket, ...(options.startOnRead === undefined ? {} : { startOnRead: options.startOnRead }), ...(options.clock === undefined ? {} : { clock: options.clock }) });
}

/**
 * The ignored role ARNs from {@link KEY_USE_IGNORED_ROLES_ENV} (absent: none).
 *
 * @throws ValidationError when the variable is not a JSON array of IAM role ARNs.
 */
export function loadIgnoredRoleArns(env: Readonly<Record<string, string | undefined>> = process.env): readonly string[] {
  const text = env[KEY_USE_IGNORED_ROLES_ENV];
  if (text === undefined || text === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError(`${KEY_USE_IGNORED_ROLES_ENV} is not JSON`);
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string' && /^arn:aws[a-z-]*:iam::\d{12}:role\/[\x21-\x7e]{1,512}$/.test(a))) {
    throw new ValidationError(`${KEY_USE_IGNORED_ROLES_ENV} must be a JSON array of IAM role ARNs`);
  }
  return parsed as string[];
}

/**
 * Builds what the key-use job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildKeyUseServices(loadConfig(), { logger });
 * await services.keyUse.lastUse('pii');
 */
export function buildKeyUseServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<KeyUseServices & RecordWrittenServices> {
  const region = config.region === undefined ? {} : { region: config.region };
  const s3 = options.clients?.s3 ?? newSdkClient(S3Client, { ...region }, FUNCTION_SDK_TIMEOUTS);
  const clock = options.clock ?? (() => new Date());
  return {
    config,
    clock,
    // The job makes no KMS call.
    kmsCalls: { count: 0, take: () => 0 },
    keyUse: buildKeyUseLog(config, s3, { clock }),
    keyringKeys: config.keyringKeys,
    ignoredRoleArns: loadIgnoredRoleArns(),
    census: new S3RecordCensus({ client: s3, bucket: config.catalogBucket }),
    // Header reads only (a ranged GET each): the job reads the version a written object carries.
    recordTargets: config.recordTargets.map((target) => ({ target, store: new S3RecordStore({ client: s3, bucket: target.bucket, prefix: target.prefix, layout: target.layout, wholeObjectMemoBytes: 0, headMemoEntries: 0 }) })),
    close: async () => undefined,
  };
}
