/**
 * Sticky revocations: the revocation ledger (shared/ports/revocation-ledger.ts) laid over the
 * writable catalog. On AWS four function roles and the operators can write a catalog document;
 * a revocation must not depend on any of them. So every catalog read on AWS goes through
 * {@link StickyRevocationCatalogStore}: a version the ledger marks reads as revoked whatever
 * the document says, and a write that would make a marked version readable again is refused.
 *
 * Only a *readable* marked version is changed by the overlay (pending, active, rotating,
 * deprecated become `revoked`); a marked version that is already revoked, disabled or destroyed
 * keeps its state and only gains `revokedAt`/`revokedReason` when the document lost them, so
 * re-enable and restore (which refuse a version carrying `revokedAt`) refuse it too. Nothing
 * here mints a version: a document edited so that the marked version is its only active one
 * reads with no active version at all (nothing encrypts under the compromised key; writers fail
 * the catalog invariants and alarm) until a revocation writes a replacement.
 */
import { IllegalTransitionError } from '../errors';
import type { CatalogStore, StoredCatalog } from '../ports/catalog-store';
import type { RevocationLedger, RevocationMark } from '../ports/revocation-ledger';
import type { Catalog, KeyVersion, VersionState } from './model';

/** States in which a version key still serves ordinary readers. */
const READABLE: ReadonlySet<VersionState> = new Set<VersionState>(['pending', 'active', 'rotating', 'deprecated']);

/**
 * The catalog as the ledger allows it to be read: every marked version that the document shows
 * readable is revoked (with the mark's time and reason unless the document has its own), every
 * other marked version keeps its state and carries `revokedAt`. Pure; returns `catalog` itself
 * when no mark changes anything.
 *
 * @example
 * const read = applyRevocationMarks(catalog, new Map([[1, { keyring: 'pii', version: 1, at, reason: 'SEC-42', actor }]]));
 * read.versions[0]?.state; // 'revoked', even if the document said 'active'
 */
export function applyRevocationMarks(catalog: Catalog, marks: ReadonlyMap<number, RevocationMark>): Catalog {
  if (marks.size === 0) return catalog;
  let changed = false;
  const versions = catalog.versions.map((v): KeyVersion => {
    const mark = marks.get(v.version);
    if (mark === undefined) return v;
    const stamped = { revokedAt: v.revokedAt ?? mark.at, revokedReason: v.revokedReason ?? mark.reason, revokedBy: v.revokedBy ?? mark.actor };
    if (READABLE.has(v.state)) {
      changed = true;
      return { ...v, state: 'revoked', ...stamped };
    }
    if (v.revokedAt === undefined) {
      changed = true;
      return { ...v, ...stamped };
    }
    return v;
  });
  return changed ? { ...catalog, versions } : catalog;
}

/**
 * The marked versions that `catalog` would make readable; empty when the write is safe.
 *
 * @example
 * readableMarked(catalog, marks); // [1] when version 1 is marked and the document says 'rotating'
 */
export function readableMarked(catalog: Catalog, marks: ReadonlyMap<number, RevocationMark>): number[] {
  return catalog.versions.filter((v) => marks.has(v.version) && READABLE.has(v.state)).map((v) => v.version);
}

/** Options of {@link StickyRevocationCatalogStore}. */
export interface StickyRevocationCatalogStoreOptions {
  /** The writable catalog store underneath (S3CatalogStore on AWS). */
  readonly store: CatalogStore;
  readonly ledger: Pick<RevocationLedger, 'revoked'>;
  /**
   * `overlay` (the default): reads apply the marks. `raw`: reads apply every mark but the
   * newest one, whose version stays as the document has it; for the revocation itself, which
   * marks first and then must see the version it has just marked as not yet revoked, so that it
   * writes the revocation and its replacement version. Every older mark is applied, so a
   * document in which a role wrote an earlier revoked version back to readable never blocks a
   * later revocation: its write carries the repair. Writes are guarded in both modes.
   */
  readonly reads?: 'overlay' | 'raw';
}

/**
 * A CatalogStore decorator that makes revocations sticky (see the module comment). The etag of
 * a read is the stored document's, so a compare-and-swap over an overlaid read writes the
 * overlaid catalog: the first write after a tampered document repairs it.
 *
 * @example
 * const catalogs = new StickyRevocationCatalogStore({ store: new S3CatalogStore({ ... }), ledger });
 * (await catalogs.get('pii'))?.catalog.versions[0]?.state; // 'revoked' once version 1 is marked
 */
export class StickyRevocationCatalogStore implements CatalogStore {
  private readonly store: CatalogStore;
  private readonly ledger: Pick<RevocationLedger, 'revoked'>;
  private readonly overlay: boolean;

  public constructor(options: StickyRevocationCatalogStoreOptions) {
    this.store = options.store;
    this.ledger = options.ledger;
    this.overlay = (options.reads ?? 'overlay') === 'overlay';
  }

  /** The stored catalog with the ledger's marks applied (with `reads: 'raw'`, all but the newest). */
  public async get(keyring: string): Promise<StoredCatalog | undefined> {
    const stored = await this.store.get(keyring);
    if (stored === undefined) return stored;
    // A ledger that cannot be read fails the read: a catalog without its marks is never served.
    const marks = await this.ledger.revoked(keyring);
    const catalog = applyRevocationMarks(stored.catalog, this.overlay ? marks : withoutNewest(marks));
    return catalog === stored.catalog ? stored : { catalog, etag: stored.etag };
  }

  public async list(): Promise<string[]> {
    return this.store.list();
  }

  /**
   * Writes `catalog` unless it shows a marked version readable.
   *
   * @throws IllegalTransitionError naming the marked versions; nothing is written.
   */
  public async put(catalog: Catalog, expectedEtag: string | null): Promise<string> {
    const readable = readableMarked(catalog, await this.ledger.revoked(catalog.keyring));
    if (readable.length > 0) {
      throw new IllegalTransitionError(
        `refusing to write catalog '${catalog.keyring}': version${readable.length > 1 ? 's' : ''} ${readable.join(', ')} ${readable.length > 1 ? 'are' : 'is'} revoked in the revocation ledger and must stay unreadable`,
      );
    }
    return this.store.put(catalog, expectedEtag);
  }
}

/** Every mark but the newest (latest `at`, then highest version): the one a revocation in progress just wrote. */
function withoutNewest(marks: ReadonlyMap<number, RevocationMark>): ReadonlyMap<number, RevocationMark> {
  let newest: RevocationMark | undefined;
  for (const m of marks.values()) {
    if (newest === undefined || m.at > newest.at || (m.at === newest.at && m.version > newest.version)) newest = m;
  }
  if (newest === undefined) return marks;
  const rest = new Map(marks);
  rest.delete(newest.version);
  return rest;
}
