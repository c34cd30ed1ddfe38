/**
 * Starts the bulk re-encryption state machine (Step Functions Distributed Map over an S3
 * listing) for one record target of a revoked version. The execution name is derived from
 * (keyring, version, bucket, prefix), so a duplicated revocation event cannot start a second
 * sweep: ExecutionAlreadyExists means the sweep is already running or done, i.e. success.
 */
import { createHash } from 'node:crypto';
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { mapAwsError } from './map-aws-error';
import { tableSweepInput } from '../../vocabulary/event-schemas';

/** Input of the sweep state machine (its Distributed Map's ItemBatcher.BatchInput). */
export interface SweepExecutionInput {
  readonly keyring: string;
  /** The version being swept away. */
  readonly version: number;
  readonly bucket: string;
  readonly prefix: string;
  readonly mode: 'rewrap' | 'reencrypt';
}

/** Outcome of {@link SfnSweepStarter.start}. */
export interface SweepStartResult {
  readonly executionName: string;
  /** False when an execution of that name already existed (a duplicate event). */
  readonly started: boolean;
  readonly executionArn?: string;
}

/**
 * The deterministic execution name of a sweep: readable prefix plus a hash of the identity,
 * within Step Functions' 80 characters of `[A-Za-z0-9_-]`.
 *
 * @example
 * sweepExecutionName({ keyring: 'payments', version: 3, bucket: 'b', prefix: 'p/', mode: 'reencrypt' }); // 'sweep-payments-v3-reencrypt-1a2b3c4d5e6f'
 */
export function sweepExecutionName(input: SweepExecutionInput): string {
  const identity = JSON.stringify([input.keyring, input.version, input.bucket, input.prefix, input.mode]);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 12);
  const readable = input.keyring.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `sweep-${readable}-v${input.version}-${input.mode}-${hash}`.slice(0, 80);
}

/**
 * Starts sweep executions idempotently.
 *
 * @example
 * const starter = new SfnSweepStarter({ client: new SFNClient({}), stateMachineArn });
 * await starter.start({ keyring: 'payments', version: 3, bucket: 'data', prefix: 'records/', mode: 'reencrypt' });
 */
export class SfnSweepStarter {
  public constructor(private readonly options: { client: SFNClient; stateMachineArn: string }) {}

  public async start(input: SweepExecutionInput): Promise<SweepStartResult> {
    return this.startNamed(sweepExecutionName(input), input);
  }

  /**
   * Starts the reencrypt-mode sweep of one DynamoDB table target for a revoked version (the
   * state machine's table branch, one child per segment), idempotently like {@link start}.
   *
   * @example
   * await starter.startTable({ keyring: 'payments', table: 'app-records', segments: 8 }, 3);
   */
  public async startTable(target: { readonly keyring: string; readonly table: string; readonly segments: number }, version: number): Promise<SweepStartResult> {
    const input = tableSweepInput(target, 'reencrypt', version);
    // The table stands where the bucket does in the identity; `dynamodb:` keeps it apart from any bucket name.
    const executionName = sweepExecutionName({ keyring: target.keyring, version, bucket: `dynamodb:${target.table}`, prefix: '', mode: 'reencrypt' });
    return this.startNamed(executionName, input);
  }

  private async startNamed(executionName: string, input: object): Promise<SweepStartResult> {
    try {
      const out = await this.options.client.send(
        new StartExecutionCommand({ stateMachineArn: this.options.stateMachineArn, name: executionName, input: JSON.stringify(input) }),
      );
      return { executionName, started: true, ...(out.executionArn === undefined ? {} : { executionArn: out.executionArn }) };
    } catch (err) {
      if ((err as { name?: unknown } | null)?.name === 'ExecutionAlreadyExists') return { executionName, started: false };
      throw mapAwsError(err, 'states:StartExecution');
    }
  }
}
