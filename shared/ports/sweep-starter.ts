/**
 * SweepStarter: hands a large record target of a version to a bulk engine (on AWS the Step
 * Functions Distributed Map, SfnSweepStarter), idempotently per (keyring, version, target, mode).
 */

/** What a bulk sweep is asked to move. */
export interface SweepStartInput {
  readonly keyring: string;
  /** The version being swept away. */
  readonly version: number;
  readonly bucket: string;
  readonly prefix: string;
  readonly mode: 'rewrap' | 'reencrypt';
}

/** Port to a bulk sweep engine. */
export interface SweepStarter {
  /** Starts the sweep (a duplicate start is a no-op). */
  start(input: SweepStartInput): Promise<unknown>;
}
