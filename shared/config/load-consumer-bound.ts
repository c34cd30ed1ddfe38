/**
 * The key-access function's consumer-registry configuration, next to its deploy-time grantees
 * (./load-key-grantees.ts): the accounts whose roles the registry may name (the bound the key
 * policies were deployed with) and the ops key, on which registry consumers get their
 * catalog-read grant. A stack deployed before the registry sets neither: the registry is then
 * off (undefined), never a failure.
 */
import { ValidationError } from '../errors';
import { jsonText } from '../vocabulary/json-text';
import { kmsKeyArn } from '../vocabulary/names';
import * as z from '../vocabulary/zod';
import { CONSUMER_ACCOUNTS_ENV, OPS_KEY_ARN_ENV } from './env-names';

/** What key-access needs to reconcile the consumer registry. */
export interface ConsumerBound {
  /** 12-digit account ids whose roles the registry may name. */
  readonly accounts: readonly string[];
  /** ARN of the ops key (the catalog bucket's key). */
  readonly opsKeyArn: string;
}

/** Most consumer accounts one stack admits (each is one key-policy condition value). */
export const MAX_CONSUMER_ACCOUNTS = 100;

const accountsSchema = /* @__PURE__ */ z.lazy(() =>
  jsonText(
    z
      .array(z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit account id')))
      .check(z.maxLength(MAX_CONSUMER_ACCOUNTS), z.refine((a: string[]) => new Set(a).size === a.length, 'must not repeat an account')),
  ),
);

/**
 * Reads {@link CONSUMER_ACCOUNTS_ENV} and {@link OPS_KEY_ARN_ENV}.
 *
 * @param env - The environment to read; defaults to `process.env`.
 * @returns undefined when neither is set (the registry is off).
 * @throws ValidationError naming the variable (never echoing its value) when one is malformed, or set without the other.
 * @example
 * loadConsumerBound({ REKEY_CONSUMER_ACCOUNTS: '["111122223333"]', REKEY_OPS_KEY_ARN: 'arn:aws:kms:eu-west-1:111122223333:key/abc' });
 * // { accounts: ['111122223333'], opsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/abc' }
 */
export function loadConsumerBound(env: Readonly<Record<string, string | undefined>> = process.env): ConsumerBound | undefined {
  const rawAccounts = env[CONSUMER_ACCOUNTS_ENV];
  const rawKey = env[OPS_KEY_ARN_ENV];
  if ((rawAccounts === undefined || rawAccounts === '') && (rawKey === undefined || rawKey === '')) return undefined;
  const accounts = parseConsumerAccounts(rawAccounts ?? '', CONSUMER_ACCOUNTS_ENV);
  const key = z.safeParse(kmsKeyArn, rawKey);
  if (!key.success) throw new ValidationError(`invalid configuration: ${OPS_KEY_ARN_ENV}`);
  return Object.freeze({ accounts, opsKeyArn: key.data });
}

/**
 * The consumer accounts alone, for local mode (which has no ops key): the bound a registration
 * is checked against there when {@link CONSUMER_ACCOUNTS_ENV} is set, else undefined (no bound).
 *
 * @throws ValidationError naming the variable when it is malformed.
 * @example
 * loadConsumerAccounts({ REKEY_CONSUMER_ACCOUNTS: '["111122223333"]' }); // ['111122223333']
 */
export function loadConsumerAccounts(env: Readonly<Record<string, string | undefined>> = process.env): readonly string[] | undefined {
  const raw = env[CONSUMER_ACCOUNTS_ENV];
  if (raw === undefined || raw === '') return undefined;
  return parseConsumerAccounts(raw, CONSUMER_ACCOUNTS_ENV);
}

/**
 * Parses a JSON array of account ids (the variable's value, or the stack's ConsumerAccounts output).
 *
 * @throws ValidationError naming `label` (never echoing the value) when it is malformed.
 * @example
 * parseConsumerAccounts('["111122223333"]', 'ConsumerAccounts'); // ['111122223333']
 */
export function parseConsumerAccounts(raw: string, label: string): readonly string[] {
  const parsed = z.safeParse(accountsSchema, raw);
  if (!parsed.success) throw new ValidationError(`invalid configuration: ${label}`);
  return Object.freeze([...parsed.data]);
}

/**
 * The ARN of bucket `bucket` in the partition of `arn` (any ARN of the same stack, e.g. a KMS key's).
 *
 * @example
 * bucketArnOf('rekey-catalog', 'arn:aws-cn:kms:cn-north-1:111122223333:key/abc'); // 'arn:aws-cn:s3:::rekey-catalog'
 */
export function bucketArnOf(bucket: string, arn: string): string {
  const partition = /^arn:(aws[a-z-]*):/.exec(arn)?.[1];
  if (partition === undefined) throw new ValidationError('cannot tell the partition: not an ARN');
  return `arn:${partition}:s3:::${bucket}`;
}
