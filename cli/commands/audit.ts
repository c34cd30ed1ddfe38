/**
 * `rekey audit [keyring]` (local mode): the audit trail, one readable line per event by default
 * (time, keyring, event, version, actor, reason; simulated times marked), or the stored JSON
 * lines with --json.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { SkippedAuditLine } from '../../shared/adapters/local/jsonl-audit-sink';
import type { AuditEvent } from '../../shared/ports/audit-sink';
import { parsePositiveInt } from '../parse';
import { writeStdout } from '../io';
import { withLocal } from '../local-context';
import { keyringArg } from '../keyring-arg';

/**
 * One event as a line for people: `2030-01-01T00:00:00.000Z  pii  version.revoked  v1  cli:ana  reason`,
 * with `(simulated)` after the time of an event written at a simulated time.
 *
 * @example
 * auditLine({ at: '2030-01-01T00:00:00.000Z', actor: 'cli:ana', action: 'keyring.created', keyring: 'pii' });
 */
export function auditLine(e: AuditEvent): string {
  const parts = [
    e.simulated === true ? `${e.at} (simulated)` : e.at,
    e.keyring,
    e.action,
    e.version !== undefined ? `v${e.version}` : '-',
    oneLine(e.actor),
  ];
  if (e.reason !== undefined && e.reason.length > 0) parts.push(oneLine(e.reason));
  return parts.join('  ');
}

/** A reason is free text: newlines or control characters must not forge extra event lines. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/** Registers `audit` on `program`. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit [keyring]')
    .description('print the audit trail, oldest first: one line per event (time, keyring, event, version, actor, reason), or JSON lines with --json')
    .option('--keyring <name>', 'only this keyring (same as the positional KEYRING)')
    .option('--limit <n>', 'only the most recent N events (default: all)')
    .option('--json', 'one JSON object per line, as stored (fields at, actor, action, keyring, version, reason, details, simulated, recordedAt)')
    .addHelpText('after', '\nEvents written at a simulated time (--now, tick --at) are marked "(simulated)"; their JSON has simulated: true and recordedAt, the real time.\n')
    .action(async (positional: string | undefined, o: { keyring?: string; limit?: string; json?: boolean }, cmd: Command) => {
      const keyring = keyringArg(positional, o.keyring);
      const limit = o.limit !== undefined ? parsePositiveInt(o.limit, '--limit') : undefined;
      await withLocal(cmd, async (rk) => {
        // scan, not read: one damaged line must not hide the rest of the trail from the operator.
        const { events, skipped } = await rk.audit.scan({ ...(keyring ? { keyring } : {}), ...(limit ? { limit } : {}) });
        for (const e of events) await writeStdout(`${o.json === true ? JSON.stringify(e) : auditLine(e)}\n`);
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
