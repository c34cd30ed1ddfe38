/**
 * What the census step reads of a sweep's map run and of a record bucket
 * (shared/usecases/record-census.ts; on AWS shared/adapters/aws/s3-sweep-results.ts).
 */

/** Reads the sweep's results and asks S3 about a bucket's notifications. */
export interface SweepResultsReader {
  /** The object's text; undefined when absent; ValidationError beyond `maxBytes`. */
  readText(bucket: string, key: string, maxBytes: number): Promise<string | undefined>;
  /**
   * Streams the object's lines (JSON Lines) to `onLine` without holding the object; false when
   * absent. A line longer than `maxLineBytes` is a ValidationError.
   */
  readLines(bucket: string, key: string, maxLineBytes: number, onLine: (line: string) => void): Promise<boolean>;
  /** Whether the bucket sends its events to EventBridge. */
  eventBridgeEnabled(bucket: string): Promise<boolean>;
}

