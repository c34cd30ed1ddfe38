/**
 * `rekey escrow archive | verify | restore` (local mode). All three run the escrow Lambda's use
 * case (archive, the restore drill, restore into the catalog); `restore --out` instead recovers
 * one key into a file for offline backup recovery.
 */
import type { Command } from 'commander';
import { ValidationError } from '../../shared/errors';
import { localJobContext } from '../../shared/compose/local/local-jobs';
import { runEscrow, type EscrowResponse } from '../../shared/usecases/escrow';
import { parsePositiveInt } from '../parse';
import { writeJson, writeSecretFile, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { drillReport, renderArchive, renderDrill, renderRestore } from '../render-escrow';

/** Fails the command when a keyring could not be worked on at all (the others were printed). */
function throwFailed(response: EscrowResponse): void {
  for (const r of response.results) {
    if (r.status === 'failed') throw new ValidationError(`escrow ${response.action} failed for keyring ${r.keyring}: ${r.error.message}`);
  }
}

/** Registers the `escrow` group on `program`. */
export function registerEscrowCommands(program: Command): void {
  const escrow = program.command('escrow').description('backup key escrow');
  escrow
    .command('archive [keyring]')
    .description('archive every version that has no escrow record yet')
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const response = await runEscrow({ action: 'archive', ...(name ? { keyring: name } : {}) }, localJobContext(rk));
        await writeStdout(renderArchive(response));
        throwFailed(response);
      });
    });
  escrow
    .command('verify [keyring]')
    .description('restore drill: restore every escrowed version from escrow alone and decrypt its canary')
    .option('--json', 'print the report as JSON')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const response = await runEscrow({ action: 'drill', ...(name ? { keyring: name } : {}) }, localJobContext(rk));
        const report = drillReport(response, rk.clock());
        if (o.json) await writeJson(report);
        else await writeStdout(renderDrill(report));
        throwFailed(response);
        if (!report.ok) throw new ValidationError('escrow drill failed for at least one version');
      });
    });
  escrow
    .command('restore <keyring>')
    .description('put a destroyed or lost version back into the catalog from escrow (as deprecated), or with --out recover its key into a file')
    .requiredOption('--version <n>', 'which version')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'restore from escrow')
    .option('--out <file>', 'instead: write the 32-byte key to this new file (mode 0600, never overwritten) for offline backup recovery; the catalog is not touched')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { version: string; reason: string; out?: string; json?: boolean }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      await withLocal(cmd, async (rk) => {
        if (o.out !== undefined) {
          const out = o.out;
          const key = await rk.escrow.restore(name, version);
          try {
            writeSecretFile(out, key);
          } finally {
            key.fill(0);
          }
          process.stderr.write(`restored ${name} v${version} from escrow into ${out}\n`);
          return;
        }
        const response = await runEscrow({ action: 'restore', keyring: name, version, reason: o.reason }, localJobContext(rk));
        if (o.json) await writeJson(response);
        else await writeStdout(renderRestore(response));
      });
    });
}
