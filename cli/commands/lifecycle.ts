/**
 * `rekey rotate | tick | reenable | freeze | unfreeze | revoke` (local mode). rotate, tick and
 * revoke run the use cases the rotate, grace-period and revoke Lambda functions run; revoke asks
 * for confirmation on a terminal (`--yes` for scripts). `plan` lives in plan.ts.
 */
import { noteActed } from '../target';
import type { Command } from 'commander';
import { ConflictError, PartialFailureError } from '../../shared/errors';
import { localJobContext } from '../../shared/compose/local/local-jobs';
import { runGracePeriod } from '../../shared/usecases/reconcile';
import { revokeVersion } from '../../shared/usecases/revoke';
import { runRotate } from '../../shared/usecases/rotate';
import { collect, parseContext, parseInstant, parsePositiveInt } from '../parse';
import { writeJson, writeStdout } from '../io';
import { simulatedTime, withLocal } from '../local-context';
import { confirmIrreversible } from '../confirm';
import { keyringArg } from '../keyring-arg';
import { contextForRecords } from '../record-context';
import { renderRevocation, renderTick, revocationView, tickSummary } from '../render-lifecycle';

/** Registers the lifecycle commands on `program`. */
export function registerLifecycleCommands(program: Command): void {
  program
    .command('rotate <keyring>')
    .description('add the next version as pending now (it becomes active after the propagation window, at a tick)')
    .option('--reason <text>', 'why', 'operator request')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { reason: string; json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const { results } = await runRotate({ keyring: name, force: true, actor: rk.actor, reason: o.reason }, localJobContext(rk));
        const r = results[0];
        if (r?.status === 'created' || r?.status === 'pending-exists') {
          if (o.json === true) await writeJson({ keyring: name, status: r.status, version: r.version, state: 'pending' });
          process.stderr.write(`${r.status === 'created' ? 'created' : 'already pending:'} version ${r.version} of ${name} (pending)\n`);
        }
      });
    });

  program
    .command('tick [keyring]')
    .description('run the scheduled reconciler: apply every due transition (promote, deprecate, disable, destroy)')
    .option('--keyring <name>', 'only this keyring (same as the positional KEYRING)')
    .option('--at <time>', 'act as if it were this time: ISO 8601 with its zone (2030-01-31T12:00:00Z) or +8d from now (from --now when given); audited as simulated')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nExit codes: 0 every keyring reconciled, 7 some keyring failed (the summary still lists what was done).\n')
    .action(async (positional: string | undefined, o: { keyring?: string; at?: string; json?: boolean }, cmd: Command) => {
      const name = keyringArg(positional, o.keyring);
      // A relative --at counts from the run's clock: --now when given, else the real time.
      const at = o.at !== undefined ? parseInstant(o.at, '--at', simulatedTime(cmd) ?? new Date()) : undefined;
      await withLocal(
        cmd,
        async (rk) => {
          // Retryable failures are reported, not thrown: the summary must say what was written.
          const response = await runGracePeriod(name !== undefined ? { keyring: name } : {}, localJobContext(rk, at ? { clock: () => at } : {}), { retryable: 'report' });
          const summary = tickSummary(response);
          if (o.json) await writeJson(summary);
          else await writeStdout(renderTick(summary));
          // Some keyrings were reconciled and some were not: a partial failure, not bad input.
          if (summary.failed > 0) throw new PartialFailureError(`${summary.failed} of ${summary.keyrings.length} keyring(s) failed to reconcile (listed above); the others were reconciled; rerun tick to retry`);
        },
        at === undefined ? {} : { at },
      );
    });

  program
    .command('reenable <keyring>')
    .description('make a disabled version decrypt again (it becomes deprecated; never for a revoked version)')
    .requiredOption('--version <n>', 'the disabled version')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'operator request')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { version: string; reason: string; json?: boolean }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.reenable(name, version, { reason: o.reason, actor: rk.actor, now: rk.clock() });
        if (o.json === true) await writeJson({ keyring: name, version, changed: r.changed, state: 'deprecated' });
        process.stderr.write(`${r.changed ? 're-enabled' : 'already re-enabled:'} version ${version} of ${name} (deprecated; it decrypts again)\n`);
      });
    });

  program
    .command('revoke <keyring>')
    .description('emergency: a fresh version becomes active now, N is refused to readers, purged from the cache and re-encrypted')
    .requiredOption('--version <n>', 'the compromised version')
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .option('--context <k=v>', 'extra context of records whose envelope does not store it (repeatable; the record id is always bound)', collect)
    .option('--yes', 'do not ask for confirmation (scripts); without a terminal it is required')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit codes: 0 revocation complete, 5 not complete yet (records, old copies or the settle window remain; rerun), 7 revoked but the cache entries could not be purged (rerun when the cache answers).\n')
    .action(async (name: string, o: { version: string; reason: string; context?: string[]; yes?: boolean; json?: boolean }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      const sweep = contextForRecords(parseContext(o.context));
      await withLocal(cmd, async (rk) => {
        const target = (await rk.keyrings.get(name)).versions.find((v) => v.version === version);
        // A rerun of a revocation already under way only finishes it (re-encrypt, count, settle):
        // the irreversible step, refusing the version to readers, was confirmed by the first run.
        // An unknown version is refused by the revocation itself, with nothing to confirm.
        if (target !== undefined && target.revokedAt === undefined) {
          await confirmIrreversible({ action: `revoke ${name} v${version} in local home ${rk.home}`, answer: name, ...(o.yes === true ? { yes: true } : {}) });
        }
        const input = { keyring: name, version, reason: o.reason, actor: rk.actor, ...(sweep.contextFor ? { sweep } : {}) };
        const r = await revokeVersion(input, localJobContext(rk));
        // From here the revocation has acted (a fresh version encrypts, v is refused), whatever
        // the exit code says about what remains.
        noteActed();
        if (o.json) await writeJson(revocationView(r));
        else await writeStdout(renderRevocation(r));
        // Exactly which old copies still hold a data key the version wrapped, one per line.
        for (const c of r.copies?.remaining ?? []) process.stderr.write(`remaining copy: ${c.id} version ${c.copyId} (${c.reason})\n`);
        // The revocation is done and stays done; only the purge of its cache entries is left,
        // for a rerun once the cache answers (the driver's own words stay out of the line).
        if (r.cachePurgeFailed) {
          throw new PartialFailureError(
            `v${r.version} of ${name} is revoked; purging its cache entries failed (${rk.cacheBackend === 'redis' ? 'Redis unavailable' : 'cache unavailable'}): rerun 'rekey revoke ${name} --version ${r.version} --reason …' when ${rk.cacheBackend === 'redis' ? 'Redis' : 'the cache'} answers`,
          );
        }
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
    .option('--json', 'print the freeze as JSON')
    .addHelpText('after', '\nA keyring already frozen keeps its first freeze (reason, time, who) and says so.\n')
    .action(async (name: string, o: { reason: string; json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.freeze(name, { reason: o.reason, actor: rk.actor, now: rk.clock() });
        if (o.json === true) await writeJson({ keyring: name, frozen: true, changed: r.changed, reason: r.reason, since: r.since, by: r.by });
        process.stderr.write(r.changed ? `froze ${name}\n` : `${name} already frozen since ${r.since} by ${r.by}: ${r.reason}; kept it\n`);
      });
    });
  program
    .command('unfreeze <keyring>')
    .description('resume automatic transitions')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.unfreeze(name, { actor: rk.actor, now: rk.clock() });
        if (o.json === true) await writeJson({ keyring: name, frozen: false, changed: r.changed });
        process.stderr.write(r.changed ? `unfroze ${name}\n` : `${name} is not frozen; nothing to do\n`);
      });
    });
}
