import type { Catalog } from '../catalog/model';

/** A catalog as read, with the opaque tag that a compare-and-swap must present. */
export interface StoredCatalog {
  readonly catalog: Catalog;
  /** Opaque version tag (S3 ETag, file generation hash). */
  readonly etag: string;
}

/**
 * CatalogStore: one document per keyring, written only with compare-and-swap, so that two
 * writers (two reconcilers, a rotation racing a revocation) can never both win.
 */
export interface CatalogStore {
  /** Reads a keyring's catalog, or undefined when it does not exist. */
  get(keyring: string): Promise<StoredCatalog | undefined>;
  /** Names of every keyring, sorted. */
  list(): Promise<string[]>;
  /**
   * Writes `catalog` if the stored tag still equals `expectedEtag`, or, with `null`, only if
   * no catalog exists yet. Throws ConflictError otherwise. Returns the new tag.
   */
  put(catalog: Catalog, expectedEtag: string | null): Promise<string>;
}
