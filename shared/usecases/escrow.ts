/**
 * escrow: `archive` writes an escrow record for every live version that lacks one (then records
 * it in the catalog); `drill` restores every version from escrow alone, publishes
 * `EscrowDrillFailures` per keyring (0 = success) and records `verifiedAt` for the live versions
 * that passed, which is what lets the lifecycle destroy a version after its retention. A drill
 * archives what the last archive run has not reached yet before it verifies. The escrow Lambda
 * and the CLI's `escrow archive` / `escrow verify` both run these functions.
 */
import { canDecrypt } from '../catalog/lifecycle';
import type { KeyringService } from '../catalog/keyring-service';
import type { EscrowService } from '../escrow/escrow-service';
import type { CatalogStore } from '../ports/catalog-store';
import type { EscrowEvent } from '../vocabulary/event-schemas';
import { METRIC } from '../vocabulary/metric-names';
import { actorOf, type JobContext } from './context';
import { settleEach, type KeyringFailure } from './settle';

/** The services the escrow job reads. */
export interface EscrowServices {
  readonly keyrings: Pick<KeyringService, 'get' | 'recordEscrow'>;
  readonly catalogs: Pick<CatalogStore, 'list'>;
  readonly escrow: Pick<EscrowService, 'archive' | 'verify'>;
  /**
   * Whether the escrow service can still unwrap a version revoked or disabled before its first
   * archive. False on AWS: the escrow role reads keys through per-version grants, which exist
   * only for readable states (docs/deploy.md "4. How revocation is enforced"). True locally:
   * the file vault holds every key until it is destroyed.
   */
  readonly retiredKeysReadable: boolean;
}

/** One version's escrow outcome. */
export interface EscrowVersionOutcome {
  readonly version: number;
  readonly ok: boolean;
  /** archive: whether a record was written now; drill: the failure reason. */
  readonly created?: boolean;
  readonly reason?: string;
  /** drill: the rekey error code behind a failure (no message text, no bytes). */
  readonly detail?: string;
  /** drill: the record also holds an offline RSA copy (which the drill cannot open). */
  readonly offlineCopy?: boolean;
}

/** A version an archive run did not try, and why. */
export interface EscrowSkip {
  readonly version: number;
  /** `escrowed`: the catalog records its escrow already; `unreadable`: retired before its first archive. */
  readonly reason: 'escrowed' | 'unreadable';
}

/** What escrow did for one keyring. */
export type EscrowOutcome =
  | {
      readonly keyring: string;
      readonly status: 'done';
      readonly versions: readonly EscrowVersionOutcome[];
      readonly failures: number;
      /** archive: the live versions not tried. */
      readonly skipped?: readonly EscrowSkip[];
      /** drill: when the drill ran (the `verifiedAt` it recorded). */
      readonly checkedAt?: string;
    }
  | { readonly keyring: string; readonly status: 'failed'; readonly error: KeyringFailure };

/** The response of the escrow function. */
export interface EscrowResponse {
  readonly ok: boolean;
  readonly action: 'archive' | 'drill';
  readonly results: readonly EscrowOutcome[];
}

/**
 * Runs the escrow job over the named keyring, or every keyring.
 *
 * @example
 * await runEscrow({ action: 'drill', keyring: 'payments' }, context); // { ok: true, ... failures: 0 }
 */
export async function runEscrow(event: EscrowEvent, context: JobContext<EscrowServices>): Promise<EscrowResponse> {
  const { services } = context;
  const names = event.keyring === undefined ? await services.catalogs.list() : [event.keyring];
  const results = await settleEach(names, (keyring) => (event.action === 'archive' ? archive(keyring, context) : drill(keyring, context)));
  return { ok: results.every((r) => r.status === 'done' && r.failures === 0), action: event.action, results };
}

async function archive(keyring: string, context: JobContext<EscrowServices>): Promise<EscrowOutcome> {
  const { services, metrics } = context;
  const catalog = await services.keyrings.get(keyring);
  const versions: EscrowVersionOutcome[] = [];
  const skipped: EscrowSkip[] = [];
  for (const v of catalog.versions) {
    if (v.state === 'destroyed' || v.wrappedKey === undefined) continue;
    if (v.escrowedAt !== undefined) {
      skipped.push({ version: v.version, reason: 'escrowed' });
      continue;
    }
    // Where retired keys cannot be read, trying would fail the whole run every time and leave
    // the keyring's other versions, the fresh active one included, unescrowed.
    if (!canDecrypt(v.state, 'read') && !services.retiredKeysReadable) {
      context.logger.warn('version not escrowed: it was revoked or disabled before its first archive run', { keyring, version: v.version, state: v.state });
      skipped.push({ version: v.version, reason: 'unreadable' });
      continue;
    }
    // archive() is idempotent (an existing record holding the same key is kept), so a crash
    // between the record and the catalog update is repaired by the next run.
    const result = await services.escrow.archive(keyring, v.version);
    await services.keyrings.recordEscrow(keyring, v.version, { escrowedAt: new Date(result.createdAt), actor: actorOf(context) });
    if (result.created) metrics.put(METRIC.escrowArchived, 1, { keyring, version: v.version });
    versions.push({ version: v.version, ok: true, created: result.created });
  }
  return { keyring, status: 'done', versions, failures: 0, skipped };
}

async function drill(keyring: string, context: JobContext<EscrowServices>): Promise<EscrowOutcome> {
  const { services, metrics } = context;
  // A version created since the last (hourly) archive run has no record yet: the drill would call
  // it missing and page the on-call for the schedules' phase, not for a fault. Archiving first is
  // idempotent and leaves only real losses (a record gone, unreadable or not opening) to report.
  await archive(keyring, context);
  const report = await services.escrow.verify(keyring);
  const catalog = await services.keyrings.get(keyring);
  const verifiedAt = new Date(report.checkedAt);
  const versions: EscrowVersionOutcome[] = [];
  for (const check of report.results) {
    const { keyring: _keyring, ...outcome } = check;
    versions.push(outcome);
    const live = catalog.versions.find((v) => v.version === check.version && v.state !== 'destroyed');
    if (check.ok && live !== undefined) {
      await services.keyrings.recordEscrow(keyring, check.version, { verifiedAt, actor: actorOf(context) });
    }
  }
  const failures = versions.filter((v) => !v.ok).length;
  metrics.put(METRIC.escrowDrillFailures, failures, { keyring });
  if (failures > 0) context.logger.error('escrow drill failed', { keyring, failures, versions: versions.filter((v) => !v.ok) });
  return { keyring, status: 'done', versions, failures, checkedAt: report.checkedAt };
}
