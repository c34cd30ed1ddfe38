/**
 * key-access: keeps each keyring's per-version KMS grants equal to what its catalog allows
 * (see grant-plan.ts). Runs on every catalog write (S3 `Object Created` event), on a schedule
 * as a backstop, and on `Key Version Compromised`, where it revokes that version's grants at
 * once, before the catalog says anything. Reserved concurrency 1 serializes runs, so the last
 * run always reads the last catalog.
 */
import { CreateGrantCommand, KMSClient, ListGrantsCommand, RevokeGrantCommand, type GrantListEntry } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { S3CatalogStore } from '../../shared/adapters/aws/s3-catalog-store';
import { ENV } from '../../shared/config/env-names';
import { ValidationError } from '../../shared/errors';
import { COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE } from '../../shared/vocabulary/event-names';
import { keyPrefix, bucketName, keyringName, kmsKeyArn, versionNumber } from '../../shared/vocabulary/names';
import * as z from '../../shared/vocabulary/zod';
import { jsonText } from '../../shared/vocabulary/json-text';
import { mapAwsError } from '../../shared/adapters/aws/map-aws-error';
import { METRIC } from '../../shared/vocabulary/metric-names';
import { PowertoolsMetricsPublisher, type MetricsPublisher } from '../../shared/lambda/rekey-metrics';
import { KEY_GRANTEES_ENV } from './env-names';
import { planGrants, type ExistingGrant, type GrantPlan } from './grant-plan';

/** Outcome per keyring, returned to the invoker (no key material, only grant counts). */
export interface KeyAccessResult {
  readonly keyring: string;
  readonly created: number;
  readonly revoked: number;
}

// Schemas are @__PURE__ z.lazy (see shared/vocabulary/names.ts): built on the first event, not at load.
const scheduledEvent = /* @__PURE__ */ z.lazy(() => z.strictObject({ keyring: z.optional(keyringName) }));
const compromisedEvent = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    source: z.literal(COMPROMISE_EVENT_SOURCE),
    'detail-type': z.literal(COMPROMISE_EVENT_DETAIL_TYPE),
    detail: z.looseObject({ keyring: keyringName, version: versionNumber }),
  }),
);
const catalogWrittenEvent = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    source: z.literal('aws.s3'),
    detail: z.looseObject({ object: z.looseObject({ key: z.string().check(z.maxLength(1024)) }) }),
  }),
);

const configSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    [ENV.catalogBucket]: bucketName,
    [ENV.catalogPrefix]: z._default(keyPrefix, 'catalog/'),
    [ENV.keyringKeys]: jsonText(z.record(keyringName, kmsKeyArn)),
    [KEY_GRANTEES_ENV]: jsonText(z.record(keyringName, z.array(z.string().check(z.minLength(20), z.maxLength(2048))))),
  }),
);

/** What one invocation must do. */
export interface KeyAccessRequest {
  readonly keyrings: readonly string[];
  readonly revokedNow?: { readonly keyring: string; readonly version: number };
}

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

/** Dependencies of {@link reconcileKeyAccess}, injectable for tests. */
export interface KeyAccessDeps {
  readonly kms: KMSClient;
  readonly catalog: Pick<S3CatalogStore, 'get'>;
  readonly keyringKeys: Readonly<Record<string, string>>;
  readonly grantees: Readonly<Record<string, readonly string[]>>;
}

async function listGrants(kms: KMSClient, keyId: string): Promise<ExistingGrant[]> {
  const out: ExistingGrant[] = [];
  let marker: string | undefined;
  do {
    const page = await kms.send(new ListGrantsCommand({ KeyId: keyId, Marker: marker, Limit: 100 }));
    for (const g of page.Grants ?? ([] as GrantListEntry[])) {
      if (g.GrantId === undefined || g.GranteePrincipal === undefined) continue;
      out.push({
        grantId: g.GrantId,
        grantee: g.GranteePrincipal,
        operations: g.Operations ?? [],
        ...(g.Constraints?.EncryptionContextEquals === undefined ? {} : { contextEquals: g.Constraints.EncryptionContextEquals }),
      });
    }
    marker = page.Truncated === true ? page.NextMarker : undefined;
  } while (marker !== undefined);
  return out;
}

async function applyPlan(kms: KMSClient, keyId: string, keyring: string, plan: GrantPlan): Promise<void> {
  // Revocations first: a compromised version must lose access before anything else happens.
  for (const grantId of plan.revoke) {
    await kms.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grantId }));
  }
  for (const g of plan.create) {
    await kms.send(
      new CreateGrantCommand({
        KeyId: keyId,
        GranteePrincipal: g.grantee,
        Operations: ['Decrypt'],
        Constraints: { EncryptionContextEquals: { keyring, version: String(g.version) } },
        Name: `rekey-v${g.version}`,
      }),
    );
  }
}

/**
 * Reconciles the grants of the requested keyrings.
 *
 * @example
 * await reconcileKeyAccess({ keyrings: ['pii'] }, deps); // [{ keyring: 'pii', created: 2, revoked: 0 }]
 */
export async function reconcileKeyAccess(request: KeyAccessRequest, deps: KeyAccessDeps): Promise<KeyAccessResult[]> {
  const results: KeyAccessResult[] = [];
  for (const keyring of request.keyrings) {
    const keyId = deps.keyringKeys[keyring];
    if (keyId === undefined) throw new ValidationError(`unknown keyring '${keyring}'`);
    const revokedNow = new Set<number>(request.revokedNow?.keyring === keyring ? [request.revokedNow.version] : []);
    // On a compromise, revoke first from what is known, before the (slower) catalog read.
    if (revokedNow.size > 0) {
      const early = planGrants(keyring, [], [], (await listGrants(deps.kms, keyId)).filter((g) => g.contextEquals?.['version'] === String(request.revokedNow?.version)));
      await applyPlan(deps.kms, keyId, keyring, { revoke: early.revoke, create: [] });
    }
    const stored = await deps.catalog.get(keyring);
    const versions = stored?.catalog.versions.map((v) => ({ version: v.version, state: v.state })) ?? [];
    const plan = planGrants(keyring, versions, deps.grantees[keyring] ?? [], await listGrants(deps.kms, keyId), revokedNow);
    await applyPlan(deps.kms, keyId, keyring, plan);
    results.push({ keyring, created: plan.create.length, revoked: plan.revoke.length });
  }
  return results;
}

let cached: { deps: KeyAccessDeps; prefix: string } | undefined;

function fromEnvironment(): { deps: KeyAccessDeps; prefix: string } {
  if (cached !== undefined) return cached;
  const parsed = configSchema.safeParse(process.env);
  if (!parsed.success) {
    throw new ValidationError(`invalid configuration: ${parsed.error.issues.map((i) => i.path.map(String).join('.')).join(', ')}`);
  }
  const env = parsed.data;
  const prefix = env[ENV.catalogPrefix];
  cached = {
    prefix,
    deps: {
      kms: new KMSClient({}),
      catalog: new S3CatalogStore({ bucket: env[ENV.catalogBucket], prefix, client: new S3Client({}) }),
      keyringKeys: env[ENV.keyringKeys],
      grantees: env[KEY_GRANTEES_ENV],
    },
  };
  return cached;
}

let metrics: MetricsPublisher | undefined;

/**
 * Lambda entry point. Every failure fails the invocation (FunctionErrors; Lambda's retries, then
 * the failure queue); a non-retryable one is also counted in `HandlerFailures` (dimensions
 * `function`, `code`) like every other rekey function (shared/lambda/middleware/map-errors.ts),
 * so the stack's HandlerFailures-key-access alarm watches a metric this function emits.
 */
export async function handler(event: unknown): Promise<KeyAccessResult[]> {
  try {
    const { deps, prefix } = fromEnvironment();
    const request = parseKeyAccessEvent(event, Object.keys(deps.keyringKeys), prefix);
    const results = await reconcileKeyAccess(request, deps);
    console.log(JSON.stringify({ message: 'key access reconciled', results }));
    return results;
  } catch (err) {
    const mapped = mapAwsError(err, 'key-access');
    if (!mapped.retryable) {
      metrics ??= new PowertoolsMetricsPublisher({ serviceName: 'rekey-key-access' });
      metrics.put(METRIC.handlerFailures, 1, { function: 'key-access', code: mapped.code });
    }
    console.error(JSON.stringify({ message: 'key access failed', error: { code: mapped.code, name: mapped.name, message: mapped.message } }));
    throw err;
  }
}
