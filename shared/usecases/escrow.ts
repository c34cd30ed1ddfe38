/**
 * escrow: `archive` writes an escrow record for every live version that lacks one (then records
 * it in the catalog, audited `escrow.exported`); `drill` proves every escrow copy with the escrow
 * key and its key check value alone (never the key vault: a drill is no use of a version key),
 * publishes `EscrowDrillFailures` per keyring (0 = success) and records `verifiedAt` for the live
 * versions that passed, which is what lets the lifecycle destroy a version after its retention;
 * `restore` puts a destroyed or lost version back into the catalog as `deprecated`, re-wrapped
 * under the keyring's current vault key (audited `version.restored` and `escrow.restored`). A
 * drill archives what the last archive run has not reached yet before it verifies. The escrow
 * Lambda and the CLI's `escrow archive` / `verify` / `restore` all run these functions.
 */
import { CatalogWriter, type AuditDraft, type Decision } from '../catalog/catalog-writer';
import { activeVersion, canDecrypt } from '../catalog/lifecycle';
import type { KeyringService } from '../catalog/keyring-service';
import { restorePlan, restoreVersion } from '../catalog/restore';
import { UnknownKeyringError, ValidationError } from '../errors';
import type { EscrowService } from '../escrow/escrow-service';
import type { AuditSink } from '../ports/audit-sink';
import type { CatalogStore } from '../ports/catalog-store';
import type { EscrowEvent } from '../vocabulary/event-schemas';
import { METRIC } from '../vocabulary/metric-names';
import { actorOf, type JobContext } from './context';
import { settleEach, type KeyringFailure } from './settle';

/** The services the escrow job reads. */
export interface EscrowServices {
  readonly keyrings: Pick<KeyringService, 'get' | 'recordEscrow'>;
  /** Read to list keyrings; read and compare-and-swapped by a restore. */
  readonly catalogs: Pick<CatalogStore, 'list' | 'get' | 'put'>;
  readonly escrow: Pick<EscrowService, 'archive' | 'verify' | 'rewrapFromEscrow'>;
  /** Where `escrow.exported`, `escrow.restored` and `version.restored` go. */
  readonly audit: AuditSink;
  readonly clock: () => Date;
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
  /** drill: how the version was proven (`kcv`, `canary` for records older than KCVs, `integrity` for revoked versions). */
  readonly check?: 'kcv' | 'canary' | 'integrity';
  /** restore: whether the catalog was changed now (false: it was restored already). */
  readonly restored?: boolean;
  /** restore: `destroyed` or `missing` (what the catalog held before). */
  readonly from?: 'destroyed' | 'missing';
}

/** A version an archive run did not try, and why. */
export interface EscrowSkip {
  readonly version: number;
  /**
   * `escrowed`: the catalog records its escrow already; `unreadable`: retired before its first
   * archive; `revoked`: never escrowed, its key is presumed compromised and is never restored.
   */
  readonly reason: 'escrowed' | 'unreadable' | 'revoked';
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
  readonly action: 'archive' | 'drill' | 'restore';
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
  if (event.action === 'restore') {
    if (event.keyring === undefined || event.version === undefined) throw new ValidationError('a restore names its keyring and version');
    const { keyring, version } = event;
    // A refused restore (revoked, still holding its key, no record) is the caller's answer, not a
    // failure to settle among other keyrings: it propagates as its typed error.
    const outcome = await restore(keyring, version, event.reason ?? 'restore from escrow', event.actor ?? actorOf(context), context);
    return { ok: true, action: 'restore', results: [outcome] };
  }
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
    if (v.state === 'revoked' || v.revokedAt !== undefined) {
      // Restoring a revoked version is refused, so its escrow copy could only ever leak it.
      skipped.push({ version: v.version, reason: 'revoked' });
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
    if (result.created) {
      // Audited before the catalog stamp: a crash between the two leaves the record (found again
      // by the next run, created: false) and its audit event, never a silent export.
      await services.audit.record({
        at: services.clock().toISOString(),
        actor: actorOf(context),
        action: 'escrow.exported',
        keyring,
        version: v.version,
        details: { escrowKeyId: result.escrowKeyId, offlineCopy: result.offlineCopy, createdAt: result.createdAt },
      });
    }
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
    // An integrity-only check (a revoked version) proved no key: it stamps nothing.
    if (check.ok && check.check !== 'integrity' && live !== undefined) {
      await services.keyrings.recordEscrow(keyring, check.version, { verifiedAt, actor: actorOf(context) });
    }
  }
  const failures = versions.filter((v) => !v.ok).length;
  metrics.put(METRIC.escrowDrillFailures, failures, { keyring });
  if (failures > 0) context.logger.error('escrow drill failed', { keyring, failures, versions: versions.filter((v) => !v.ok) });
  return { keyring, status: 'done', versions, failures, checkedAt: report.checkedAt };
}

/**
 * Restores one version from escrow into the catalog. The catalog is read first so that a refused
 * restore (revoked, still holding its key) opens no escrow copy at all; then the copy is opened
 * with the escrow key, proven by its KCV (or canary), re-wrapped under the active version's vault
 * key, and written with compare-and-swap (a lost race re-decides over the newer catalog). A rerun
 * after a crash finds the version restored and changes nothing.
 */
async function restore(keyring: string, version: number, reason: string, actor: string, context: JobContext<EscrowServices>): Promise<EscrowOutcome> {
  const { services } = context;
  const stored = await services.catalogs.get(keyring);
  if (stored === undefined) throw new UnknownKeyringError(keyring);
  const plan = restorePlan(stored.catalog, version);
  if (plan.kind === 'already-restored') return { keyring, status: 'done', versions: [{ version, ok: true, restored: false }], failures: 0 };
  const active = activeVersion(stored.catalog);
  if (active === undefined) throw new UnknownKeyringError(keyring);
  const key = await services.escrow.rewrapFromEscrow(keyring, version, active.wrappingKeyId);
  const writer = new CatalogWriter({ store: services.catalogs, audit: services.audit, maxAttempts: 8 });
  const now = services.clock();
  const from = plan.kind;
  const changed = await writer.write(keyring, actor, now, async (current): Promise<Decision<boolean>> => {
    const next = restoreVersion(current, { version, key, now, escrowedAt: key.escrowedAt });
    if (next === current) return { events: [], result: () => false };
    const events: AuditDraft[] = [
      { action: 'version.restored', version, reason, details: { from, state: 'deprecated', wrappingKeyId: key.wrappingKeyId } },
      { action: 'escrow.restored', version, reason, details: { escrowKeyId: key.escrowKeyId, escrowedAt: key.escrowedAt, check: key.check } },
    ];
    return { next, events, result: () => true };
  });
  return { keyring, status: 'done', versions: [{ version, ok: true, restored: changed, from }], failures: 0 };
}
