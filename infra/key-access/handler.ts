/**
 * key-access: keeps each keyring's per-version KMS grants equal to what its catalog allows
 * (see grant-plan.ts). Runs on every catalog write (S3 `Object Created` event), on a schedule
 * as a backstop, and on `Key Version Compromised`, where it revokes that version's grants at
 * once, before the catalog says anything. Reserved concurrency 1 serializes runs, so the last
 * run always reads the last catalog.
 */
import * as z from 'zod';
import { ENV } from '../../shared/config/env-names';
import { ValidationError } from '../../shared/errors';
import { keyPrefix, bucketName, keyringName, kmsKeyArn, versionNumber } from '../../shared/runtime/names';
import { KEY_GRANTEES_ENV } from './env-names';
import type { KeyAccessDeps, KeyAccessRequest, KeyAccessResult } from './reconcile-key-access';

export type { KeyAccessDeps, KeyAccessRequest, KeyAccessResult };

const scheduledEvent = z.strictObject({ keyring: keyringName.optional() });
const compromisedEvent = z.looseObject({
  source: z.literal('rekey'),
  'detail-type': z.literal('Key Version Compromised'),
  detail: z.looseObject({ keyring: keyringName, version: versionNumber }),
});
const catalogWrittenEvent = z.looseObject({
  source: z.literal('aws.s3'),
  detail: z.looseObject({ object: z.looseObject({ key: z.string().max(1024) }) }),
});

const configSchema = z.object({
  [ENV.catalogBucket]: bucketName,
  [ENV.catalogPrefix]: keyPrefix.default('catalog/'),
  [ENV.keyringKeys]: z.string().transform((s) => JSON.parse(s) as unknown).pipe(z.record(keyringName, kmsKeyArn)),
  [KEY_GRANTEES_ENV]: z.string().transform((s) => JSON.parse(s) as unknown).pipe(z.record(keyringName, z.array(z.string().min(20).max(2048)))),
});

/**
 * Turns any of the three triggers into a request; keyrings the stack does not know are refused.
 *
 * @throws ValidationError on an event of no known shape or for an unknown keyring.
 */
export function parseKeyAccessEvent(event: unknown, known: readonly string[], catalogPrefix: string): KeyAccessRequest {
  const compromised = compromisedEvent.safeParse(event);
  if (compromised.success) {
    const { keyring, version } = compromised.data.detail;
    if (!known.includes(keyring)) throw new ValidationError(`unknown keyring '${keyring}'`);
    return { keyrings: [keyring], revokedNow: { keyring, version } };
  }
  const written = catalogWrittenEvent.safeParse(event);
  if (written.success) {
    const key = written.data.detail.object.key;
    const name = key.startsWith(catalogPrefix) && key.endsWith('.json') ? key.slice(catalogPrefix.length, -'.json'.length) : '';
    if (!known.includes(name)) throw new ValidationError('catalog event for an object that is no keyring catalog');
    return { keyrings: [name] };
  }
  const scheduled = scheduledEvent.safeParse(event);
  if (scheduled.success) {
    const keyring = scheduled.data.keyring;
    if (keyring !== undefined && !known.includes(keyring)) throw new ValidationError(`unknown keyring '${keyring}'`);
    return { keyrings: keyring === undefined ? [...known] : [keyring] };
  }
  throw new ValidationError('unrecognized event: expected { keyring? }, a Key Version Compromised event or an S3 Object Created event');
}

let cached: { deps: KeyAccessDeps; prefix: string } | undefined;

async function fromEnvironment(): Promise<{ deps: KeyAccessDeps; prefix: string }> {
  if (cached !== undefined) return cached;
  const parsed = configSchema.safeParse(process.env);
  if (!parsed.success) {
    throw new ValidationError(`invalid configuration: ${parsed.error.issues.map((i) => i.path.map(String).join('.')).join(', ')}`);
  }
  const env = parsed.data;
  const prefix = env[ENV.catalogPrefix];
  // The SDK modules load here, on the first invocation with a valid configuration.
  const { connectKeyAccess } = await import('./reconcile-key-access');
  cached = {
    prefix,
    deps: connectKeyAccess({ catalogBucket: env[ENV.catalogBucket], catalogPrefix: prefix, keyringKeys: env[ENV.keyringKeys], grantees: env[KEY_GRANTEES_ENV] }),
  };
  return cached;
}

/** Lambda entry point. */
export async function handler(event: unknown): Promise<KeyAccessResult[]> {
  const { deps, prefix } = await fromEnvironment();
  const request = parseKeyAccessEvent(event, Object.keys(deps.keyringKeys), prefix);
  const { reconcileKeyAccess } = await import('./reconcile-key-access');
  const results = await reconcileKeyAccess(request, deps);
  console.log(JSON.stringify({ message: 'key access reconciled', results }));
  return results;
}
