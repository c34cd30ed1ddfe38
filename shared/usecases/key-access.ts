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
 *
 * The grantees of a keyring are its deploy-time grantees (REKEY_KEY_GRANTEES) and, when the
 * consumer registry is configured, the roles its registry document names, so adding a consumer
 * needs no redeploy. A registry consumer also gets one Decrypt grant on the ops key (to read the
 * catalog through S3) and one on the escrow key (to read the revocation ledger); a consumer
 * removed from the registry loses all three kinds. A registry entry outside the deploy-time
 * account bound is never granted, and reported (error log and HandlerFailures, which pages).
 * A registry document that cannot be read fails the run: nothing is revoked on a partial view.
 */
import { planBucketReadGrants, planGrants, type BucketReadPlan, type GrantPlan } from '../catalog/grant-plan';
import { isInsideBound } from '../consumers/consumer-document';
import { ValidationError } from '../errors';
import type { CatalogStore } from '../ports/catalog-store';
import type { ConsumerRegistry } from '../ports/consumer-registry';
import type { GrantStore } from '../ports/grant-store';
import type { RevocationLedger } from '../ports/revocation-ledger';
import { CATALOG_READ_GRANT_NAME, CONSUMER_REGISTRY_PREFIX, LEDGER_READ_GRANT_NAME } from '../vocabulary/consumer-registry';
import { catalogWrittenEventSchema, keyAccessCompromiseEventSchema, keyAccessScheduleEventSchema } from '../vocabulary/event-schemas';
import { METRIC } from '../vocabulary/metric-names';
import * as z from '../vocabulary/zod';
import type { JobContext } from './context';

/** A key and the bucket whose objects it encrypts, for a bucket-read grant. */
export interface BucketReadTarget {
  /** The KMS key's ARN. */
  readonly keyId: string;
  /** The bucket's ARN, the `aws:s3:arn` context S3 passes with S3 Bucket Keys. */
  readonly bucketArn: string;
}

/** The consumer registry as key-access reconciles it. */
export interface RegistryAccess {
  readonly registry: Pick<ConsumerRegistry, 'get'>;
  /** Accounts whose roles the registry may name (the key policies' bound). */
  readonly accounts: readonly string[];
  /** The ops key and the catalog bucket. */
  readonly catalogRead: BucketReadTarget;
  /** The escrow key and the escrow bucket (revocation ledger). */
  readonly ledgerRead: BucketReadTarget;
}

/** What the key-access use case works with. */
export interface KeyAccessServices {
  readonly grants: GrantStore;
  readonly catalogs: Pick<CatalogStore, 'get'>;
  /** The revocation ledger; its marks are revoked for the plan whatever the catalog says. @default none */
  readonly ledger?: Pick<RevocationLedger, 'revoked'>;
  /** Keyring → ARN of its KMS key; the keyrings the stack knows. */
  readonly keyringKeys: Readonly<Record<string, string>>;
  /** Keyring → role ARNs that read its version keys through grants (deploy-time). */
  readonly grantees: Readonly<Record<string, readonly string[]>>;
  /** Key prefix of catalog documents (to tell a catalog write from any other object). */
  readonly catalogPrefix: string;
  /** The consumer registry; undefined when the stack was deployed without it (registry ignored). @default none */
  readonly consumers?: RegistryAccess;
}

/** A registry entry that was not granted, and why. */
export interface RefusedConsumer {
  readonly keyring: string;
  readonly principalArn: string;
  readonly reason: 'outside-bound';
}

/** Outcome per keyring, returned to the invoker (no key material, only grant counts). */
export interface KeyAccessResult {
  readonly keyring: string;
  readonly created: number;
  readonly revoked: number;
  /** Registry consumers granted (present when the registry is configured). */
  readonly registryConsumers?: number;
  /** Registry entries refused (present when the registry is configured). */
  readonly refused?: readonly RefusedConsumer[];
}

/** Grant counts on one key. */
export interface GrantCounts {
  readonly created: number;
  readonly revoked: number;
}

/** Outcome of a whole run. */
export interface KeyAccessReport {
  readonly keyrings: readonly KeyAccessResult[];
  /** The bucket-read grants of registry consumers (absent when the registry is off). */
  readonly bucketReads?: { readonly catalog: GrantCounts; readonly ledger: GrantCounts };
  /** Every refused registry entry of every keyring read in the run. */
  readonly refused: readonly RefusedConsumer[];
}

/** What one invocation must do. */
export interface KeyAccessRequest {
  readonly keyrings: readonly string[];
  readonly revokedNow?: { readonly keyring: string; readonly version: number };
}

/** The part of a key before `.json` after `prefix`, or '' when the key is not of that shape. */
function nameUnder(key: string, prefix: string): string {
  return key.startsWith(prefix) && key.endsWith('.json') ? key.slice(prefix.length, -'.json'.length) : '';
}

/**
 * Turns any of the triggers into a request; keyrings the stack does not know are refused. An S3
 * `Object Created` event names a catalog document (`<catalogPrefix><keyring>.json`) or a
 * consumer registry document (`consumers/<keyring>.json`).
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
    const registry = key.startsWith(CONSUMER_REGISTRY_PREFIX);
    const name = registry ? nameUnder(key, CONSUMER_REGISTRY_PREFIX) : nameUnder(key, catalogPrefix);
    if (!known.includes(name)) throw new ValidationError(registry ? 'consumer registry event for an object that is no known keyring\'s registry' : 'catalog event for an object that is no keyring catalog');
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

async function applyBucketReadPlan(grants: GrantStore, keyId: string, plan: BucketReadPlan): Promise<GrantCounts> {
  for (const grantId of plan.revoke) await grants.revoke(keyId, grantId);
  for (const grant of plan.create) await grants.createBucketRead(keyId, grant);
  return { created: plan.create.length, revoked: plan.revoke.length };
}

/** One keyring's registry, split into the principals granted and those refused. */
interface RegistryView {
  readonly granted: readonly string[];
  readonly refused: readonly RefusedConsumer[];
}

/** Reads each keyring's registry at most once per run. */
function registryReader(consumers: RegistryAccess | undefined): (keyring: string) => Promise<RegistryView | undefined> {
  const seen = new Map<string, Promise<RegistryView>>();
  return (keyring) => {
    if (consumers === undefined) return Promise.resolve(undefined);
    let view = seen.get(keyring);
    if (view === undefined) {
      view = consumers.registry.get(keyring).then((stored) => {
        const granted: string[] = [];
        const refused: RefusedConsumer[] = [];
        for (const c of stored?.document.consumers ?? []) {
          if (isInsideBound(c.principalArn, consumers.accounts)) granted.push(c.principalArn);
          else refused.push({ keyring, principalArn: c.principalArn, reason: 'outside-bound' });
        }
        return { granted, refused };
      });
      seen.set(keyring, view);
    }
    return view;
  };
}

async function reconcileKeyrings(request: KeyAccessRequest, services: KeyAccessServices, registryOf: (keyring: string) => Promise<RegistryView | undefined>): Promise<KeyAccessResult[]> {
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
    const registry = await registryOf(keyring);
    // Deploy-time ∪ registry: a role in both gets one grant per version, not two.
    const grantees = [...new Set([...(services.grantees[keyring] ?? []), ...(registry?.granted ?? [])])];
    const plan = planGrants(keyring, versions, grantees, await services.grants.list(keyId), revokedNow);
    await applyPlan(services.grants, keyId, keyring, plan);
    results.push({
      keyring,
      created: plan.create.length,
      revoked: plan.revoke.length,
      ...(registry === undefined ? {} : { registryConsumers: registry.granted.length, refused: registry.refused }),
    });
  }
  return results;
}

/**
 * Reconciles the per-version grants of the requested keyrings (deploy-time grantees and, when
 * configured, registry consumers).
 *
 * @throws ValidationError for a keyring without a key.
 * @example
 * await reconcileKeyAccess({ keyrings: ['pii'] }, services); // [{ keyring: 'pii', created: 2, revoked: 0 }]
 */
export async function reconcileKeyAccess(request: KeyAccessRequest, services: KeyAccessServices): Promise<KeyAccessResult[]> {
  return reconcileKeyrings(request, services, registryReader(services.consumers));
}

/**
 * Reconciles everything one run owes: the requested keyrings' per-version grants, then, when
 * the registry is configured, the bucket-read grants on the ops and escrow keys, whose grantees
 * are the registry consumers of every keyring the stack knows (a role registered on two
 * keyrings holds one grant on each key).
 *
 * @throws ValidationError for a keyring without a key; the registry's errors when a document cannot be read.
 * @example
 * const report = await reconcileAccess({ keyrings: ['pii'] }, services);
 * report.bucketReads; // { catalog: { created: 1, revoked: 0 }, ledger: { created: 1, revoked: 0 } }
 */
export async function reconcileAccess(request: KeyAccessRequest, services: KeyAccessServices): Promise<KeyAccessReport> {
  const registryOf = registryReader(services.consumers);
  const keyrings = await reconcileKeyrings(request, services, registryOf);
  const consumers = services.consumers;
  if (consumers === undefined) return { keyrings, refused: [] };
  const readers = new Set<string>();
  const refused: RefusedConsumer[] = [];
  for (const keyring of Object.keys(services.keyringKeys).sort()) {
    const view = await registryOf(keyring);
    for (const arn of view?.granted ?? []) readers.add(arn);
    refused.push(...(view?.refused ?? []));
  }
  const granted = [...readers].sort();
  const { catalogRead, ledgerRead } = consumers;
  const catalog = await applyBucketReadPlan(services.grants, catalogRead.keyId, planBucketReadGrants(CATALOG_READ_GRANT_NAME, catalogRead.bucketArn, granted, await services.grants.list(catalogRead.keyId)));
  const ledger = await applyBucketReadPlan(services.grants, ledgerRead.keyId, planBucketReadGrants(LEDGER_READ_GRANT_NAME, ledgerRead.bucketArn, granted, await services.grants.list(ledgerRead.keyId)));
  return { keyrings, bucketReads: { catalog, ledger }, refused };
}

/** The HandlerFailures code of a registry entry refused for lying outside the account bound. */
export const CONSUMER_OUTSIDE_BOUND_CODE = 'CONSUMER_OUTSIDE_BOUND';

/**
 * The key-access use case: reads the trigger, reconciles the grants it names, logs the counts.
 * A refused registry entry is logged as an error and counted in `HandlerFailures` (dimensions
 * `function`, `code` {@link CONSUMER_OUTSIDE_BOUND_CODE}), which the stack's
 * HandlerFailures-key-access alarm watches; the rest of the run still goes through.
 *
 * @throws ValidationError on an event of no known shape or for an unknown keyring.
 * @example
 * await runKeyAccess({}, { services, logger, metrics, functionName: 'key-access' }); // every keyring
 */
export async function runKeyAccess(event: unknown, context: JobContext<KeyAccessServices>): Promise<KeyAccessReport> {
  const { services, logger, metrics } = context;
  const request = parseKeyAccessEvent(event, Object.keys(services.keyringKeys), services.catalogPrefix);
  if (services.consumers === undefined) logger.info('consumer registry ignored: the stack sets no consumer accounts and ops key (REKEY_CONSUMER_ACCOUNTS, REKEY_OPS_KEY_ARN)');
  const report = await reconcileAccess(request, services);
  for (const r of report.refused) {
    logger.error('consumer registry entry refused: its account is outside the consumer accounts the stack was deployed with', { keyring: r.keyring, principalArn: r.principalArn });
    metrics.put(METRIC.handlerFailures, 1, { function: context.functionName, code: CONSUMER_OUTSIDE_BOUND_CODE });
  }
  logger.info('key access reconciled', { results: report.keyrings, ...(report.bucketReads === undefined ? {} : { bucketReads: report.bucketReads }) });
  return report;
}
