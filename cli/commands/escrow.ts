/**
 * `rekey escrow archive | verify | restore` (local mode). archive and verify run the escrow
 * Lambda's use case (archive, and the restore drill); restore recovers one key to a file.
 */
import type { Command } from 'commander';
import { ValidationError } from '../../shared/errors';
import { localJobContext } from '../../shared/compose/local/local-jobs';
import { runEscrow, type EscrowResponse } from '../../shared/usecases/escrow';
import { parsePositiveInt } from '../parse';
import { writeJson, writeSecretFile, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { drillReport, renderArchive, renderDrill } from '../render-escrow';

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
    .description('recover a version key from escrow alone, into a new owner-only file (for backup recovery)')
    .requiredOption('--version <n>', 'which version')
    .requiredOption('--out <file>', 'new file to write the 32-byte key to (mode 0600, never overwritten)')
    .action(async (name: string, o: { version: string; out: string }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      await withLocal(cmd, async (rk) => {
        const key = await rk.escrow.restore(name, version);
        try {
          writeSecretFile(o.out, key);
        } finally {
          key.fill(0);
        }
        process.stderr.write(`restored ${name} v${version} from escrow into ${o.out}\n`);
      });
    });
}
