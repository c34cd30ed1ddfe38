/**
 * KeyUseLog: observed use of version keys, the second piece of evidence (after reference
 * counts) before a version stops decrypting. A "use" is an unwrap of the version key: locally
 * each unwrap through the home's key vault, on AWS each KMS Decrypt on the keyring key with
 * encryption context `{ keyring, version }` as CloudTrail reports it through EventBridge. The
 * granularity is therefore the version-key cache lifetime of the readers, which the quiet
 * period must comfortably exceed.
 */

/** The last observed use of one version. */
export interface KeyUse {
  /** When the version key was last unwrapped. */
  readonly at: Date;
  /** Who unwrapped it, as far as the source knows (IAM principal ARN, `local`). */
  readonly by?: string;
}

/** Port to the record of observed key use. */
export interface KeyUseLog {
  /**
   * Records a use of `version` of `keyring` at `use.at`. Idempotent and monotonic: the stored
   * time only ever moves forward, so replayed or reordered observations change nothing.
   */
  recordUse(keyring: string, version: number, use: KeyUse): Promise<void>;
  /** The last observed use of each version of `keyring`; a version never seen is absent. */
  lastUse(keyring: string): Promise<ReadonlyMap<number, KeyUse>>;
  /**
   * Since when uses have been observed for `keyring` (the log's start), or undefined when the
   * log cannot say; a version's silence only counts from this instant on.
   */
  observingSince(keyring: string): Promise<Date | undefined>;
}
