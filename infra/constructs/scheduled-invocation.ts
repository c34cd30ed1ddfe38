/**
 * An EventBridge Scheduler schedule that invokes one Lambda function or state machine with a fixed input, with a
 * retry policy and a dead-letter queue for invocations Scheduler could not deliver. Written on
 * the L1 resource so that its role holds exactly one invoke action on that one target
 * (the L2 Lambda target also grants every version and alias of it).
 *
 * Schedules that hit the same target are staggered: each gets a minute offset inside its interval
 * and fires on a UTC cron expression at that offset (`cron(7/15 * * * ? *)` is every 15 minutes
 * at :07, :22, ...), so N sweeps do not start together against a worker whose reserved
 * concurrency is sized for one. A rate expression has no phase (it counts from creation, and
 * AWS::Scheduler::Schedule's StartDate is a fixed date that a template cannot keep in the future),
 * and a FLEXIBLE time window only spreads invocations at random; a cron minute is exact. Cron
 * expresses an exact cadence only for intervals that divide an hour or a day, or a week; any
 * other interval keeps `rate(...)` without a phase (EventBridge Scheduler User Guide, "Schedule
 * types on EventBridge Scheduler": cron fields Minutes Hours Day-of-month Month Day-of-week Year,
 * `/` increments, `?` in one of the day fields; AWS::Scheduler::Schedule
 * `ScheduleExpressionTimezone`).
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DELIVERY_RETRY } from '../defaults';

/** Props of {@link ScheduledInvocation}. */
export interface ScheduledInvocationProps {
  /** ARN of the function or state machine to invoke. */
  readonly targetArn: string;
  /** Seconds between runs (whole minutes). */
  readonly everySeconds: number;
  /** The event the function receives. */
  readonly input: Readonly<Record<string, unknown>>;
  /** Dead-letter queue of undeliverable invocations (SSE-SQS, TLS-only). */
  readonly deadLetterQueue: sqs.IQueue;
  /** What the schedule does, for the console. */
  readonly description: string;
  /** The role Scheduler assumes (one per target function, shared by its schedules). */
  readonly role: iam.IRole;
  /**
   * Minutes after the start of each interval (UTC) at which the schedule fires; see
   * {@link staggerOffsets}. Ignored (no phase) when the interval has no exact cron form.
   * @default 0
   */
  readonly offsetMinutes?: number;
}

/** When a schedule fires: a Scheduler expression and, for cron, its time zone. */
export interface ScheduleTiming {
  readonly expression: string;
  /** Set for cron expressions (always UTC); absent for rate expressions. */
  readonly timezone?: string;
  /** The offset actually applied, in minutes into the interval (0 for a rate). */
  readonly offsetMinutes: number;
}

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** Renders seconds as a Scheduler rate expression in the largest exact unit. */
export function rateExpression(seconds: number): string {
  const minutes = seconds / 60;
  if (!Number.isInteger(minutes) || minutes < 1) throw new RangeError('a schedule rate must be a whole number of minutes');
  const [value, unit] = minutes % 1440 === 0 ? [minutes / 1440, 'day'] : minutes % 60 === 0 ? [minutes / 60, 'hour'] : [minutes, 'minute'];
  return `rate(${value} ${unit}${value === 1 ? '' : 's'})`;
}

/**
 * The expression firing every `everySeconds` at `offsetMinutes` into each interval: an exact UTC
 * cron when the interval divides an hour, divides a day or is a week; otherwise a rate.
 *
 * @example
 * scheduleTiming(900, 7).expression;    // 'cron(7/15 * * * ? *)'
 * scheduleTiming(86400, 720).expression; // 'cron(0 12 * * ? *)'
 * @throws RangeError when the interval is not a whole number of minutes.
 */
export function scheduleTiming(everySeconds: number, offsetMinutes = 0): ScheduleTiming {
  const minutes = everySeconds / 60;
  if (!Number.isInteger(minutes) || minutes < 1) throw new RangeError('a schedule rate must be a whole number of minutes');
  const offset = ((Math.floor(offsetMinutes) % minutes) + minutes) % minutes;
  const m = offset % 60;
  const h = Math.floor(offset / 60) % 24;
  const cron = (expression: string): ScheduleTiming => ({ expression: `cron(${expression})`, timezone: 'UTC', offsetMinutes: offset });
  if (minutes < 60 && 60 % minutes === 0) return cron(`${offset}/${minutes} * * * ? *`);
  if (minutes === 60) return cron(`${m} * * * ? *`);
  const hours = minutes / 60;
  if (Number.isInteger(hours) && hours < 24 && 24 % hours === 0) return cron(`${m} ${h}/${hours} * * ? *`);
  if (hours === 24) return cron(`${m} ${h} * * ? *`);
  if (hours === 168) return cron(`${m} ${h} ? * ${DAY_NAMES[Math.floor(offset / 1440)] ?? 'SUN'} *`);
  return { expression: rateExpression(everySeconds), offsetMinutes: 0 };
}

/**
 * Offsets (minutes) that spread `count` schedules of one interval evenly over it, starting
 * `baseMinutes` in, so schedules hitting the same target never fire in the same minute when the
 * interval has room for them.
 *
 * @example
 * staggerOffsets(2, 86400); // [0, 720]
 */
export function staggerOffsets(count: number, everySeconds: number, baseMinutes = 0): number[] {
  const minutes = Math.max(1, Math.floor(everySeconds / 60));
  return Array.from({ length: count }, (_, i) => (baseMinutes + Math.floor((i * minutes) / Math.max(count, 1))) % minutes);
}

/**
 * A schedule invoking `target` every `everySeconds` with `input`.
 *
 * @example
 * new ScheduledInvocation(this, 'RotatePii', { targetArn: rotate.fn.functionArn, everySeconds: 3600, input: { keyring: 'pii' }, deadLetterQueue, description: 'rotation check', role });
 */
export class ScheduledInvocation extends Construct {
  /** The schedule resource. */
  public readonly schedule: scheduler.CfnSchedule;
  /** When it fires. */
  public readonly timing: ScheduleTiming;

  public constructor(scope: Construct, id: string, props: ScheduledInvocationProps) {
    super(scope, id);
    this.timing = scheduleTiming(props.everySeconds, props.offsetMinutes ?? 0);
    this.schedule = new scheduler.CfnSchedule(this, 'Schedule', {
      description: props.description,
      scheduleExpression: this.timing.expression,
      ...(this.timing.timezone === undefined ? {} : { scheduleExpressionTimezone: this.timing.timezone }),
      // Exact times: the stagger (not a random window) keeps schedules of one target apart.
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: props.targetArn,
        roleArn: props.role.roleArn,
        input: JSON.stringify(props.input),
        retryPolicy: { maximumRetryAttempts: DELIVERY_RETRY.attempts, maximumEventAgeInSeconds: DELIVERY_RETRY.maxEventAge.toSeconds() },
        deadLetterConfig: { arn: props.deadLetterQueue.queueArn },
      },
    });
  }
}

/**
 * The role Scheduler assumes to invoke one target: `action` on that target only, SendMessage to
 * the schedules' dead-letter queue, and a trust limited to this account's schedules.
 */
export function schedulerRole(scope: Construct, id: string, target: { action: string; arn: string }, deadLetterQueue: sqs.IQueue, account: string): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': account } } }),
    description: 'rekey: EventBridge Scheduler invoking one function',
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [target.action], resources: [target.arn] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [deadLetterQueue.queueArn] }));
  return role;
}
