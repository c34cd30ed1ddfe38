/**
 * `rekey --aws outputs`: the deployed stack's CloudFormation outputs as one JSON object (output
 * key → value), the shape `Rekey.fromOutputs` (rekey-kms/construct) and
 * `createRekeyClient({ outputs })` take. Application teams save it next to their CDK app instead
 * of copying values by hand.
 */
import type { Command } from 'commander';
import { writeJson } from '../io';
import { awsAction, type AwsCommandKit } from './aws-kit';

/** Registers `outputs` of AWS mode. */
export function registerAwsOutputsCommand(program: Command, kit: AwsCommandKit): void {
  program
    .command('outputs')
    .description("the stack's outputs as one JSON object (output key -> value): what Rekey.fromOutputs and createRekeyClient({ outputs }) take")
    .option('--json', 'print as JSON (the only format; accepted for symmetry)')
    .action(
      awsAction(async (_o: { json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        // Sorted keys: a saved file diffs cleanly between deploys.
        await writeJson(Object.fromEntries(Object.entries(ctx.outputs).sort(([a], [b]) => a.localeCompare(b))));
      }),
    );
}
