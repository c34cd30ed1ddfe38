/**
 * The facts the lifecycle needs before it disables or destroys a version, on AWS: record and
 * cache-entry counts per version, and whether a verified escrow copy exists.
 */
import type { FactsSource } from '../../ports/facts-source';
import type { EscrowStore } from '../../ports/escrow-store';
import type { CacheStore } from '../../ports/cache-store';
import type { CatalogStore } from '../../ports/catalog-store';
import { StoreFactsSource } from '../../reencrypt/store-facts-source';

/** Where the facts come from. */
export interface LifecycleFactsOptions {
  readonly records: { countByVersion(keyring: string): Promise<Map<number, number>> };
  readonly cache?: Pick<CacheStore, 'countByVersion'>;
  readonly catalogs: Pick<CatalogStore, 'get'>;
  readonly escrowStore: Pick<EscrowStore, 'get'>;
}

/**
 * The lifecycle's FactsSource over records, cache and escrow.
 *
 * @example
 * const facts = buildLifecycleFacts({ records: recordCounts(targets), cache, catalogs, escrowStore });
 */
export function buildLifecycleFacts(options: LifecycleFactsOptions): FactsSource {
  const { records, cache, catalogs, escrowStore } = options;
  return new StoreFactsSource({
    records,
    ...(cache === undefined ? {} : { cache }),
    // Destroying needs both: the record exists in the Object Lock bucket, and a restore drill
    // proved it (the escrow function records that in the catalog).
    escrowVerified: async (keyring, version) => {
      const stored = await catalogs.get(keyring);
      const entry = stored?.catalog.versions.find((v) => v.version === version);
      if (entry?.escrowVerifiedAt === undefined) return false;
      return (await escrowStore.get(keyring, version)) !== undefined;
    },
  });
}
