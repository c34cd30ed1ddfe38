/**
 * The record census of an S3 record target: what the last complete sweep run saw (counts by
 * version and by origin), plus a mark per record write S3 reported since. Counting from it costs
 * one GET and a listing of the writes since the census, instead of listing and HEADing every
 * object of the target (shared/reencrypt/census.ts combines the two, conservatively).
 */
import type { CensusTarget } from '../vocabulary/record-census';

/** Records per version and per origin version, and records whose version the sweep could not learn. */
export interface CensusCounts {
  readonly byVersion: ReadonlyMap<number, number>;
  readonly byOrigin: ReadonlyMap<number, number>;
  /** Records the run met but could not place (a failed read): any above zero makes the census unusable. */
  readonly unknown: number;
}

/** One census of one target. */
export interface TargetCensus {
  readonly target: CensusTarget;
  /** When the sweep run started: every write after it is in the write marks. */
  readonly startedAt: Date;
  readonly closedAt: Date;
  /**
   * Whether the target bucket had EventBridge notifications on when the census closed: without
   * them no write mark is ever made, and the census cannot be combined with anything.
   */
  readonly writeEvents: boolean;
  /**
   * Since when censuses have found EventBridge notifications on without a break (the first
   * close that found them on). S3 takes about five minutes to start delivering after they are
   * turned on ("Enabling Amazon EventBridge", Amazon S3 User Guide), so a census is only used
   * when its run started well after this instant: writes before it may have gone unreported.
   */
  readonly writeEventsSince?: Date;
  readonly counts: CensusCounts;
  /** The execution (Step Functions) whose map run produced it. */
  readonly source?: string;
}

/** One record write S3 reported, with the version and origin its object carries. */
export interface CensusWrite {
  readonly at: Date;
  readonly version: number;
  readonly origin: number;
  /** The notification's id (EventBridge `id`): a redelivery makes the same mark. */
  readonly eventId: string;
}

/** Where censuses and write marks are kept. */
export interface RecordCensusStore {
  /** The target's census, undefined when none was ever closed. */
  read(target: CensusTarget): Promise<TargetCensus | undefined>;
  /**
   * Replaces the target's census unless the stored one started later (a slow run never
   * overwrites a newer one). Conditional: of two closers racing, one wins and the other
   * re-reads and decides again.
   */
  close(census: TargetCensus): Promise<'written' | 'superseded'>;
  /** Marks one record write (idempotent per event id). */
  recordWrite(target: CensusTarget, write: CensusWrite): Promise<void>;
  /**
   * The writes marked at or after `since`, oldest first; `cannot-say` beyond `limit` marks or
   * when a mark is not one this store made (the caller then counts some other way rather than
   * read without bound or guess).
   */
  writesSince(target: CensusTarget, since: Date, limit: number): Promise<readonly Omit<CensusWrite, 'eventId'>[] | 'cannot-say'>;
}
