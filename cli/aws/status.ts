/**
 * `rekey --aws status`: the keyring status use case over the deployed catalogs, the key-use log
 * (last use per version, as the key-use function recorded it from CloudTrail) and, when asked,
 * the record targets.
 */
import type { Command } from 'commander';
import { readKeyringStatus } from '../../shared/usecases/keyring-status';
import { writeJson, writeStdout } from '../io';
import { renderStatus } from '../render';
import { awsAction, type AwsCommandKit } from './aws-kit';

/** Registers `status` of AWS mode. */
export function registerAwsStatusCommand(program: Command, kit: AwsCommandKit): void {
  program
    .command('status [keyring]')
    .description('versions, states and last key use of the deployed keyrings, and why each version is or is not moving on (with --count-records, records per version in the record targets)')
    .option('--count-records', 'count records per version in every record target (from each S3 target\'s census when usable, else by listing it: slow on large buckets)')
    .option('--all', 'also list destroyed versions')
    .option('--json', 'print as JSON')
    .action(
      awsAction(async (name: string | undefined, o: { json?: boolean; countRecords?: boolean; all?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const svc = kit.services(ctx);
        try {
          // The cache lives in the stack's VPC: AWS mode reports no cache entries.
          const status = await readKeyringStatus({ ...(name === undefined ? {} : { keyring: name }), ...(o.all === true ? { all: true } : {}) }, {
            keyrings: svc.keyrings,
            // Read-only: status never starts a keyring's log (the operator may only read key-use/*).
            keyUse: svc.keyUse,
            clock: svc.clock,
            ...(o.countRecords ? { records: svc.recordCounts } : {}),
          });
          if (o.json) await writeJson({ stack: ctx.stackName, keyrings: status });
          else await writeStdout(renderStatus(status, svc.clock()));
        } finally {
          await svc.close();
        }
      }),
    );
}
