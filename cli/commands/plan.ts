/**
 * `rekey plan [KEYRING]` (local mode): what the next ticks would do and when, on the facts the
 * tick itself would gather now, and what blocks each step that cannot be scheduled. Read-only:
 * nothing is generated, written or audited.
 */
import type { Command } from 'commander';
import { readKeyringPlan } from '../../shared/usecases/keyring-plan';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { renderPlan } from '../render-lifecycle';

/** Registers `plan` on `program`. */
export function registerPlanCommand(program: Command): void {
  program
    .command('plan [keyring]')
    .description('what the next ticks would do and when (promote, deprecate, disable, destroy), and what blocks each step: references, escrow, freeze, breaker, quiet period, unmanaged data (nothing is changed)')
    .option('--json', 'print the plan as JSON: { keyrings: [{ keyring, at, paused?, steps, blocked, versions }] }')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const plans = await readKeyringPlan(name === undefined ? {} : { keyring: name }, { keyrings: rk.keyrings, clock: rk.clock });
        if (o.json) await writeJson({ keyrings: plans });
        else await writeStdout(renderPlan(plans));
      });
    });
}
