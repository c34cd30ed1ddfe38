/**
 * Staggered schedules, the sweep's retries under concurrency contention, and the event names
 * the stack's rules and archive share with the code that publishes the events.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { Duration } from 'aws-cdk-lib';
import { ScheduledInvocation, rateExpression, scheduleTiming, staggerOffsets } from '../../infra/constructs/scheduled-invocation';
import { BATCH_RETRY, THROTTLE_ERRORS, throttleRetry } from '../../infra/constructs/sweep-state-machine';
import type { RekeyStack } from '../../infra/rekey-stack';
import { EventBridgeAuditSink } from '../../shared/adapters/aws/eventbridge-audit-sink';
import { AUDIT_EVENT_SOURCE, COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE } from '../../shared/vocabulary/event-names';
import { REVOKE_DETAIL_TYPE, REVOKE_SOURCE } from '../../shared/vocabulary/event-schemas';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type Resources = Record<string, { Properties: Record<string, unknown> }>;
type ScheduleProps = { ScheduleExpression: string; ScheduleExpressionTimezone?: string; Target: { Arn: unknown } };

/** Minutes of a week (from a Sunday 00:00 UTC) at which a schedule of `timing` fires. */
function firingMinutes(everySeconds: number, offsetMinutes: number): Set<number> {
  const every = everySeconds / 60;
  const out = new Set<number>();
  for (let t = offsetMinutes; t < 7 * 1440; t += every) out.add(t);
  return out;
}

describe('schedules', () => {
  let stack: RekeyStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthStack(FULL_CONFIG));
  });

  describe('scheduleTiming', () => {
    it.each([
      [900, 7, 'cron(7/15 * * * ? *)'],
      [3600, 30, 'cron(30 * * * ? *)'],
      [6 * 3600, 150, 'cron(30 2/6 * * ? *)'],
      [86_400, 720, 'cron(0 12 * * ? *)'],
      [7 * 86_400, 1440 + 61, 'cron(1 1 ? * MON *)'],
      [60, 0, 'cron(0/1 * * * ? *)'],
    ])('fires every %i s at minute %i of the interval as %s (UTC)', (every, offset, expected) => {
      // Prepare / Act
      const timing = scheduleTiming(every, offset);
      // Assess
      expect(timing).toEqual({ expression: expected, timezone: 'UTC', offsetMinutes: offset });
    });

    it('keeps a rate without phase for an interval cron cannot express exactly', () => {
      // Prepare / Act
      const timings = [scheduleTiming(90 * 60, 10), scheduleTiming(2 * 86_400, 10)];
      // Assess
      expect(timings).toEqual([
        { expression: 'rate(90 minutes)', offsetMinutes: 0 },
        { expression: 'rate(2 days)', offsetMinutes: 0 },
      ]);
      expect(rateExpression(86_400)).toBe('rate(1 day)');
    });

    it('spreads N offsets evenly over the interval from a base', () => {
      // Prepare / Act / Assess
      expect(staggerOffsets(2, 86_400)).toEqual([0, 720]);
      expect(staggerOffsets(3, 900, 1)).toEqual([1, 6, 11]);
      expect(staggerOffsets(1, 3600, 65)).toEqual([5]);
    });
  });

  describe('in the stack', () => {
    it('schedules cache invalidation only when the stack has a cache (without one every run is refused and pages)', () => {
      // Prepare
      const { cache: _cache, ...noCache } = FULL_CONFIG;
      const bare = synthStack(noCache).template;
      const inputs = (t: Template): unknown[] =>
        Object.values(t.findResources('AWS::Scheduler::Schedule') as Resources).map((s) => (s.Properties.Target as { Arn: unknown }).Arn);
      const cacheFn = (t: Template): string => Object.keys(t.findResources('AWS::Lambda::Function')).find((id) => id.startsWith('Fncacheinvalidate')) ?? 'none';
      // Act
      const withCache = inputs(template).filter((arn) => JSON.stringify(arn).includes(cacheFn(template)));
      const without = inputs(bare).filter((arn) => JSON.stringify(arn).includes(cacheFn(bare)));
      // Assess
      expect(withCache).toHaveLength(FULL_CONFIG.keyrings.length);
      expect(without).toHaveLength(0);
    });

    it('never fires two schedules of the same target in the same minute', () => {
      // Prepare
      const invocations = stack.node.findAll().filter((c): c is ScheduledInvocation => c instanceof ScheduledInvocation);
      const byTarget = new Map<string, ScheduledInvocation[]>();
      for (const inv of invocations) {
        const arn = JSON.stringify((stack.resolve(inv.schedule.target) as { arn: unknown }).arn);
        byTarget.set(arn, [...(byTarget.get(arn) ?? []), inv]);
      }
      // Act
      const clashes: string[] = [];
      for (const group of byTarget.values()) {
        const seen = new Map<number, string>();
        for (const inv of group) {
          for (const minute of firingMinutes(intervalOf(inv), inv.timing.offsetMinutes)) {
            if (seen.has(minute)) clashes.push(`${inv.node.id} and ${seen.get(minute)} at minute ${minute}`);
            seen.set(minute, inv.node.id);
          }
        }
      }
      // Assess
      expect(invocations.length).toBe(FULL_CONFIG.keyrings.length * 5 + 1 + (FULL_CONFIG.recordTargets ?? []).length);
      expect(clashes).toEqual([]);
    });

    it('starts the sweeps of the two record targets twelve hours apart, on UTC cron expressions', () => {
      // Prepare
      const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule') as Resources).map((r) => r.Properties as unknown as ScheduleProps);
      // Act
      const sweeps = schedules.filter((s) => JSON.stringify(s.Target.Arn).includes('SweepStateMachine'));
      // Assess
      expect(sweeps.map((s) => s.ScheduleExpression).sort()).toEqual(['cron(0 0 * * ? *)', 'cron(0 12 * * ? *)']);
      for (const s of schedules) expect(s.ScheduleExpressionTimezone).toBe('UTC');
    });
  });
});

/** The interval of a schedule, from its construct's timing and the stack's configuration. */
function intervalOf(inv: ScheduledInvocation): number {
  const m = inv.timing.expression.match(/^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/);
  if (m === null) throw new Error(`not a cron: ${inv.timing.expression}`);
  const [, min, hour, , , dow] = m as unknown as string[];
  if ((min as string).includes('/')) return Number((min as string).split('/')[1]) * 60;
  if (hour === '*') return 3600;
  if ((hour as string).includes('/')) return Number((hour as string).split('/')[1]) * 3600;
  return dow === '?' ? 7 * 86_400 : 86_400;
}

describe('sweep retries', () => {
  it('backs a throttled batch off for as long as the sweep may run, and retries batches the worker asks to retry', () => {
    // Prepare
    const { stack, template } = synthStack(FULL_CONFIG);
    const definition = JSON.stringify(Object.values(template.findResources('AWS::StepFunctions::StateMachine') as Resources)[0]?.Properties['DefinitionString']);
    const expected = throttleRetry(Duration.seconds(stack.config.sweep.timeoutSeconds));
    // Act
    let waited = 0;
    for (let i = 0; i < expected.maxAttempts; i++) waited += Math.min(expected.intervalSeconds * expected.backoffRate ** i, expected.maxDelaySeconds);
    // Assess
    expect(waited).toBeGreaterThanOrEqual(stack.config.sweep.timeoutSeconds);
    expect(expected.errors).toEqual(THROTTLE_ERRORS);
    expect(definition).toContain(`\\"ErrorEquals\\":[\\"Lambda.TooManyRequestsException\\"],\\"IntervalSeconds\\":2,\\"MaxAttempts\\":${expected.maxAttempts},\\"BackoffRate\\":2,\\"MaxDelaySeconds\\":300,\\"JitterStrategy\\":\\"FULL\\"`);
    expect(definition).toContain(`\\"ErrorEquals\\":[\\"ThrottledError\\",\\"BackendError\\",\\"ConflictError\\"],\\"IntervalSeconds\\":${BATCH_RETRY.intervalSeconds},\\"MaxAttempts\\":${BATCH_RETRY.maxAttempts}`);
  });
});

describe('event names', () => {
  it('archives exactly what the audit sink publishes, and the compromise reports', () => {
    // Prepare
    const { template } = synthStack(FULL_CONFIG);
    // Act
    const archive = Object.values(template.findResources('AWS::Events::Archive') as Resources)[0]?.Properties['EventPattern'] as { source: string[] };
    // Assess
    expect(EventBridgeAuditSink.SOURCE).toBe(AUDIT_EVENT_SOURCE);
    expect(archive.source).toEqual(expect.arrayContaining([EventBridgeAuditSink.SOURCE, COMPROMISE_EVENT_SOURCE]));
  });

  it('routes compromise reports by the source and detail-type revoke validates and the CLI sends', () => {
    // Prepare
    const { template } = synthStack(FULL_CONFIG);
    // Act
    const rules = Object.values(template.findResources('AWS::Events::Rule') as Resources).map((r) => r.Properties['EventPattern'] as { source: string[]; 'detail-type'?: string[] });
    const compromise = rules.find((p) => p['detail-type']?.includes(COMPROMISE_EVENT_DETAIL_TYPE));
    // Assess
    expect([REVOKE_SOURCE, REVOKE_DETAIL_TYPE]).toEqual([COMPROMISE_EVENT_SOURCE, COMPROMISE_EVENT_DETAIL_TYPE]);
    expect(compromise?.source).toEqual([COMPROMISE_EVENT_SOURCE]);
  });
});
