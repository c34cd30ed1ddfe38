/**
 * Puts the twin's data points into moto's CloudWatch with PutMetricData, so functions that read
 * metrics back (the grace-period circuit breaker's GetMetricData) see what was emitted. Sent as
 * the admin (moto's testing credentials), straight to the private moto: this is CloudWatch Logs'
 * EMF extraction and Lambda's own metric publishing, not a caller the proxy should judge.
 */
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum as CwDatum, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { MetricDatum } from './metric-store';

// PutMetricData accepts up to 1,000 metrics per request (CloudWatch API Reference, PutMetricData).
const BATCH = 1000;

/** Forwards data points to one CloudWatch endpoint. */
export class CloudWatchForwarder {
  private readonly client: CloudWatchClient;

  public constructor(motoUrl: string, region: string) {
    this.client = new CloudWatchClient({ endpoint: motoUrl, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  }

  /**
   * Sends `data`, one request per namespace and batch.
   *
   * @example
   * await new CloudWatchForwarder(moto.url, 'us-east-1').put(points);
   */
  public async put(data: readonly MetricDatum[]): Promise<void> {
    const byNamespace = new Map<string, MetricDatum[]>();
    for (const d of data) byNamespace.set(d.namespace, [...(byNamespace.get(d.namespace) ?? []), d]);
    for (const [namespace, points] of byNamespace) {
      for (let i = 0; i < points.length; i += BATCH) {
        const MetricData: CwDatum[] = points.slice(i, i + BATCH).map((d) => ({
          MetricName: d.name,
          Dimensions: Object.entries(d.dimensions).map(([Name, Value]) => ({ Name, Value })),
          Value: d.value,
          Timestamp: new Date(d.timestamp),
          ...(d.unit === undefined ? {} : { Unit: d.unit as StandardUnit }),
        }));
        await this.client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData }));
      }
    }
  }

  /** Releases the client's sockets. */
  public close(): void {
    this.client.destroy();
  }
}
