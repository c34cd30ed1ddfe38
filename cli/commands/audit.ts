/** `rekey audit` (local mode): the audit trail as JSON lines. */
import type { Command } from 'commander';
import { parsePositiveInt } from '../parse';
import { writeStdout } from '../io';
import { withLocal } from '../local-context';

/** Registers `audit` on `program`. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('print the audit trail as JSON lines')
    .option('--keyring <name>', 'only this keyring')
    .option('--limit <n>', 'only the most recent N events')
    .action(async (o: { keyring?: string; limit?: string }, cmd: Command) => {
      const limit = o.limit !== undefined ? parsePositiveInt(o.limit, '--limit') : undefined;
      await withLocal(cmd, async (rk) => {
        const events = await rk.audit.read({ ...(o.keyring ? { keyring: o.keyring } : {}), ...(limit ? { limit } : {}) });
        for (const e of events) await writeStdout(`${JSON.stringify(e)}\n`);
      });
    });
}
