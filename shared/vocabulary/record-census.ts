/**
 * Where the record census of an S3 record target lives in the stack's state bucket, and how long
 * it may be trusted. One place for the key layout: the reencrypt function writes the census,
 * the key-use function the write marks, the lifecycle readers and the CLI read both, and the
 * stack grants exactly these prefixes and expires the marks.
 *
 * - `census/<keyring>/<target id>.json`: the counts the last complete sweep run saw.
 * - `census/<keyring>/<target id>/writes/<event time, ISO seconds>/<version>.<origin>.<event id>`: an
 *   empty object per record write S3 reported after it (the name carries everything, so counting
 *   lists and never reads them).
 */
import { createHash } from 'node:crypto';

/** Prefix of every census object in the state bucket. */
export const CENSUS_PREFIX = 'census/';

/**
 * Age after which write marks expire (a lifecycle rule of the state bucket): they are needed
 * only until the next census, which a daily sweep takes.
 */
export const CENSUS_MARK_EXPIRY_DAYS = 35;

/**
 * Age after which a census is no longer used for counts: well inside the marks' expiry, so the
 * marks written since the census are all still there when it is used. Older: counts fall back
 * to listing the target.
 */
export const CENSUS_MAX_AGE_MS = 30 * 86_400_000;

/**
 * How far before the census started its write marks are counted. S3's event time has whole
 * seconds and the census starts at a millisecond instant; a margin counts a write twice rather
 * than never.
 */
export const CENSUS_WRITE_MARGIN_MS = 5 * 60_000;

/**
 * How long after a census first found a bucket's EventBridge notifications on its writes count
 * as reported: S3 says delivery starts "around five minutes" after they are turned on
 * ("Enabling Amazon EventBridge", https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html); doubled.
 */
export const CENSUS_EVENTS_SETTLE_MS = 10 * 60_000;

/** The record target a census belongs to. */
export interface CensusTarget {
  readonly keyring: string;
  readonly bucket: string;
  readonly prefix: string;
}

/**
 * A short, stable id of a target (bucket and prefix may hold any characters S3 allows).
 *
 * @example
 * censusTargetId({ keyring: 'pii', bucket: 'records', prefix: 'pii/' }); // '3f0c...' (20 hex digits)
 */
export function censusTargetId(target: CensusTarget): string {
  return createHash('sha256').update(`${target.bucket}\u0000${target.prefix}`).digest('hex').slice(0, 20);
}

/**
 * The census document's key.
 *
 * @example
 * censusKey({ keyring: 'pii', bucket: 'records', prefix: 'pii/' }); // 'census/pii/3f0c....json'
 */
export function censusKey(target: CensusTarget): string {
  return `${CENSUS_PREFIX}${target.keyring}/${censusTargetId(target)}.json`;
}

/**
 * The folder of a target's write marks (ends with '/').
 *
 * @example
 * censusWritesPrefix(target); // 'census/pii/3f0c.../writes/'
 */
export function censusWritesPrefix(target: CensusTarget): string {
  return `${CENSUS_PREFIX}${target.keyring}/${censusTargetId(target)}/writes/`;
}

/** Prefix of the sweep map runs' results (the Distributed Map's ResultWriter) in the state bucket. */
export const SWEEP_RESULTS_PREFIX = 'sweeps/';
