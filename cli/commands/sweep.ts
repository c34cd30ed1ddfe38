/**
 * `rekey sweep` (local mode): the sweep use case with progress on stderr (rate, elapsed, ETA;
 * totals across resumed runs), a Ctrl-C that stops at the next batch and says how to resume, and
 * exit 7 when some records could not be moved.
 */
import type { Command } from 'commander';
import { PartialFailureError, ValidationError } from '../../shared/errors';
import type { SweepMode, SweepOptions, SweepResult } from '../../shared/reencrypt';
import type { LocalServices } from '../../shared/compose/local/local-services';
import { SWEEP_DEFAULTS, sweepKeyring } from '../../shared/usecases/sweep-keyring';
import { collect, parseContext, parsePositiveInt } from '../parse';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { contextForRecords } from '../record-context';
import { InterruptedError } from '../errors-to-exit';
import { sweepView } from '../render-lifecycle';
import { formatCount, startProgress, type Progress } from '../progress';

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
  /** No progress output at all. */
  readonly quiet?: boolean;
  readonly contextFor?: SweepOptions['contextFor'];
  /**
   * Asked after every batch: true stops the sweep there (the batch is checkpointed, so a rerun
   * resumes right after it). Ctrl-C sets it.
   */
  readonly stopRequested?: () => boolean;
}

/** How far a sweep got over all its runs: what the interrupted line and the totals report. */
export interface SweepTally {
  /** Records handled (done, skipped or failed) by earlier runs and this one. */
  processed: number;
  /** Records to handle over all runs (earlier runs' plus this run's starting count). */
  total: number;
}

/**
 * Sweeps the keyring's old versions (or `tuning.version`) through the sweep use case, with
 * progress on stderr (redrawn on a terminal, a plain line every few seconds otherwise).
 * `tally`, when given, is filled in as the sweep goes.
 *
 * @example
 * const [r] = await sweepWithProgress(rk, 'pii', { version: 1, mode: 'rewrap', concurrency: 8 });
 */
export async function sweepWithProgress(rk: LocalServices, keyring: string, tuning: SweepTuning = {}, tally: SweepTally = { processed: 0, total: 0 }): Promise<SweepResult[]> {
  const label = (version: number): string => `sweep ${keyring} v${version}`;
  // Tripped only between batches, never inside one, so every record handled is checkpointed.
  const stop = new AbortController();
  let progress: Progress | undefined;
  // Versions already swept in this run, and the one under way (with its earlier runs).
  const finished = { processed: 0, total: 0 };
  let current = { earlier: 0, seen: 0, total: 0, started: false };
  const publish = (): void => {
    tally.processed = finished.processed + current.earlier + current.seen;
    tally.total = finished.total + current.earlier + Math.max(current.total, current.seen);
  };
  return sweepKeyring(
    {
      keyring,
      ...(tuning.version !== undefined ? { version: tuning.version } : {}),
      ...(tuning.mode !== undefined ? { mode: tuning.mode } : {}),
      ...(tuning.stopRequested !== undefined ? { signal: stop.signal } : {}),
      tuning: {
        ...(tuning.rate !== undefined ? { ratePerSecond: tuning.rate } : {}),
        ...(tuning.concurrency !== undefined ? { concurrency: tuning.concurrency } : {}),
        ...(tuning.batch !== undefined ? { batchSize: tuning.batch } : {}),
        ...(tuning.contextFor !== undefined ? { contextFor: tuning.contextFor } : {}),
      },
      onStart: (_version, _mode, e) => {
        current = { earlier: e.done + e.skipped + e.failed, seen: 0, total: 0, started: false };
        publish();
      },
      onProgress: (version, p) => {
        if (!current.started) {
          current.started = true;
          current.total = p.total;
          // An empty version gets no bar (the summary says there was nothing to do).
          if (tuning.quiet !== true && p.total > 0) progress = startProgress(label(version), { total: p.total, already: current.earlier });
        }
        current.seen = p.done + p.skipped + p.failed;
        publish();
        progress?.update(current.seen, Math.max(current.total, current.seen));
        if (tuning.stopRequested?.() === true) stop.abort();
      },
      onSwept: (r) => {
        current.seen = r.done + r.skipped + r.failedCount;
        progress?.finish(r.aborted ? 'interrupted' : `done ${formatCount(r.done)}, skipped ${formatCount(r.skipped)}, failed ${formatCount(r.failedCount)}`);
        progress = undefined;
        finished.processed += current.earlier + current.seen;
        // A version the stop reached before it began has no progress: its remaining count is its total.
        finished.total += current.earlier + Math.max(current.total, current.seen, r.remaining);
        current = { earlier: 0, seen: 0, total: 0, started: false };
        publish();
      },
      actor: rk.actor,
    },
    { keyrings: rk.keyrings, sweeper: rk.sweeper, checkpoints: rk.checkpoints, audit: rk.audit, clock: rk.clock },
  );
}

/**
 * True when the sweep had nothing to move: no records under any of the versions swept (a sweep
 * finished by an earlier run says "already complete" instead).
 */
function nothingSwept(results: readonly SweepResult[]): boolean {
  return results.every((r) => !r.alreadyComplete && r.done + r.skipped + r.failedCount === 0 && r.remaining === 0);
}

/**
 * Runs `fn` with a flag that the first Ctrl-C raises; a second Ctrl-C falls back to Node's
 * default (quit at once), for an operator who cannot wait for the batch in flight.
 */
async function withInterrupt<T>(fn: (stopRequested: () => boolean) => Promise<T>): Promise<T> {
  let requested = false;
  const onSigint = (): void => {
    requested = true;
    process.stderr.write('\nrekey: stopping after the batch in flight (Ctrl-C again to quit at once)\n');
  };
  process.once('SIGINT', onSigint);
  try {
    return await fn(() => requested);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Registers `sweep` on `program`. */
export function registerSweepCommand(program: Command): void {
  program
    .command('sweep <keyring>')
    .description('re-wrap every record of old versions to the active version (re-encrypt revoked ones); resumable')
    .option('--version <n>', 'only this version (default: every rotating, deprecated or revoked version)')
    .option('--mode <mode>', 'rewrap (header only) or reencrypt (fresh data keys)')
    .option('--rate <n>', 'records per second at most (default: unlimited)')
    .option('--concurrency <n>', `records in flight at most (default: ${SWEEP_DEFAULTS.concurrency})`)
    .option('--batch <n>', `records per checkpointed batch; Ctrl-C stops after the batch in flight (default: ${SWEEP_DEFAULTS.batchSize})`)
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
        const tally: SweepTally = { processed: 0, total: 0 };
        const results = await withInterrupt((stopRequested) => sweepWithProgress(rk, name, { ...tuning, stopRequested }, tally));
        if (results.some((r) => r.aborted)) {
          throw new InterruptedError(`interrupted: ${formatCount(tally.processed)} of ${formatCount(tally.total)} done; rerun 'rekey sweep ${name}' (with the same --home) to resume`);
        }
        // The documented view (cli/render-lifecycle.ts SweepView): no run ids or limiter internals.
        if (o.json) await writeJson(results.map(sweepView));
        else if (nothingSwept(results)) {
          const which = tuning.version !== undefined ? `version ${tuning.version}` : 'old versions';
          await writeStdout(`nothing to sweep: no records under ${which} of ${name}\n`);
        } else {
          for (const r of results) {
            await writeStdout(`v${r.version} ${r.mode}: done ${r.done}, skipped ${r.skipped}, failed ${r.failedCount}, remaining ${r.remaining}${r.alreadyComplete ? ' (already complete)' : ''}\n`);
          }
        }
        const failed = results.reduce((n, r) => n + r.failedCount, 0);
        if (failed > 0) {
          throw new PartialFailureError(`${formatCount(failed)} record(s) could not be moved ('rekey sweep ${name} --json' lists their ids and reasons); fix them (--context for bound records) and rerun to resume`);
        }
      });
    });
}
