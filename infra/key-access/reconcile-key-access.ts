/**
 * The AWS side of key-access: reads the catalog from S3, lists the KMS grants of each keyring's
 * key and applies the grant plan (revocations first). Kept apart from the handler so that the
 * SDK clients load only once an invocation has passed configuration and event validation.
 */
import { CreateGrantCommand, KMSClient, ListGrantsCommand, RevokeGrantCommand, type GrantListEntry } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { S3CatalogStore } from '../../shared/adapters/aws/s3-catalog-store';
import { ValidationError } from '../../shared/errors';
import { planGrants, type ExistingGrant, type GrantPlan } from './grant-plan';

/** Outcome per keyring, returned to the invoker (no key material, only grant counts). */
export interface KeyAccessResult {
  readonly keyring: string;
  readonly created: number;
  readonly revoked: number;
}

/** What one invocation must do. */
export interface KeyAccessRequest {
  readonly keyrings: readonly string[];
  readonly revokedNow?: { readonly keyring: string; readonly version: number };
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

/**
 * The production dependencies: default SDK clients (the Lambda's region and credentials) and
 * the catalog store of the configured bucket and prefix.
 *
 * @example
 * const deps = connectKeyAccess({ catalogBucket: 'rekey-catalog', catalogPrefix: 'catalog/', keyringKeys, grantees });
 */
export function connectKeyAccess(config: {
  readonly catalogBucket: string;
  readonly catalogPrefix: string;
  readonly keyringKeys: Readonly<Record<string, string>>;
  readonly grantees: Readonly<Record<string, readonly string[]>>;
}): KeyAccessDeps {
  return {
    kms: new KMSClient({}),
    catalog: new S3CatalogStore({ bucket: config.catalogBucket, prefix: config.catalogPrefix, client: new S3Client({}) }),
    keyringKeys: config.keyringKeys,
    grantees: config.grantees,
  };
}
