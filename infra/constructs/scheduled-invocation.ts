/**
 * An EventBridge Scheduler schedule that invokes one Lambda function or state machine with a fixed input, with a
 * retry policy and a dead-letter queue for invocations Scheduler could not deliver. Written on
 * the L1 resource so that its role holds exactly one invoke action on that one target
 * (the L2 Lambda target also grants every version and alias of it).
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
}

/** Renders seconds as a Scheduler rate expression in the largest exact unit. */
export function rateExpression(seconds: number): string {
  const minutes = seconds / 60;
  if (!Number.isInteger(minutes) || minutes < 1) throw new RangeError('a schedule rate must be a whole number of minutes');
  const [value, unit] = minutes % 1440 === 0 ? [minutes / 1440, 'day'] : minutes % 60 === 0 ? [minutes / 60, 'hour'] : [minutes, 'minute'];
  return `rate(${value} ${unit}${value === 1 ? '' : 's'})`;
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

  public constructor(scope: Construct, id: string, props: ScheduledInvocationProps) {
    super(scope, id);
    this.schedule = new scheduler.CfnSchedule(this, 'Schedule', {
      description: props.description,
      scheduleExpression: rateExpression(props.everySeconds),
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
