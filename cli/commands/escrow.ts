/**
 * `rekey escrow archive | verify | restore` (local mode). All three run the escrow Lambda's use
 * case (archive, the restore drill, restore into the catalog); `restore --out` instead recovers
 * one key into a file for offline backup recovery.
 */
import type { Command } from 'commander';
import { BackendError, PartialFailureError } from '../../shared/errors';
import { restorePlan } from '../../shared/catalog/restore';
import { confirmIrreversible } from '../confirm';
import { localJobContext } from '../../shared/compose/local/local-jobs';
import { runEscrow, type EscrowResponse } from '../../shared/usecases/escrow';
import { parsePositiveInt } from '../parse';
import { writeJson, writeSecretFile, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { drillReport, renderArchive, renderDrill, renderRestore } from '../render-escrow';

/**
 * Fails the command when a keyring could not be worked on (the others were printed): exit 7 when
 * other keyrings were done, else a backend failure naming the first (a lone keyring's failure is
 * thrown by the use case as itself).
 */
function throwFailed(response: EscrowResponse): void {
  const failed = response.results.filter((r) => r.status === 'failed');
  const first = failed[0];
  if (first === undefined || first.status !== 'failed') return;
  const what = `escrow ${response.action} failed for keyring ${first.keyring} (${first.error.code}: ${first.error.message.slice(0, 200)})${failed.length > 1 ? ` and ${failed.length - 1} other(s)` : ''}`;
  if (failed.length < response.results.length) {
    throw new PartialFailureError(`${what}; the other keyring(s) were done (listed above): fix it and rerun`);
  }
  throw new BackendError(`${what}: fix it and rerun`, { retryable: false });
}

/** What `escrow archive --json` prints: one entry per keyring. */
export type ArchiveView = ReadonlyArray<ArchiveKeyringView>;

/** One keyring of {@link ArchiveView}. */
export interface ArchiveKeyringView {
  readonly keyring: string;
  /** `done`, or `failed` with `error` (its code and a one-line reason). */
  readonly status: 'done' | 'failed';
  /** Versions archived by this run. */
  readonly archived: readonly number[];
  /** Versions archived before (left as they were). */
  readonly alreadyArchived: readonly number[];
  /** Versions not archived, and why (`escrowed`, `unreadable`: retired before its first archive, `revoked`). */
  readonly skipped: ReadonlyArray<{ readonly version: number; readonly reason: string }>;
  readonly error?: { readonly code: string; readonly message: string };
}

function archiveView(response: EscrowResponse): ArchiveView {
  return response.results.map((r): ArchiveKeyringView => {
    if (r.status === 'failed') return { keyring: r.keyring, status: 'failed', archived: [], alreadyArchived: [], skipped: [], error: { code: r.error.code, message: r.error.message.slice(0, 300) } };
    return {
      keyring: r.keyring,
      status: 'done',
      archived: r.versions.filter((v) => v.created === true).map((v) => v.version),
      alreadyArchived: r.versions.filter((v) => v.created !== true).map((v) => v.version),
      skipped: (r.skipped ?? []).map((k) => ({ version: k.version, reason: k.reason })),
    };
  });
}

/** Registers the `escrow` group on `program`. */
export function registerEscrowCommands(program: Command): void {
  const escrow = program.command('escrow').description('backup key escrow');
  escrow
    .command('archive [keyring]')
    .description('archive every version that has no escrow record yet')
    .option('--json', 'print [{keyring, status, archived, alreadyArchived, skipped, error?}]')
    .addHelpText('after', '\nExit 7 when some keyring failed while others were archived (rerun to retry).\n')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const response = await runEscrow({ action: 'archive', ...(name ? { keyring: name } : {}) }, localJobContext(rk));
        if (o.json) await writeJson(archiveView(response));
        else await writeStdout(renderArchive(response));
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
        // The drill ran; some version failed it (listed above): a partial failure, not bad input.
        if (!report.ok) throw new PartialFailureError(`escrow drill failed for ${report.results.filter((r) => !r.ok).length} of ${report.results.length} version(s) (listed above); the others were proven`);
      });
    });
  escrow
    .command('restore <keyring>')
    .description('put a destroyed or lost version back into the catalog from escrow (as deprecated), or with --out recover its key into a file')
    .requiredOption('--version <n>', 'which version')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'restore from escrow')
    .option('--out <file>', 'instead: write the 32-byte key to this new file (mode 0600, never overwritten) for offline backup recovery; the catalog is not touched')
    .option('--yes', 'do not ask for confirmation (scripts); without a terminal it is required (not for --out, which changes nothing)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { version: string; reason: string; out?: string; yes?: boolean; json?: boolean }, cmd: Command) => {
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
        // A refused restore (revoked, still holding its key) is refused with nothing to confirm,
        // and a version restored already changes nothing; otherwise ask before the catalog changes:
        // a destroyed key comes back and its data decrypts again.
        if (restorePlan(await rk.keyrings.get(name), version).kind !== 'already-restored') {
          await confirmIrreversible({ action: `restore ${name} v${version} from escrow in local home ${rk.home}`, answer: name, ...(o.yes === true ? { yes: true } : {}) });
        }
        const response = await runEscrow({ action: 'restore', keyring: name, version, reason: o.reason }, localJobContext(rk));
        if (o.json) await writeJson(response);
        else await writeStdout(renderRestore(response));
      });
    });
}
