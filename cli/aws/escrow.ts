/**
 * `rekey --aws escrow verify | restore`: the restore drill and the restore into the catalog, both
 * run by the deployed escrow function (invoked, so the operator needs no escrow-key or
 * keyring-key permission of its own: only lambda:InvokeFunction on the escrow function). The
 * output is local mode's (cli/render-escrow.ts): the same lines, the same `--json` report.
 */
import type { Command } from 'commander';
import { BackendError, ConflictError, PartialFailureError } from '../../shared/errors';
import type { EscrowResponse } from '../../shared/usecases/escrow';
import { confirmIrreversible } from '../confirm';
import { parsePositiveInt } from '../parse';
import { writeJson, writeStdout } from '../io';
import { drillReport, renderDrill, renderRestore } from '../render-escrow';
import { awsAction, callerPrincipalArn, invokeFunction, type AwsCommandKit } from './aws-kit';

/** The escrow function's answer, checked for the shape the renderers read. */
function escrowResponse(res: unknown, action: EscrowResponse['action']): EscrowResponse {
  const r = res as Partial<EscrowResponse> | null;
  if (r === null || typeof r.ok !== 'boolean' || !Array.isArray(r.results)) throw new BackendError(`the escrow function returned no ${action} report; see its logs`);
  return { ok: r.ok, action, results: r.results };
}

/**
 * A keyring the function could not work on, as one line (its code only: the message stays in the
 * function's logs): exit 7 when it did other keyrings, else a backend failure.
 */
function throwFailed(response: EscrowResponse): void {
  const failed = response.results.find((r) => r.status === 'failed');
  if (failed === undefined || failed.status !== 'failed') return;
  const line = `the escrow function could not ${response.action} ${failed.keyring} (${failed.error.code}); see its logs`;
  if (response.results.some((r) => r.status === 'done')) throw new PartialFailureError(`${line}; the other keyring(s) were done (listed above)`);
  throw new BackendError(line);
}

/** Registers the `escrow` group of AWS mode. */
export function registerAwsEscrowCommands(program: Command, kit: AwsCommandKit): void {
  const escrow = program.command('escrow').description('backup key escrow of the deployed stack');
  escrow
    .command('verify [keyring]')
    .description('run the restore drill in the deployed escrow function and print its report')
    .option('--json', 'print the report as JSON')
    .action(
      awsAction(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const response = escrowResponse(await invokeFunction(ctx, 'escrow', { action: 'drill', ...(name ? { keyring: name } : {}) }), 'drill');
        const report = drillReport(response, new Date());
        if (o.json) await writeJson(report);
        else await writeStdout(renderDrill(report));
        throwFailed(response);
        // The drill ran; some version failed it (listed above): a partial failure, not bad input.
        if (!report.ok || !response.ok) throw new PartialFailureError('escrow drill failed for at least one version');
      }),
    );
  escrow
    .command('restore <keyring>')
    .description('put a destroyed or lost version back into the catalog from escrow (as deprecated), in the deployed escrow function (asks on a terminal; --yes for scripts)')
    .requiredOption('--version <n>', 'which version')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'restore from escrow')
    .option('--yes', 'do not ask for confirmation (scripts)')
    .option('--json', 'print the result as JSON')
    .action(
      awsAction(async (name: string, o: { version: string; reason: string; yes?: boolean; json?: boolean }, cmd: Command) => {
        const version = parsePositiveInt(o.version, '--version');
        const ctx = await kit.open(cmd);
        // Irreversible: a destroyed key comes back and its data decrypts again.
        await confirmIrreversible({ action: `restore ${name} v${version} from escrow in stack ${ctx.stackName} (${ctx.config.region ?? 'its region'})`, answer: name, ...(o.yes === undefined ? {} : { yes: o.yes }) });
        // The function validates the event (shared/vocabulary/event-schemas.ts); a refused restore
        // (revoked, still holding its key, no record) comes back as its error and ends as one line.
        // Restoring a destroyed key is audited under the caller's IAM principal, not a local user name.
        const actor = await callerPrincipalArn(ctx);
        const response = escrowResponse(await invokeFunction(ctx, 'escrow', { action: 'restore', keyring: name, version, reason: o.reason, actor }), 'restore');
        if (o.json) await writeJson(response);
        else await writeStdout(renderRestore(response));
        throwFailed(response);
        // The function answered but did not restore: the version's state stands in the way.
        if (!response.ok) throw new ConflictError(`escrow restore of ${name} v${version} was not done by the escrow function; see 'rekey --aws status ${name}' and its logs`);
      }),
    );
}
