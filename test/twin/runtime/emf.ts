/**
 * Parses CloudWatch Embedded Metric Format log lines into data points, as CloudWatch Logs does.
 *
 * Shape from "Specification: Embedded metric format" (Amazon CloudWatch User Guide,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * the root node holds `_aws: { Timestamp, CloudWatchMetrics: MetricDirective[] }`; a
 * MetricDirective is `{ Namespace, Dimensions: DimensionSet[], Metrics: MetricDefinition[] }`;
 * a DimensionSet is an array of keys whose values are root members (strings); a
 * MetricDefinition is `{ Name, Unit?, StorageResolution? }` whose value is the root member
 * `Name`, a number or an array of numbers. Each DimensionSet makes a metric of its own.
 */
import type { MetricDatum } from './metric-store';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The data points of one log line, or `[]` when the line is not an EMF document.
 *
 * @example
 * parseEmfLine('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Rekey","Dimensions":[["keyring"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"keyring":"k","X":2}');
 * // [{ namespace: 'Rekey', name: 'X', dimensions: { keyring: 'k' }, value: 2, unit: 'Count', timestamp: 1 }]
 */
export function parseEmfLine(line: string): MetricDatum[] {
  const text = line.trim();
  // The LogEvent message must be a JSON object with nothing before or after it.
  if (!text.startsWith('{') || !text.includes('"_aws"')) return [];
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isObject(root) || !isObject(root._aws)) return [];
  const { Timestamp, CloudWatchMetrics } = root._aws;
  if (typeof Timestamp !== 'number' || !Array.isArray(CloudWatchMetrics)) return [];
  const out: MetricDatum[] = [];
  for (const directive of CloudWatchMetrics) {
    if (!isObject(directive) || typeof directive.Namespace !== 'string' || !Array.isArray(directive.Metrics)) continue;
    const sets = Array.isArray(directive.Dimensions) && directive.Dimensions.length > 0 ? directive.Dimensions : [[]];
    for (const set of sets) {
      if (!Array.isArray(set)) continue;
      const dimensions: Record<string, string> = {};
      let complete = true;
      for (const key of set) {
        const value = typeof key === 'string' ? root[key] : undefined;
        if (typeof value !== 'string') complete = false;
        else dimensions[key as string] = value;
      }
      // A dimension whose target member is missing or not a string makes the document invalid.
      if (!complete) continue;
      for (const def of directive.Metrics) {
        if (!isObject(def) || typeof def.Name !== 'string') continue;
        const raw = root[def.Name];
        const values = Array.isArray(raw) ? raw : [raw];
        for (const value of values) {
          if (typeof value !== 'number' || !Number.isFinite(value)) continue;
          out.push({
            namespace: directive.Namespace,
            name: def.Name,
            dimensions,
            value,
            ...(typeof def.Unit === 'string' ? { unit: def.Unit } : {}),
            timestamp: Timestamp,
          });
        }
      }
    }
  }
  return out;
}
