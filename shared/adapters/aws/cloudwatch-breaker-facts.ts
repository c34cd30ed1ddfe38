/**
 * BreakerFactsSource on CloudWatch: sums `DecryptFailures` and `DecryptAttempts` (namespace
 * `Rekey`, dimensions keyring + version) over the window with one GetMetricData call per page.
 */
import { GetMetricDataCommand, type CloudWatchClient, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { BreakerFactsSource } from '../../ports/breaker-facts-source';
import type { DecryptFacts } from '../../catalog/circuit-breaker';
import { mapAwsError } from './map-aws-error';
import { METRIC, METRIC_NAMESPACE } from '../../vocabulary/metric-names';

// GetMetricData takes at most 500 queries; two per version.
const MAX_VERSIONS = 250;

/**
 * Reads the breaker's facts from CloudWatch metrics.
 *
 * @example
 * const facts = new CloudWatchBreakerFacts({ client: new CloudWatchClient({}) });
 * await facts.decryptFacts('payments', [3, 4], 900); // { failures: 2, attempts: 1200 }
 */
export class CloudWatchBreakerFacts implements BreakerFactsSource {
  private readonly client: CloudWatchClient;
  private readonly now: () => Date;

  public constructor(options: { client: CloudWatchClient; now?: () => Date }) {
    this.client = options.client;
    this.now = options.now ?? (() => new Date());
  }

  public async decryptFacts(keyring: string, versions: readonly number[], windowSeconds: number): Promise<DecryptFacts> {
    const chosen = [...new Set(versions)].sort((a, b) => b - a).slice(0, MAX_VERSIONS);
    if (chosen.length === 0) return { failures: 0, attempts: 0 };
    const period = Math.max(60, Math.ceil(windowSeconds / 60) * 60);
    const query = (id: string, metric: string, version: number): MetricDataQuery => ({
      Id: id,
      ReturnData: true,
      MetricStat: {
        Metric: {
          Namespace: METRIC_NAMESPACE,
          MetricName: metric,
          Dimensions: [
            { Name: 'keyring', Value: keyring },
            { Name: 'version', Value: String(version) },
          ],
        },
        Period: period,
        Stat: 'Sum',
      },
    });
    const queries = chosen.flatMap((v, i) => [query(`f${i}`, METRIC.decryptFailures, v), query(`a${i}`, METRIC.decryptAttempts, v)]);
    const end = this.now();
    const start = new Date(end.getTime() - period * 1000);
    let failures = 0;
    let attempts = 0;
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: start, EndTime: end, NextToken: token }),
        );
      } catch (err) {
        throw mapAwsError(err, 'cloudwatch:GetMetricData');
      }
      for (const result of out.MetricDataResults ?? []) {
        const sum = (result.Values ?? []).reduce((acc, v) => acc + (Number.isFinite(v) ? v : 0), 0);
        if (result.Id?.startsWith('f')) failures += sum;
        else if (result.Id?.startsWith('a')) attempts += sum;
      }
      token = out.NextToken;
    } while (token !== undefined);
    return { failures, attempts };
  }
}
