/**
 * The schedules of the rekey stack (EventBridge Scheduler): per keyring the rotation check, the
 * lifecycle reconciler, escrow archive and drill, and (with a cache) cache invalidation; the
 * grant reconciler's backstop; one sweep per record target. Each target is invoked by a role of
 * its own, and every schedule's undeliverable events go to one dead-letter queue. Built in the
 * stack's scope (see storage.ts for why).
 */
import { Aws } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { RekeyFunction } from '../constructs/rekey-function';
import { ScheduledInvocation, schedulerRole, staggerOffsets } from '../constructs/scheduled-invocation';
import type { SweepStateMachine } from '../constructs/sweep-state-machine';
import { deadLetterQueueProps, type FunctionName } from '../defaults';
import type { ResolvedRekeyConfig } from '../props';
import { tableSweepInput } from '../../shared/vocabulary/event-schemas';

/** What the schedules invoke. */
export interface RekeySchedulesProps {
  readonly config: ResolvedRekeyConfig;
  readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
  readonly sweep: SweepStateMachine;
}

/**
 * Minute offsets of each kind of schedule, one per keyring (per record target for sweeps):
 * the schedules of one kind spread over their interval, each kind a minute or more after the
 * previous one, and the drills midway between two archive runs (both run the escrow function).
 */
export function scheduleOffsets(config: ResolvedRekeyConfig): Record<'rotate' | 'grace' | 'archive' | 'drill' | 'cache' | 'sweep', number[]> {
  const s = config.schedules;
  const nk = config.keyrings.length;
  return {
    rotate: staggerOffsets(nk, s.rotationCheck, 0),
    grace: staggerOffsets(nk, s.gracePeriod, 1),
    archive: staggerOffsets(nk, s.escrowArchive, 2),
    drill: staggerOffsets(nk, s.escrowDrill, 2 + Math.floor(s.escrowArchive / 60 / (2 * Math.max(nk, 1)))),
    cache: staggerOffsets(nk, s.cacheInvalidate, 3),
    // S3 and table targets share one stagger: table sweeps follow the S3 ones on the same interval.
    sweep: staggerOffsets(config.recordTargets.length + config.tableTargets.length, config.sweep.everySeconds, 0),
  };
}

/**
 * Every schedule of the stack.
 *
 * @example
 * const schedules = new RekeySchedules(stack, { config, functions, sweep });
 * schedules.deadLetterQueue; // alarmed by Monitoring
 */
export class RekeySchedules {
  /** Where every schedule's undeliverable events go. */
  public readonly deadLetterQueue: sqs.Queue;

  public constructor(scope: Construct, props: RekeySchedulesProps) {
    const { config, functions: fns, sweep } = props;
    const dlq = new sqs.Queue(scope, 'SchedulerDlq', deadLetterQueueProps());
    this.deadLetterQueue = dlq;
    const invokeRole = (name: FunctionName): iam.Role =>
      schedulerRole(scope, `SchedulerRole-${name}`, { action: 'lambda:InvokeFunction', arn: fns[name].fn.functionArn }, dlq, Aws.ACCOUNT_ID);
    const rotateRole = invokeRole('rotate');
    const graceRole = invokeRole('grace-period');
    const escrowRole = invokeRole('escrow');
    const cacheRole = invokeRole('cache-invalidate');
    const accessRole = invokeRole('key-access');
    const sweepRole = schedulerRole(scope, 'SchedulerRole-sweep', { action: 'states:StartExecution', arn: sweep.stateMachine.stateMachineArn }, dlq, Aws.ACCOUNT_ID);
    const schedule = (sid: string, targetArn: string, role: iam.IRole, everySeconds: number, input: Record<string, unknown>, description: string, offsetMinutes = 0): void => {
      new ScheduledInvocation(scope, sid, { targetArn, role, everySeconds, input, deadLetterQueue: dlq, description, offsetMinutes });
    };

    const s = config.schedules;
    const offsets = scheduleOffsets(config);
    config.keyrings.forEach((k, ki) => {
      schedule(`Rotate-${k.name}`, fns.rotate.fn.functionArn, rotateRole, s.rotationCheck, { keyring: k.name }, `rekey: rotation check of ${k.name}`, offsets.rotate[ki]);
      schedule(`GracePeriod-${k.name}`, fns['grace-period'].fn.functionArn, graceRole, s.gracePeriod, { keyring: k.name }, `rekey: lifecycle reconciler of ${k.name}`, offsets.grace[ki]);
      schedule(`EscrowArchive-${k.name}`, fns.escrow.fn.functionArn, escrowRole, s.escrowArchive, { keyring: k.name, action: 'archive' }, `rekey: escrow archive of ${k.name}`, offsets.archive[ki]);
      schedule(`EscrowDrill-${k.name}`, fns.escrow.fn.functionArn, escrowRole, s.escrowDrill, { keyring: k.name, action: 'drill' }, `rekey: escrow restore drill of ${k.name}`, offsets.drill[ki]);
      // Without a cache the function refuses every run (VALIDATION): HandlerFailures would page hourly.
      if (config.cache !== undefined) {
        schedule(`CacheInvalidate-${k.name}`, fns['cache-invalidate'].fn.functionArn, cacheRole, s.cacheInvalidate, { keyring: k.name }, `rekey: cache invalidation of ${k.name}`, offsets.cache[ki]);
      }
    });
    schedule('KeyAccessSync', fns['key-access'].fn.functionArn, accessRole, s.keyAccessSync, {}, 'rekey: KMS grant reconciler (backstop)');
    config.recordTargets.forEach((t, i) => {
      schedule(`Sweep-${i}`, sweep.stateMachine.stateMachineArn, sweepRole, config.sweep.everySeconds, { keyring: t.keyring, bucket: t.bucket, prefix: t.prefix, mode: 'rewrap' }, `rekey: sweep s3://${t.bucket}/${t.prefix}`, offsets.sweep[i]);
    });
    config.tableTargets.forEach((t, i) => {
      schedule(`SweepTable-${i}`, sweep.stateMachine.stateMachineArn, sweepRole, config.sweep.everySeconds, { ...tableSweepInput(t, 'rewrap') }, `rekey: sweep dynamodb table ${t.table} (${t.keyring})`, offsets.sweep[config.recordTargets.length + i]);
    });
  }
}
