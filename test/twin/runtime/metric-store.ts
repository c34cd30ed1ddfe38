/**
 * The twin's metrics: every data point a function emitted as CloudWatch Embedded Metric Format
 * and every metric the Lambda service itself publishes (AWS/Lambda Invocations, Errors,
 * Throttles, Duration), held in memory for the alarm driver and for scenario assertions.
 */

/** One data point. */
export interface MetricDatum {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  readonly unit?: string;
  /** Milliseconds since the epoch, simulated (EMF `_aws.Timestamp`, or the invocation's time). */
  readonly timestamp: number;
}

/** What {@link MetricStore.query} selects. */
export interface MetricQuery {
  readonly namespace: string;
  readonly name: string;
  /** Dimensions the data point must carry with these values (it may carry more). */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** Inclusive start, milliseconds since the epoch. */
  readonly from: number;
  /** Exclusive end (CloudWatch's EndTime is exclusive too). */
  readonly to: number;
}

/**
 * An in-memory metric store.
 *
 * @example
 * const store = new MetricStore();
 * store.put({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: 'f' }, value: 1, unit: 'Count', timestamp: Date.now() });
 * store.query({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: 'f' }, from: 0, to: Date.now() + 1 });
 */
export class MetricStore {
  private readonly data: MetricDatum[] = [];

  /** Adds one data point. */
  public put(datum: MetricDatum): void {
    this.data.push({ ...datum, dimensions: { ...datum.dimensions } });
  }

  /** Data points of one metric whose dimensions include `filter.dimensions`, in `[from, to)`. */
  public query(filter: MetricQuery): MetricDatum[] {
    const wanted = Object.entries(filter.dimensions ?? {});
    return this.data.filter(
      (d) =>
        d.namespace === filter.namespace &&
        d.name === filter.name &&
        d.timestamp >= filter.from &&
        d.timestamp < filter.to &&
        wanted.every(([k, v]) => d.dimensions[k] === v),
    );
  }

  /** Every data point, in the order they were put. */
  public all(): readonly MetricDatum[] {
    return this.data;
  }
}
