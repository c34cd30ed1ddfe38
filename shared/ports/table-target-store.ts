/**
 * TableTargetStore: one DynamoDB record table of a keyring (the configuration's TableTarget) with
 * its store. A separate kind from the S3 {@link TargetStore}: a table is swept by parallel-scan
 * segments, not by a listing, so the sweep and the starters treat the two apart.
 */
import type { BatchRecordStore } from './record-store';
import type { RecordPage } from './record-store';

/** Where a keyring's table records live and how many parallel-scan segments sweep them. */
export interface TableTargetRef {
  readonly keyring: string;
  readonly table: string;
  /** Parallel-scan segments, 1..64. */
  readonly segments: number;
}

/** What a segment sweep needs of a table store (DynamoDbRecordStore has it). */
export interface SegmentScannable extends BatchRecordStore {
  scanSegment(
    keyring: string,
    options: { segment: number; totalSegments: number; cursor?: string; limit: number; belowVersion?: number; originAtMost?: number },
  ): Promise<RecordPage>;
}

/**
 * One table target and its store.
 *
 * @example
 * const t: TableTargetStore = { target: { keyring: 'pii', table: 'app-records', segments: 8 }, store };
 */
export interface TableTargetStore {
  readonly target: TableTargetRef;
  readonly store: SegmentScannable;
}
