/**
 * CatalogAdmin: what deleting a keyring needs from a catalog store besides compare-and-swap:
 * a tombstone that takes the catalog out of use (its name is never reused), the mark that makes
 * the deletion final once no writer can still hold the old catalog, and the undo of the
 * tombstone when records turned up under the keyring meanwhile. Only the local SQLite store
 * implements it; AWS mode has no keyring delete.
 *
 * A keyring is `deleting` from its tombstone until {@link CatalogAdmin.finishDelete}: the store's
 * `get` then refuses it with a ConflictError that says to rerun `keyring delete` (writers are
 * refused, a reader learns why and what restores it), and `list` leaves it out. Once finished,
 * `get` answers undefined, as for a name never created.
 */
import type { CatalogStore } from './catalog-store';

/** A deleted (or deleting) keyring, as its tombstone records it. */
export interface DeletedCatalog {
  readonly keyring: string;
  readonly deletedAt: string;
  /** Who deleted it. */
  readonly actor: string;
  readonly reason: string;
  /** The catalog's last generation before the delete. */
  readonly generation: number;
  /**
   * From when no writer can still hold a catalog read before the tombstone (the tombstone's time
   * plus the catalog cache lifetime): a count of records from then on is final.
   */
  readonly settlesAt: string;
  /** When the deletion was made final; undefined while the keyring is still being deleted. */
  readonly finishedAt?: string;
}

/** Port: tombstones of deleted catalogs. */
export interface CatalogAdmin {
  /**
   * Moves the catalog of `keyring` into a tombstone if its stored tag still equals
   * `expectedEtag` (ConflictError otherwise). The tombstone keeps the last catalog, so a
   * {@link CatalogAdmin.restoreDeleted} brings it back as it was.
   */
  tombstone(keyring: string, expectedEtag: string, info: { deletedAt: string; actor: string; reason: string; settlesAt: string }): Promise<void>;
  /** The tombstone of `keyring`, or undefined when it was never deleted. */
  deletedCatalog(keyring: string): Promise<DeletedCatalog | undefined>;
  /**
   * Makes the deletion of `keyring` final at `finishedAt`; ConflictError when its tombstone is
   * gone or already final (another run restored or finished it meanwhile).
   */
  finishDelete(keyring: string, finishedAt: string): Promise<void>;
  /** Puts a tombstoned catalog back in use (the delete is undone); NotFoundError without a tombstone. */
  restoreDeleted(keyring: string): Promise<void>;
}

/**
 * The store as a CatalogAdmin when it is one (the local SQLite store), else undefined.
 *
 * @example
 * const admin = catalogAdminOf(rk.catalogs);
 */
export function catalogAdminOf(store: CatalogStore): (CatalogStore & CatalogAdmin) | undefined {
  const candidate = store as Partial<CatalogAdmin>;
  return typeof candidate.tombstone === 'function' &&
    typeof candidate.deletedCatalog === 'function' &&
    typeof candidate.finishDelete === 'function' &&
    typeof candidate.restoreDeleted === 'function'
    ? (store as CatalogStore & CatalogAdmin)
    : undefined;
}
