/** `rekey records put | get` (local mode): the record store, through the record service. */
import type { Command } from 'commander';
import { collect, parseContext } from '../parse';
import { readInput, writeStdout } from '../io';
import { withLocal } from '../local-context';

/** Registers the `records` group on `program`. */
export function registerRecordsCommands(program: Command): void {
  const records = program.command('records').description('the local record store (records encrypted by rekey)');
  records
    .command('put <id>')
    .description('encrypt stdin as record ID')
    .requiredOption('--keyring <name>', 'keyring to encrypt under')
    .option('--context <k=v>', 'extra caller context (the record id is always bound)', collect)
    .option('--store-context', 'store the context in clear, so an emergency re-encryption can supply it')
    .action(async (id: string, o: { keyring: string; context?: string[]; storeContext?: boolean }, cmd: Command) => {
      const context = parseContext(o.context);
      await withLocal(cmd, async (rk) => {
        await rk.recordService.put(id, o.keyring, await readInput(), { ...(context ? { context } : {}), ...(o.storeContext ? { storeContext: true } : {}) });
      });
    });
  records
    .command('get <id>')
    .description('decrypt record ID to stdout (re-wraps it to the active version if it is older)')
    .option('--context <k=v>', 'extra caller context given at put', collect)
    .action(async (id: string, o: { context?: string[] }, cmd: Command) => {
      const context = parseContext(o.context);
      await withLocal(cmd, async (rk) => {
        const r = await rk.recordService.get(id, context ? { context } : {});
        try {
          await writeStdout(r.plaintext);
        } finally {
          r.plaintext.fill(0);
        }
      });
    });
}
