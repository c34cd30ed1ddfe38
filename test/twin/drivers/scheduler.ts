/**
 * EventBridge Scheduler on the simulated clock: fires every ENABLED schedule of the world at the
 * times its expression gives (FlexibleTimeWindow OFF), as the service does:
 * 1. Scheduler assumes the schedule's execution role: sts:AssumeRole on the role by service
 *    principal scheduler.amazonaws.com, with aws:SourceAccount and aws:SourceArn set to the
 *    schedule group's ARN ("Confused deputy prevention in EventBridge Scheduler",
 *    https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html;
 *    the User Guide's document history, Sept 2023: the role's condition applies to the schedule
 *    group resource).
 * 2. It calls the target API as that role: lambda:InvokeFunction (templated Lambda Invoke, the
 *    function receives the schedule's Input verbatim), states:StartExecution, or sqs:SendMessage.
 * 3. A failed invocation is retried up to RetryPolicy.MaximumRetryAttempts within
 *    MaximumEventAgeInSeconds, then delivered to DeadLetterConfig's queue, sent as the execution
 *    role ("Configuring a dead-letter queue for EventBridge Scheduler",
 *    https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html: the
 *    role needs sqs:SendMessage on the queue), with message attributes ERROR_CODE, ERROR_MESSAGE,
 *    EXECUTION_ID, SCHEDULE_ARN and TARGET_ARN.
 * Simplification: retries are immediate (Scheduler's backoff is not documented), so only the
 * attempt limit, never the event age, ends them.
 */
import { randomUUID } from 'node:crypto';
import type { RequestAuthorizer, TwinPrincipal } from '../authz/types';
import type { SimClock, TwinSchedule, TwinWorld } from '../world';
import { occurrencesBetween, parseScheduleExpression, type ScheduleExpression, type ScheduleWindow } from './schedule-expression';
import { arnService, DeniedError, errorOf, type DeliveryError, type DeliveryOutcome, type TargetInvoker } from './types';

/** StartDate, EndDate, timezone and group of a schedule (the world's TwinSchedule lacks them). */
export interface ScheduleSettings extends ScheduleWindow {
  /** Schedule group name; `default` when absent. */
  readonly groupName?: string;
}

/** Options of {@link TwinScheduler}. */
export interface TwinSchedulerOptions {
  readonly world: TwinWorld;
  readonly clock: SimClock;
  readonly authorizer: RequestAuthorizer;
  readonly invoker: TargetInvoker;
  /** When the schedules were created (rate schedules without StartDate start here); the clock's now by default. */
  readonly createdAt?: number;
  /** Per schedule name: StartDate, EndDate, ScheduleExpressionTimezone, group. */
  readonly settings?: Readonly<Record<string, ScheduleSettings>>;
}

/** Options of {@link TwinScheduler.advanceTo}. */
export interface AdvanceOptions {
  /**
   * NOT AWS BEHAVIOUR, a simulation speed-up a scenario must opt into: fire each schedule at most
   * once per call, at `ms`, however many occurrences fell in the window (skipped occurrences are
   * consumed). Use only for long simulations where per-occurrence fidelity does not matter.
   */
  readonly coalesce?: boolean;
}

/** One invocation Scheduler made (or failed to make). */
export interface FireRecord {
  readonly schedule: string;
  readonly scheduleArn: string;
  /** The simulated time of the occurrence. */
  readonly at: number;
  readonly target: string;
  readonly executionId: string;
  /** Attempts made (1 + retries). */
  readonly attempts: number;
  readonly outcome: DeliveryOutcome;
  /** The last attempt's error, if every attempt failed. */
  readonly error?: DeliveryError;
  /** The message attributes sent to the dead-letter queue. */
  readonly deadLetterAttributes?: Readonly<Record<string, string>>;
}

const SCHEDULER: TwinPrincipal = { kind: 'service', service: 'scheduler.amazonaws.com' };

/**
 * The twin's EventBridge Scheduler.
 *
 * @example
 * const scheduler = new TwinScheduler({ world, clock, authorizer, invoker });
 * const fired = await scheduler.advanceTo(clock.now() + 3_600_000);
 */
export class TwinScheduler {
  /** Every invocation so far, in time order. */
  public readonly fired: FireRecord[] = [];
  private readonly createdAt: number;
  private readonly lastFired = new Map<string, number>();
  private readonly parsed = new Map<string, ScheduleExpression>();

  public constructor(private readonly opts: TwinSchedulerOptions) {
    this.createdAt = opts.createdAt ?? opts.clock.now();
  }

  /** `arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>` */
  public scheduleArn(schedule: TwinSchedule): string {
    const w = this.opts.world;
    return `arn:${w.partition}:scheduler:${w.region}:${w.account}:schedule/${this.group(schedule)}/${schedule.name}`;
  }

  /** `arn:aws:scheduler:<region>:<account>:schedule-group/<group>` */
  public groupArn(schedule: TwinSchedule): string {
    const w = this.opts.world;
    return `arn:${w.partition}:scheduler:${w.region}:${w.account}:schedule-group/${this.group(schedule)}`;
  }

  /** Occurrences of one schedule with `from < t <= to` (ignores state and what already fired). */
  public occurrences(schedule: TwinSchedule, from: number, to: number): number[] {
    return occurrencesBetween(this.expression(schedule), this.opts.settings?.[schedule.name] ?? {}, this.createdAt, from, to);
  }

  /**
   * Fires, in time order, every occurrence of every ENABLED schedule up to `ms` (inclusive) not
   * fired yet, moving the clock to each occurrence first; leaves the clock at `ms`.
   */
  public async advanceTo(ms: number, options: AdvanceOptions = {}): Promise<FireRecord[]> {
    const { clock, world } = this.opts;
    if (ms < clock.now()) throw new RangeError('the simulated clock never goes backwards');
    const due: { at: number; schedule: TwinSchedule }[] = [];
    for (const schedule of world.schedules.values()) {
      if (schedule.state !== 'ENABLED') continue;
      const from = this.lastFired.get(schedule.name) ?? this.createdAt - 1;
      const times = this.occurrences(schedule, from, ms);
      if (times.length === 0) continue;
      if (options.coalesce) {
        due.push({ at: ms, schedule });
        this.lastFired.set(schedule.name, times[times.length - 1] ?? ms);
      } else {
        for (const at of times) due.push({ at, schedule });
      }
    }
    due.sort((a, b) => a.at - b.at || a.schedule.name.localeCompare(b.schedule.name));
    const records: FireRecord[] = [];
    for (const { at, schedule } of due) {
      if (at > clock.now()) clock.set(at);
      if (!options.coalesce) this.lastFired.set(schedule.name, at);
      const record = await this.fire(schedule, at);
      records.push(record);
      this.fired.push(record);
    }
    if (ms > clock.now()) clock.set(ms);
    return records;
  }

  private group(schedule: TwinSchedule): string {
    return this.opts.settings?.[schedule.name]?.groupName ?? 'default';
  }

  private expression(schedule: TwinSchedule): ScheduleExpression {
    let parsed = this.parsed.get(schedule.expression);
    if (parsed === undefined) {
      parsed = parseScheduleExpression(schedule.expression);
      this.parsed.set(schedule.expression, parsed);
    }
    return parsed;
  }

  private async fire(schedule: TwinSchedule, at: number): Promise<FireRecord> {
    const executionId = randomUUID();
    const scheduleArn = this.scheduleArn(schedule);
    const maxAttempts = 1 + Math.max(0, schedule.retry.maximumRetryAttempts);
    let attempts = 0;
    let error: DeliveryError | undefined;
    while (attempts < maxAttempts) {
      attempts++;
      try {
        await this.invokeOnce(schedule);
        return { schedule: schedule.name, scheduleArn, at, target: schedule.targetArn, executionId, attempts, outcome: 'delivered' };
      } catch (err) {
        error = errorOf(err);
      }
    }
    const failure = error ?? { code: 'InternalFailure', message: 'no attempt was made' };
    const base = { schedule: schedule.name, scheduleArn, at, target: schedule.targetArn, executionId, attempts, error: failure };
    if (schedule.deadLetterArn === undefined) return { ...base, outcome: 'dropped' };
    const attributes: Record<string, string> = {
      ERROR_CODE: failure.code,
      ERROR_MESSAGE: failure.message,
      EXECUTION_ID: executionId,
      SCHEDULE_ARN: scheduleArn,
      TARGET_ARN: schedule.targetArn,
    };
    const role: TwinPrincipal = { kind: 'role', arn: schedule.roleArn };
    const decision = await this.opts.authorizer.authorize({ principal: role, action: 'sqs:SendMessage', resource: schedule.deadLetterArn });
    if (!decision.allowed) return { ...base, outcome: 'dlq-failed', deadLetterAttributes: attributes };
    try {
      await this.opts.invoker.sendToQueue(schedule.deadLetterArn, schedule.input ?? '', attributes);
      return { ...base, outcome: 'dead-lettered', deadLetterAttributes: attributes };
    } catch {
      return { ...base, outcome: 'dlq-failed', deadLetterAttributes: attributes };
    }
  }

  /** One attempt: assume the role, authorize the target call as the role, make it. */
  private async invokeOnce(schedule: TwinSchedule): Promise<void> {
    const { authorizer, invoker, world } = this.opts;
    const assume = await authorizer.authorize({
      principal: SCHEDULER,
      action: 'sts:AssumeRole',
      resource: schedule.roleArn,
      context: { 'aws:SourceAccount': world.account, 'aws:SourceArn': this.groupArn(schedule) },
    });
    if (!assume.allowed) throw new DeniedError('AccessDenied', `scheduler.amazonaws.com is not authorized to perform sts:AssumeRole on ${schedule.roleArn}: ${assume.reason}`);
    const role: TwinPrincipal = { kind: 'role', arn: schedule.roleArn };
    const target = schedule.targetArn;
    const service = arnService(target);
    const action = service === 'lambda' ? 'lambda:InvokeFunction' : service === 'states' ? 'states:StartExecution' : service === 'sqs' ? 'sqs:SendMessage' : undefined;
    if (action === undefined) throw new DeniedError('ValidationException', `the twin's scheduler has no target type for ${target}`);
    const decision = await authorizer.authorize({ principal: role, action, resource: target });
    if (!decision.allowed) throw new DeniedError(service === 'sqs' ? 'AccessDenied' : 'AccessDeniedException', `${schedule.roleArn} is not authorized to perform ${action} on ${target}: ${decision.reason}`);
    const input = schedule.input ?? '';
    if (service === 'lambda') await invoker.invokeLambdaAsync(target, parseInput(input));
    else if (service === 'states') await invoker.startExecution(target, input);
    else await invoker.sendToQueue(target, input);
  }
}

/** The Lambda payload of a templated target: Input parsed as JSON when it is JSON, else the string. */
function parseInput(input: string): unknown {
  if (input === '') return {};
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}
