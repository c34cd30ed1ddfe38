/** `rekey sweep` (local mode): the sweep use case, with a progress bar on a terminal. */
import type { Command } from 'commander';
import { ValidationError } from '../../shared/errors';
import type { SweepMode, SweepOptions, SweepResult } from '../../shared/reencrypt';
import type { LocalServices } from '../../shared/compose/local/local-services';
import { sweepKeyring } from '../../shared/usecases/sweep-keyring';
import { collect, parseContext, parsePositiveInt } from '../parse';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { contextForRecords } from '../record-context';
import { progressLine } from '../render';

/** Options of `sweep`. */
interface SweepCommandOptions {
  readonly version?: string;
  readonly mode?: string;
  readonly rate?: string;
  readonly concurrency?: string;
  readonly batch?: string;
  readonly context?: string[];
  readonly json?: boolean;
}

/** Tuning of {@link sweepWithProgress}. */
export interface SweepTuning {
  readonly version?: number;
  readonly mode?: SweepMode;
  readonly rate?: number;
  readonly concurrency?: number;
  readonly batch?: number;
  readonly quiet?: boolean;
  readonly contextFor?: SweepOptions['contextFor'];
}

/**
 * Sweeps the keyring's old versions (or `tuning.version`) through the sweep use case, drawing
 * a progress bar on stderr when it is a terminal.
 *
 * @example
 * const [r] = await sweepWithProgress(rk, 'pii', { version: 1, mode: 'rewrap', concurrency: 8 });
 */
export async function sweepWithProgress(rk: LocalServices, keyring: string, tuning: SweepTuning = {}): Promise<SweepResult[]> {
  const tty = process.stderr.isTTY === true && tuning.quiet !== true;
  const label = (version: number): string => `sweep ${keyring} v${version}`;
  let last = 0;
  return sweepKeyring(
    {
      keyring,
      ...(tuning.version !== undefined ? { version: tuning.version } : {}),
      ...(tuning.mode !== undefined ? { mode: tuning.mode } : {}),
      tuning: {
        ...(tuning.rate !== undefined ? { ratePerSecond: tuning.rate } : {}),
        ...(tuning.concurrency !== undefined ? { concurrency: tuning.concurrency } : {}),
        ...(tuning.batch !== undefined ? { batchSize: tuning.batch } : {}),
        ...(tuning.contextFor !== undefined ? { contextFor: tuning.contextFor } : {}),
      },
      onProgress: (version, p) => {
        const now = Date.now();
        if (tty && now - last > 100) {
          last = now;
          process.stderr.write(`\r${progressLine(label(version), p.done + p.skipped + p.failed, p.total)}`);
        }
      },
      onSwept: (r) => {
        const seen = r.done + r.skipped + r.failedCount;
        if (tty) process.stderr.write(`\r${progressLine(label(r.version), seen, seen + r.remaining)}\n`);
      },
      actor: rk.actor,
    },
    { keyrings: rk.keyrings, sweeper: rk.sweeper, checkpoints: rk.checkpoints, audit: rk.audit, clock: rk.clock },
  );
}

/** Registers `sweep` on `program`. */
export function registerSweepCommand(program: Command): void {
  program
    .command('sweep <keyring>')
    .description('re-wrap every record of old versions to the active version (re-encrypt revoked ones); resumable')
    .option('--version <n>', 'only this version (default: every rotating, deprecated or revoked version)')
    .option('--mode <mode>', 'rewrap (header only) or reencrypt (fresh data keys)')
    .option('--rate <n>', 'records per second at most')
    .option('--concurrency <n>', 'records in flight at most')
    .option('--batch <n>', 'records per checkpointed batch')
    .option('--context <k=v>', 'extra context of records whose envelope does not store it (repeatable; the record id is always bound)', collect)
    .option('--json', 'print results as JSON')
    .action(async (name: string, o: SweepCommandOptions, cmd: Command) => {
      if (o.mode !== undefined && o.mode !== 'rewrap' && o.mode !== 'reencrypt') throw new ValidationError('--mode must be rewrap or reencrypt');
      const tuning: SweepTuning = {
        ...(o.mode !== undefined ? { mode: o.mode as SweepMode } : {}),
        ...(o.rate !== undefined ? { rate: parsePositiveInt(o.rate, '--rate') } : {}),
        ...(o.concurrency !== undefined ? { concurrency: parsePositiveInt(o.concurrency, '--concurrency') } : {}),
        ...(o.batch !== undefined ? { batch: parsePositiveInt(o.batch, '--batch') } : {}),
        ...contextForRecords(parseContext(o.context)),
        // Parsed last, as it always was, so the first bad option reported stays the same.
        ...(o.version !== undefined ? { version: parsePositiveInt(o.version, '--version') } : {}),
      };
      await withLocal(cmd, async (rk) => {
        const results = await sweepWithProgress(rk, name, tuning);
        if (o.json) await writeJson(results);
        else {
          for (const r of results) {
            await writeStdout(`v${r.version} ${r.mode}: done ${r.done}, skipped ${r.skipped}, failed ${r.failedCount}, remaining ${r.remaining}${r.alreadyComplete ? ' (already complete)' : ''}\n`);
          }
        }
        if (results.some((r) => r.failedCount > 0)) throw new ValidationError('some records failed; see the counts above and rerun to resume');
      });
    });
}
