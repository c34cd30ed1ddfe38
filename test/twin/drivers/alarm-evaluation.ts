/**
 * CloudWatch's alarm evaluation rule, as "Using Amazon CloudWatch alarms" documents it
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
 * "Evaluating an alarm" and "How alarm state is evaluated when data is missing"):
 * - Period, EvaluationPeriods (N), DatapointsToAlarm (M, default N): ALARM when at least M of the
 *   N evaluated datapoints breach; they need not be consecutive.
 * - CloudWatch retrieves more datapoints than N (the evaluation range; the doc's example retrieves
 *   5 for N = 3, which the twin generalises to N + 2). If at least N exist, the most recent N
 *   existing ones are evaluated and TreatMissingData is not used. Otherwise every existing one is
 *   evaluated and missing ones fill the rest "as few times as possible" (the most recent missing
 *   slots), treated per TreatMissingData: breaching, notBreaching; `missing` and `ignore` leave
 *   them unknown: fewer than M breaching with a non-breaching point is OK; with only breaching
 *   points, `missing` goes to ALARM when the oldest evaluated point is a real breaching one, else
 *   INSUFFICIENT_DATA; `ignore` keeps the current state; no data at all is INSUFFICIENT_DATA
 *   (`missing`), the current state (`ignore`), ALARM (`breaching`) or OK (`notBreaching`).
 * The two tables of that section are this module's test table.
 */

/** An alarm state. */
export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** AWS::CloudWatch::Alarm TreatMissingData. */
export type TreatMissingData = 'missing' | 'notBreaching' | 'breaching' | 'ignore';

/** The comparison operators of static-threshold alarms. */
export type ComparisonOperator = 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';

/** What the evaluation rule needs of an alarm. */
export interface EvaluationRule {
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparison: ComparisonOperator;
  readonly treatMissingData: TreatMissingData;
}

/** The number of period slots CloudWatch retrieves for N evaluation periods (see module doc). */
export function evaluationRange(evaluationPeriods: number): number {
  return evaluationPeriods + 2;
}

/** Whether `value` breaches the threshold. */
export function breaches(value: number, threshold: number, op: ComparisonOperator): boolean {
  switch (op) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

/** The outcome of one evaluation. */
export interface Evaluation {
  readonly state: AlarmState;
  /** The evaluated real datapoints (oldest first). */
  readonly evaluated: readonly number[];
  /** How many missing slots were filled in. */
  readonly filled: number;
}

/**
 * Evaluates one evaluation range: `range` holds one value per period slot, oldest first
 * (`undefined` = no datapoint), normally {@link evaluationRange}(N) long.
 */
export function evaluateRange(range: readonly (number | undefined)[], rule: EvaluationRule, current: AlarmState): Evaluation {
  const n = rule.evaluationPeriods;
  const m = rule.datapointsToAlarm;
  const existing = range.flatMap((v, i) => (v === undefined ? [] : [{ i, v }]));
  const isBreach = (v: number): boolean => breaches(v, rule.threshold, rule.comparison);
  if (existing.length >= n) {
    const window = existing.slice(-n);
    const b = window.filter((p) => isBreach(p.v)).length;
    return { state: b >= m ? 'ALARM' : 'OK', evaluated: window.map((p) => p.v), filled: 0 };
  }
  const fill = n - existing.length;
  const values = existing.map((p) => p.v);
  if (existing.length === 0) {
    const state: AlarmState = rule.treatMissingData === 'breaching' ? 'ALARM' : rule.treatMissingData === 'notBreaching' ? 'OK' : rule.treatMissingData === 'ignore' ? current : 'INSUFFICIENT_DATA';
    return { state, evaluated: [], filled: fill };
  }
  const b = values.filter(isBreach).length;
  if (rule.treatMissingData === 'breaching' || rule.treatMissingData === 'notBreaching') {
    const total = b + (rule.treatMissingData === 'breaching' ? fill : 0);
    return { state: total >= m ? 'ALARM' : 'OK', evaluated: values, filled: fill };
  }
  if (b >= m) return { state: 'ALARM', evaluated: values, filled: fill };
  if (b < values.length) return { state: 'OK', evaluated: values, filled: fill };
  if (rule.treatMissingData === 'ignore') return { state: current, evaluated: values, filled: fill };
  // `missing`, only breaching points: the filled slots are the most recent missing ones; ALARM
  // when the oldest evaluated slot is a real (breaching) datapoint.
  const missingSlots = range.flatMap((v, i) => (v === undefined ? [i] : [])).slice(-fill);
  const oldestReal = existing[0]?.i ?? Number.POSITIVE_INFINITY;
  const oldestFilled = missingSlots[0] ?? Number.POSITIVE_INFINITY;
  return { state: oldestReal < oldestFilled ? 'ALARM' : 'INSUFFICIENT_DATA', evaluated: values, filled: fill };
}

/**
 * Whether an alarm whose metric produces one (breaching) datapoint every `cadenceSeconds` can
 * ever reach ALARM: simulates arrivals at several phases against the period grid and evaluates
 * every period boundary over a full cycle, starting from OK.
 */
export function canReachAlarm(rule: EvaluationRule, periodSeconds: number, cadenceSeconds: number): boolean {
  const range = evaluationRange(rule.evaluationPeriods);
  const p = periodSeconds;
  const cycle = Math.max(cadenceSeconds, p) * (range + 2);
  for (const phase of [0, Math.floor(p / 2), p - 1]) {
    let state: AlarmState = 'OK';
    for (let end = range * p; end <= range * p + cycle; end += p) {
      const slots: (number | undefined)[] = [];
      for (let s = range; s >= 1; s--) {
        const lo = end - s * p;
        const hi = lo + p;
        // Is there an arrival phase + k * cadence in [lo, hi)?
        const k = Math.ceil((lo - phase) / cadenceSeconds);
        slots.push(phase + k * cadenceSeconds < hi ? breachingValue(rule) : undefined);
      }
      state = evaluateRange(slots, rule, state).state;
      if (state === 'ALARM') return true;
    }
  }
  return false;
}

function breachingValue(rule: EvaluationRule): number {
  return rule.comparison.startsWith('Greater') ? rule.threshold + 1 : rule.threshold - 1;
}
