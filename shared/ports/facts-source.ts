/**
 * FactsSource: what the lifecycle needs to know from outside the catalog before it may disable
 * or destroy a version. Implemented over the RecordStore, CacheStore and escrow store.
 */
export interface FactsSource {
  /** Records plus cache entries still referencing `version` of `keyring`. */
  references(keyring: string, version: number): Promise<number>;
  /** Whether an escrow copy of the version exists and a restore drill verified it. */
  escrowVerified(keyring: string, version: number): Promise<boolean>;
}
