/**
 * key-access: keeps each keyring's per-version KMS grants equal to what its catalog allows
 * (shared/catalog/grant-plan.ts). Runs on every catalog write (S3 `Object Created` event), on a
 * schedule as a backstop, and on `Key Version Compromised`, where it revokes that version's
 * grants at once, before the catalog says anything. The stack reserves concurrency 1 for it, so
 * runs are serialized and the last run always reads the last catalog.
 *
 * The revocation ledger is final: a version it marks gets no grant on any run, whatever the
 * catalog document says (a role that writes the document back to `active` re-creates nothing),
 * and a ledger that cannot be read fails the run rather than plan without it.
 */
import { planGrants, type GrantPlan } from '../catalog/grant-plan';
import { ValidationError } from '../errors';
import type { CatalogStore } from '../ports/catalog-store';
import type { GrantStore } from '../ports/grant-store';
import type { RevocationLedger } from '../ports/revocation-ledger';
import { catalogWrittenEventSchema, keyAccessCompromiseEventSchema, keyAccessScheduleEventSchema } from '../vocabulary/event-schemas';
import * as z from '../vocabulary/zod';
import type { JobContext } from './context';

/** What the key-access use case works with. */
export interface KeyAccessServices {
  readonly grants: GrantStore;
  readonly catalogs: Pick<CatalogStore, 'get'>;
  /** The revocation ledger; its marks are revoked for the plan whatever the catalog says. @default none */
  readonly ledger?: Pick<RevocationLedger, 'revoked'>;
  /** Keyring → ARN of its KMS key; the keyrings the stack knows. */
  readonly keyringKeys: Readonly<Record<string, string>>;
  /** Keyring → role ARNs that read its version keys through grants. */
  readonly grantees: Readonly<Record<string, readonly string[]>>;
  /** Key prefix of catalog documents (to tell a catalog write from any other object). */
  readonly catalogPrefix: string;
}

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

/**
 * Turns any of the three triggers into a request; keyrings the stack does not know are refused.
 *
 * @throws ValidationError on an event of no known shape or for an unknown keyring.
 * @example
 * parseKeyAccessEvent({ keyring: 'pii' }, ['pii', 'ops'], 'catalog/'); // { keyrings: ['pii'] }
 */
export function parseKeyAccessEvent(event: unknown, known: readonly string[], catalogPrefix: string): KeyAccessRequest {
  const compromised = z.safeParse(keyAccessCompromiseEventSchema, event);
  if (compromised.success) {
    const { keyring, version } = compromised.data.detail;
    if (!known.includes(keyring)) throw new ValidationError(`unknown keyring '${keyring}'`);
    return { keyrings: [keyring], revokedNow: { keyring, version } };
  }
  const written = z.safeParse(catalogWrittenEventSchema, event);
  if (written.success) {
    const key = written.data.detail.object.key;
    const name = key.startsWith(catalogPrefix) && key.endsWith('.json') ? key.slice(catalogPrefix.length, -'.json'.length) : '';
    if (!known.includes(name)) throw new ValidationError('catalog event for an object that is no keyring catalog');
    return { keyrings: [name] };
  }
  const scheduled = z.safeParse(keyAccessScheduleEventSchema, event);
  if (scheduled.success) {
    const keyring = scheduled.data.keyring;
    if (keyring !== undefined && !known.includes(keyring)) throw new ValidationError(`unknown keyring '${keyring}'`);
    return { keyrings: keyring === undefined ? [...known] : [keyring] };
  }
  throw new ValidationError('unrecognized event: expected { keyring? }, a Key Version Compromised event or an S3 Object Created event');
}

async function applyPlan(grants: GrantStore, keyId: string, keyring: string, plan: GrantPlan): Promise<void> {
  // Revocations first: a compromised version must lose access before anything else happens.
  for (const grantId of plan.revoke) await grants.revoke(keyId, grantId);
  for (const grant of plan.create) await grants.create(keyId, keyring, grant);
}

/**
 * Reconciles the grants of the requested keyrings.
 *
 * @throws ValidationError for a keyring without a key.
 * @example
 * await reconcileKeyAccess({ keyrings: ['pii'] }, services); // [{ keyring: 'pii', created: 2, revoked: 0 }]
 */
export async function reconcileKeyAccess(request: KeyAccessRequest, services: KeyAccessServices): Promise<KeyAccessResult[]> {
  const results: KeyAccessResult[] = [];
  for (const keyring of request.keyrings) {
    const keyId = services.keyringKeys[keyring];
    if (keyId === undefined) throw new ValidationError(`unknown keyring '${keyring}'`);
    const revoked = request.revokedNow?.keyring === keyring ? request.revokedNow.version : undefined;
    // On a compromise, revoke first from what is known, before the (slower) catalog read.
    if (revoked !== undefined) {
      const ofVersion = (await services.grants.list(keyId)).filter((g) => g.contextEquals?.['version'] === String(revoked));
      const early = planGrants(keyring, [], [], ofVersion);
      await applyPlan(services.grants, keyId, keyring, { revoke: early.revoke, create: [] });
    }
    // The ledger's marks are final (revokedNow ∪ marks), read after the early revocation above.
    const marked = services.ledger === undefined ? [] : [...(await services.ledger.revoked(keyring)).keys()];
    const revokedNow = new Set<number>([...marked, ...(revoked === undefined ? [] : [revoked])]);
    const stored = await services.catalogs.get(keyring);
    const versions = stored?.catalog.versions.map((v) => ({ version: v.version, state: v.state })) ?? [];
    const plan = planGrants(keyring, versions, services.grantees[keyring] ?? [], await services.grants.list(keyId), revokedNow);
    await applyPlan(services.grants, keyId, keyring, plan);
    results.push({ keyring, created: plan.create.length, revoked: plan.revoke.length });
  }
  return results;
}

/**
 * The key-access use case: reads the trigger, reconciles the grants it names, logs the counts.
 *
 * @throws ValidationError on an event of no known shape or for an unknown keyring.
 * @example
 * await runKeyAccess({}, { services, logger, metrics, functionName: 'key-access' }); // every keyring
 */
export async function runKeyAccess(event: unknown, context: JobContext<KeyAccessServices>): Promise<KeyAccessResult[]> {
  const { services, logger } = context;
  const request = parseKeyAccessEvent(event, Object.keys(services.keyringKeys), services.catalogPrefix);
  const results = await reconcileKeyAccess(request, services);
  logger.info('key access reconciled', { results });
  return results;
}
