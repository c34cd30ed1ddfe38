/**
 * RevocationLedger: revocations recorded where the writable catalog cannot undo them. On AWS
 * each mark is an object under Object Lock (compliance mode) that no rekey role may delete or
 * overwrite; every reader of the catalog overlays the marks, so a catalog edited back to
 * `active` still reads as revoked, and the grant plan never grants a marked version again.
 */

/** One revocation, as recorded. */
export interface RevocationMark {
  readonly keyring: string;
  readonly version: number;
  /** ISO-8601 time of the revocation. */
  readonly at: string;
  readonly reason: string;
  /** Who revoked: an IAM principal ARN on AWS, `cli:<user>` locally, `event:<id>`. */
  readonly actor: string;
}

/** Port to the ledger of revocations. */
export interface RevocationLedger {
  /**
   * Records a revocation. Idempotent: the first mark of a version wins and a second call with
   * the same version changes nothing (and does not fail).
   */
  mark(mark: RevocationMark): Promise<void>;
  /** Every revoked version of `keyring` with its mark. */
  revoked(keyring: string): Promise<ReadonlyMap<number, RevocationMark>>;
}
