/**
 * `keyring delete`: takes a keyring with no live data out of use for good, in two runs, like a
 * revocation's settle window, so that no record is ever left without its key.
 *
 * 1. The first run checks that nothing blocks the delete, asks for confirmation, and moves the
 *    catalog into a tombstone (compare-and-swap on the catalog just read, so a rotation or
 *    revocation that lands meanwhile makes the delete re-run instead of losing it). From then on
 *    a writer that reads the catalog is refused. It counts the records once more (a writer that
 *    wrote just before the tombstone undoes it at once) and reports the keyring as `deleting`
 *    until `settlesAt`: the tombstone's time plus the catalog cache lifetime, the longest a
 *    writer that read the catalog before the tombstone may still trust and write with it.
 * 2. A rerun counts the records again. Any record (written by such a writer) restores the
 *    keyring as it was, so those records stay readable, and the delete is refused with the
 *    count. None, at or after `settlesAt`: the deletion is final. None before it: still settling.
 *
 * Only the first run is irreversible in intent and asks for confirmation; a rerun only finishes
 * or undoes it. Times come from the caller's clock (the CLI's, `--now` included), as revoke's
 * settle window does, so a rehearsal on simulated time settles on simulated time.
 */
import { ConflictError, UnknownKeyringError } from '../errors';
import { deleteBlockers, describeBlocker } from '../catalog/keyring-delete';
import { validateKeyringName } from '../catalog/policy';
import type { AuditSink } from '../ports/audit-sink';
import type { CatalogAdmin, DeletedCatalog } from '../ports/catalog-admin';
import type { CatalogStore } from '../ports/catalog-store';
import type { RecordStore } from '../ports/record-store';
import { DEFAULT_CATALOG_TTL_MS } from '../vocabulary/catalog-cache';

/** What {@link deleteKeyring} reads and writes. */
export interface KeyringDeleteServices {
  readonly catalogs: CatalogStore & CatalogAdmin;
  readonly records: Pick<RecordStore, 'countByVersion'>;
  readonly audit: AuditSink;
}

/** What {@link deleteKeyring} is asked to do. */
export interface KeyringDeleteInput {
  readonly keyring: string;
  readonly actor: string;
  readonly now: Date;
  /** @default 'operator request' */
  readonly reason?: string;
  /**
   * How long after the tombstone a writer may still hold the catalog it read before: the
   * catalog cache lifetime of the writers (REKEY_CATALOG_TTL_MS).
   * @default DEFAULT_CATALOG_TTL_MS (60 s)
   */
  readonly settleMs?: number;
  /** Asked on the first run, after every check passed and before anything changes (the CLI's confirmation); throws to stop. */
  readonly confirm?: () => Promise<void>;
}

/** Result of {@link deleteKeyring}. */
export interface KeyringDeleteResult {
  readonly keyring: string;
  /**
   * `deleting`: tombstoned, writers are refused, and a rerun at or after `settlesAt` finishes it.
   * `deleted`: final.
   */
  readonly state: 'deleting' | 'deleted';
  /** False when this run changed nothing (a rerun before `settlesAt`, or of a final deletion). */
  readonly changed: boolean;
  readonly deletedAt: string;
  readonly deletedBy: string;
  readonly settlesAt: string;
  /** When the deletion became final (with `state: 'deleted'`). */
  readonly finishedAt?: string;
  /** How many versions the keyring had (first run only; 0 on a rerun). */
  readonly versions: number;
}

/**
 * Starts, finishes or undoes the deletion of `keyring` (see the file comment).
 *
 * @example
 * const r = await deleteKeyring({ keyring: 'scratch', actor: 'cli:alice', now: new Date(), confirm }, { catalogs, records, audit });
 * // first run: { state: 'deleting', settlesAt: '...' }; rerun after settlesAt: { state: 'deleted' }
 * @throws UnknownKeyringError; ConflictError naming every blocker (records, unmanaged holders,
 *   a revocation in progress), or when records were written during or after the delete (the
 *   keyring is then kept or restored, and the count is given).
 */
export async function deleteKeyring(input: KeyringDeleteInput, services: KeyringDeleteServices): Promise<KeyringDeleteResult> {
  const { keyring } = input;
  validateKeyringName(keyring);
  const tomb = await services.catalogs.deletedCatalog(keyring);
  return tomb === undefined ? startDelete(input, services) : rerun(input, services, tomb);
}

async function startDelete(input: KeyringDeleteInput, services: KeyringDeleteServices): Promise<KeyringDeleteResult> {
  const { keyring, actor, now } = input;
  const { catalogs, records, audit } = services;
  const stored = await catalogs.get(keyring);
  if (stored === undefined) throw new UnknownKeyringError(keyring);

  const blockers = deleteBlockers(stored.catalog, await records.countByVersion(keyring));
  if (blockers.length > 0) {
    throw new ConflictError(`cannot delete keyring ${keyring}: ${blockers.map((b) => describeBlocker(keyring, b)).join('; ')}; nothing was changed`);
  }
  await input.confirm?.();

  const deletedAt = now.toISOString();
  const settlesAt = new Date(now.getTime() + (input.settleMs ?? DEFAULT_CATALOG_TTL_MS)).toISOString();
  const reason = input.reason ?? 'operator request';
  await catalogs.tombstone(keyring, stored.etag, { deletedAt, actor, reason, settlesAt });
  // A writer that wrote between the first count and the tombstone is seen here.
  const late = total(await records.countByVersion(keyring));
  if (late > 0) {
    await catalogs.restoreDeleted(keyring);
    throw new ConflictError(`${late} record(s) were written under ${keyring} while it was being deleted; the keyring was kept (nothing was deleted)`);
  }
  const versions = stored.catalog.versions.length;
  await audit.record({
    at: deletedAt,
    actor,
    action: 'keyring.delete-started',
    keyring,
    reason,
    details: { generation: stored.catalog.generation, versions, settlesAt },
  });
  return { keyring, state: 'deleting', changed: true, deletedAt, deletedBy: actor, settlesAt, versions };
}

/** A rerun on a tombstoned keyring: restore when records turned up, else finish once settled. */
async function rerun(input: KeyringDeleteInput, services: KeyringDeleteServices, tomb: DeletedCatalog): Promise<KeyringDeleteResult> {
  const { keyring, actor, now } = input;
  const { catalogs, records, audit } = services;
  const base = { keyring, deletedAt: tomb.deletedAt, deletedBy: tomb.actor, settlesAt: tomb.settlesAt, versions: 0 };
  // Counted on every rerun, a final deletion included: a writer whose catalog cache lifetime was
  // longer than the settle window still gets its records back, since the tombstone kept the keys.
  const late = total(await records.countByVersion(keyring));
  if (late > 0) {
    await catalogs.restoreDeleted(keyring);
    await audit.record({ at: now.toISOString(), actor, action: 'keyring.restored', keyring, reason: 'records written after the delete started', details: { records: late } });
    throw new ConflictError(
      `${late} record(s) were written under ${keyring} after its deletion started (a writer held an earlier catalog): the keyring was restored so they stay readable; delete them first ('rekey records delete') to delete it`,
    );
  }
  if (tomb.finishedAt !== undefined) return { ...base, state: 'deleted', changed: false, finishedAt: tomb.finishedAt };
  if (now.getTime() < Date.parse(tomb.settlesAt)) return { ...base, state: 'deleting', changed: false };

  const finishedAt = now.toISOString();
  await catalogs.finishDelete(keyring, finishedAt);
  await audit.record({
    at: finishedAt,
    actor,
    action: 'keyring.deleted',
    keyring,
    reason: tomb.reason,
    details: { generation: tomb.generation, startedAt: tomb.deletedAt, startedBy: tomb.actor },
  });
  return { ...base, state: 'deleted', changed: true, finishedAt };
}

function total(counts: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const c of counts.values()) n += c;
  return n;
}
