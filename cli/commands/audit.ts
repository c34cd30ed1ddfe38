/** `rekey audit` (local mode): the audit trail as JSON lines. */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { SkippedAuditLine } from '../../shared/adapters/local/jsonl-audit-sink';
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
        // scan, not read: one damaged line must not hide the rest of the trail from the operator.
        const { events, skipped } = await rk.audit.scan({ ...(o.keyring ? { keyring: o.keyring } : {}), ...(limit ? { limit } : {}) });
        for (const e of events) await writeStdout(`${JSON.stringify(e)}\n`);
        if (skipped.length > 0) process.stderr.write(`${skippedNote(join(rk.home, 'audit.jsonl'), skipped)}\n`);
      });
    });
}

/** One stderr line naming every line of the log that was not an event, e.g. `line 3 (torn)`. */
function skippedNote(path: string, skipped: readonly SkippedAuditLine[]): string {
  const where = skipped.map((s) => `line ${s.line} (${s.kind})`).join(', ');
  const count = skipped.length === 1 ? '1 unreadable line' : `${skipped.length} unreadable lines`;
  return `rekey: warning: skipped ${count} of ${path}: ${where}`;
}
