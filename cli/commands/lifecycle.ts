/**
 * `rekey rotate | tick | plan | reenable | freeze | unfreeze | revoke` (local mode). rotate, tick
 * and revoke run the use cases the rotate, grace-period and revoke Lambda functions run; plan
 * shows what the ticks would do and when, on the facts the tick would gather.
 */
import type { Command } from 'commander';
import { ConflictError, ValidationError } from '../../shared/errors';
import { localJobContext } from '../../shared/compose/local/local-jobs';
import { runGracePeriod } from '../../shared/usecases/reconcile';
import { revokeVersion } from '../../shared/usecases/revoke';
import { runRotate } from '../../shared/usecases/rotate';
import { collect, parseContext, parseInstant, parsePositiveInt } from '../parse';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { contextForRecords } from '../record-context';
import { renderPlan, renderRevocation, renderTick, tickSummary } from '../render-lifecycle';
import { readKeyringPlan } from '../../shared/usecases/keyring-plan';

/** Registers the lifecycle commands on `program`. */
export function registerLifecycleCommands(program: Command): void {
  program
    .command('rotate <keyring>')
    .description('add the next version as pending now (it becomes active after the propagation window, at a tick)')
    .option('--reason <text>', 'why', 'operator request')
    .action(async (name: string, o: { reason: string }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const { results } = await runRotate({ keyring: name, force: true, actor: rk.actor, reason: o.reason }, localJobContext(rk));
        const r = results[0];
        if (r?.status === 'created' || r?.status === 'pending-exists') {
          process.stderr.write(`${r.status === 'created' ? 'created' : 'already pending:'} version ${r.version} of ${name} (pending)\n`);
        }
      });
    });

  program
    .command('tick')
    .description('run the scheduled reconciler: apply every due transition (promote, deprecate, disable, destroy)')
    .option('--keyring <name>', 'only this keyring')
    .option('--at <iso-time>', 'act as if it were this time')
    .option('--json', 'print the summary as JSON')
    .action(async (o: { keyring?: string; at?: string; json?: boolean }, cmd: Command) => {
      const at = o.at !== undefined ? parseInstant(o.at, '--at') : undefined;
      await withLocal(cmd, async (rk) => {
        const response = await runGracePeriod(o.keyring ? { keyring: o.keyring } : {}, localJobContext(rk, at ? { clock: () => at } : {}));
        const summary = tickSummary(response);
        if (o.json) await writeJson(summary);
        else await writeStdout(renderTick(summary));
        if (summary.failed > 0) throw new ValidationError(`${summary.failed} keyring(s) failed to reconcile`);
      });
    });

  program
    .command('plan [keyring]')
    .description('what the next ticks would do and when, given current references, key use and escrow (nothing is changed)')
    .option('--json', 'print the plan as JSON')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const plans = await readKeyringPlan(name === undefined ? {} : { keyring: name }, { keyrings: rk.keyrings, clock: rk.clock });
        if (o.json) await writeJson({ keyrings: plans });
        else await writeStdout(renderPlan(plans));
      });
    });

  program
    .command('reenable <keyring>')
    .description('make a disabled version decrypt again (it becomes deprecated; never for a revoked version)')
    .requiredOption('--version <n>', 'the disabled version')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'operator request')
    .action(async (name: string, o: { version: string; reason: string }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.reenable(name, version, { reason: o.reason, actor: rk.actor, now: rk.clock() });
        process.stderr.write(`${r.changed ? 're-enabled' : 'already re-enabled:'} version ${version} of ${name} (deprecated; it decrypts again)\n`);
      });
    });

  program
    .command('revoke <keyring>')
    .description('emergency: a fresh version becomes active now, N is refused to readers, purged from the cache and re-encrypted')
    .requiredOption('--version <n>', 'the compromised version')
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .option('--context <k=v>', 'extra context of records whose envelope does not store it (repeatable; the record id is always bound)', collect)
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { version: string; reason: string; context?: string[]; json?: boolean }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      const sweep = contextForRecords(parseContext(o.context));
      await withLocal(cmd, async (rk) => {
        const input = { keyring: name, version, reason: o.reason, actor: rk.actor, ...(sweep.contextFor ? { sweep } : {}) };
        const r = await revokeVersion(input, localJobContext(rk));
        if (o.json) await writeJson(r);
        else await writeStdout(renderRevocation(r));
        // Exactly which old copies still hold a data key the version wrapped, one per line.
        for (const c of r.copies?.remaining ?? []) process.stderr.write(`remaining copy: ${c.id} version ${c.copyId} (${c.reason})\n`);
        // The version is refused to readers already; scripts still need to know the revocation is not finished.
        if (r.pending === 'records-remain') {
          throw new ConflictError(`revocation of ${name} v${r.version} is not complete: ${r.remaining} record(s) with a data key v${r.version} wrapped remain (${r.underVersion} under v${r.version} itself); rerun (with --context if they need one)`);
        }
        if (r.pending === 'copies-remain') {
          throw new ConflictError(`revocation of ${name} v${r.version} is not complete: ${r.copies?.remainingCount ?? 0} old copy(ies) under v${r.version} remain (listed above); delete them, then rerun`);
        }
        if (r.pending === 'settling') {
          throw new ConflictError(`revocation of ${name} v${r.version} is not complete: writers with a cached catalog may write under v${r.version} until ${r.settlesAt}; rerun after that to re-count`);
        }
      });
    });

  program
    .command('freeze <keyring>')
    .description('pause automatic transitions (an incident is in progress); revocation still works')
    .requiredOption('--reason <text>', 'why')
    .action(async (name: string, o: { reason: string }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        await rk.keyrings.freeze(name, { reason: o.reason, actor: rk.actor, now: rk.clock() });
        process.stderr.write(`froze ${name}\n`);
      });
    });
  program
    .command('unfreeze <keyring>')
    .description('resume automatic transitions')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        await rk.keyrings.unfreeze(name, { actor: rk.actor, now: rk.clock() });
        process.stderr.write(`unfroze ${name}\n`);
      });
    });
}
