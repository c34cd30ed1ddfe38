/** `rekey records put | get | list | delete | import` (local mode): the record store, through the record service. */
import type { Command } from 'commander';
import { collect, parseContext, parsePositiveInt } from '../parse';
import { readInput, writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { keyringArg } from '../keyring-arg';
import { InterruptedError } from '../errors-to-exit';
import { confirmIrreversible } from '../confirm';
import { jsonLinesItems, listImportFolder, MAX_IMPORT_LINE_BYTES } from '../record-import-source';
import { NotFoundError, PartialFailureError, ValidationError } from '../../shared/errors';
import { startProgress } from '../progress';
import type { ImportItem, ImportReport, ImportTotals } from '../../shared/reencrypt/record-service';
import type { RecordListing } from '../../shared/ports/record-admin';

/** Default and largest page of `records list`. */
const LIST_DEFAULT = 100;
const LIST_MAX = 100_000;

/** Registers the `records` group on `program`. */
export function registerRecordsCommands(program: Command): void {
  const records = program.command('records').description('the local record store (records encrypted by rekey)');
  records
    .command('put <id>')
    .description('encrypt stdin as record ID')
    .requiredOption('--keyring <name>', 'keyring to encrypt under')
    .option('--context <k=v>', 'extra caller context (the record id is always bound)', collect)
    .option('--store-context', 'store the context in clear, so an emergency re-encryption can supply it')
    .option('--json', 'print {id, keyring, version} of the record written')
    .action(async (id: string, o: { keyring: string; context?: string[]; storeContext?: boolean; json?: boolean }, cmd: Command) => {
      const context = parseContext(o.context);
      await withLocal(cmd, async (rk) => {
        const plaintext = await readInput();
        try {
          await rk.recordService.put(id, o.keyring, plaintext, { ...(context ? { context } : {}), ...(o.storeContext ? { storeContext: true } : {}) });
        } finally {
          plaintext.fill(0);
        }
        if (o.json) {
          // The version it was sealed under, from its header (no data is read back).
          const head = await rk.records.getHeader(id);
          const view: RecordPutView = { id, keyring: o.keyring, version: head?.version ?? null };
          await writeJson(view);
        }
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
  records
    .command('list [keyring]')
    .description('list records in id order: id, keyring, version, size, last write (no data is read or shown)')
    .option('--keyring <name>', 'only records of this keyring (same as the positional KEYRING)')
    .option('--version <n>', 'only records under this key version')
    .option('--limit <n>', `most records listed (1..${LIST_MAX})`, String(LIST_DEFAULT))
    .option('--after <cursor>', 'continue a listing after the cursor a previous page printed')
    .option('--json', 'print {records:[{id,keyring,version,size,updatedAt}], nextCursor}')
    .action(async (positional: string | undefined, o: { keyring?: string; version?: string; limit: string; after?: string; json?: boolean }, cmd: Command) => {
      const keyring = keyringArg(positional, o.keyring);
      const version = o.version === undefined ? undefined : parsePositiveInt(o.version, '--version');
      const limit = parsePositiveInt(o.limit, '--limit');
      if (limit > LIST_MAX) throw new ValidationError(`--limit must be at most ${LIST_MAX}; page with --after`);
      await withLocal(cmd, async (rk) => {
        const page = await rk.recordService.list({ limit, ...(keyring === undefined ? {} : { keyring }), ...(version === undefined ? {} : { version }), ...(o.after === undefined ? {} : { cursor: o.after }) });
        if (o.json) {
          await writeJson({ records: page.items.map(listingJson), nextCursor: page.cursor ?? null });
          return;
        }
        await writeStdout(renderListing(page.items));
        if (page.cursor !== undefined) process.stderr.write(`more records: rerun with --after ${page.cursor}\n`);
      });
    });
  records
    .command('delete <id>')
    .description('delete record ID (its data is gone for good: no key version can read it again)')
    .option('--yes', 'do not ask for confirmation (scripts); without a terminal it is required')
    .option('--json', 'print {deleted: ID}')
    .addHelpText('after', '\nAsks on a terminal (type the record id); --yes for scripts. Exit code 4 when there is no such record (nothing was deleted).\n')
    .action(async (id: string, o: { yes?: boolean; json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        // An unknown id is "not found", with nothing to confirm; the question comes before any change.
        if ((await rk.records.getHeader(id)) === undefined) throw new NotFoundError(`no record '${id.slice(0, 128)}': nothing was deleted`);
        await confirmIrreversible({ action: `delete record ${id.slice(0, 128)} in local home ${rk.home}`, answer: id, ...(o.yes === true ? { yes: true } : {}) });
        try {
          await rk.recordService.delete(id);
        } catch (err) {
          if (err instanceof NotFoundError) throw new NotFoundError(`no record '${id.slice(0, 128)}': nothing was deleted`);
          throw err;
        }
        if (o.json) await writeJson({ deleted: id });
        else process.stderr.write(`deleted record ${id}\n`);
      });
    });
  records
    .command('import <dir>')
    .description('encrypt every file of folder DIR as a record named after the file, or JSON Lines from stdin with DIR -')
    .option('--keyring <name>', 'keyring to encrypt under (required)')
    .option('--context <k=v>', 'extra caller context bound to every record (the record id is always bound)', collect)
    .option('--store-context', 'store the context in clear, so an emergency re-encryption can supply it')
    .option('--json', 'print {keyring,imported,existing,existingIds,failed,failures,bytes,seconds,skipped}')
    .addHelpText('after', [
      '',
      'Folder: only the regular files directly in DIR (not recursive); names starting with a dot',
      'and anything that is not a regular file (folders, symbolic links) are skipped and counted.',
      `A file is read whole and must fit one record (up to 64 MiB).`,
      '',
      'stdin (DIR is -): one JSON object a line, {"id":"ID","data":"UTF-8 text"} or',
      `{"id":"ID","base64":"..."}; blank lines are ignored; a line is at most ${MAX_IMPORT_LINE_BYTES / 1024 / 1024} MiB.`,
      'A bad line fails alone, named by its line number; nothing of it is written.',
      '',
      'An id that already exists is never overwritten: it is counted and listed, and the record',
      'is left unchanged (delete it first to replace it). So rerunning the same import after a',
      'failure or Ctrl-C imports only what is missing.',
      '',
      'Records are committed 500 at a time in one transaction; Ctrl-C stops between batches.',
      'Exit 7 when some items failed (the others were imported), 130 when interrupted.',
      '',
    ].join('\n'))
    .action(async (dir: string, o: { keyring?: string; context?: string[]; storeContext?: boolean; json?: boolean }, cmd: Command) => {
      const keyring = keyringArg(undefined, o.keyring, { required: true });
      const context = parseContext(o.context);
      let source: AsyncIterable<ImportItem>;
      let skipped = { dotfiles: 0, notFiles: 0 };
      // Known for a folder (its listing), not for stdin: the progress then shows no ETA.
      let total: number | undefined;
      if (dir === '-') source = jsonLinesItems(process.stdin as AsyncIterable<Buffer>);
      else {
        const listing = await listImportFolder(dir);
        skipped = { dotfiles: listing.dotfiles, notFiles: listing.notFiles };
        total = listing.items.length;
        source = fromArray(listing.items);
      }
      await withLocal(cmd, async (rk) => {
        const started = Date.now();
        let interrupted = false;
        const onSigint = (): void => {
          interrupted = true;
        };
        process.on('SIGINT', onSigint);
        // Counts only, once per committed batch: never an id or a byte of data.
        const progress = startProgress(`import ${keyring}`, total === undefined ? {} : { total });
        let report: ImportReport;
        try {
          report = await rk.recordService.importRecords(source, keyring, {
            ...(context ? { context } : {}),
            ...(o.storeContext ? { storeContext: true } : {}),
            shouldStop: () => interrupted,
            onBatch: (t: ImportTotals) => progress.update(t.imported + t.existing + t.failed),
          });
        } finally {
          process.off('SIGINT', onSigint);
          progress.finish();
        }
        const seconds = (Date.now() - started) / 1000;
        const summary = importSummary(keyring, report, seconds);
        if (o.json) {
          await writeJson({
            keyring,
            imported: report.imported,
            existing: report.existing,
            existingIds: report.existingIds,
            failed: report.failed,
            failures: report.failures,
            bytes: report.bytes,
            seconds: Math.round(seconds * 1000) / 1000,
            stopped: report.stopped,
            skipped,
          });
        } else {
          process.stderr.write(`${summary}\n`);
          if (skipped.dotfiles + skipped.notFiles > 0) process.stderr.write(`skipped ${skipped.dotfiles} dotfile(s) and ${skipped.notFiles} entr(ies) that are not regular files\n`);
          if (report.existing > 0) process.stderr.write(`left unchanged (id exists): ${report.existingIds.slice(0, 10).join(', ')}${report.existing > 10 ? ', ...' : ''}\n`);
          // Names the item (file name or `line N`) and why, both clipped; never a byte of data.
          for (const f of report.failures.slice(0, 10)) process.stderr.write(`failed: ${clip(f.item, 120)}: ${clip(f.reason, 240)}\n`);
          if (report.failed > 10) process.stderr.write(`failed: ... and ${report.failed - 10} more ('--json' lists up to the first hundred)\n`);
        }
        if (report.stopped) {
          throw new InterruptedError(`interrupted after importing ${report.imported} record(s) into ${keyring}: rerun the same command to import the rest (ids already imported are skipped)`);
        }
        if (report.failed > 0) {
          throw new PartialFailureError(`${report.failed} item(s) failed and ${report.imported} were imported: fix them and rerun the same command (ids already imported are skipped)`);
        }
      });
    });
}

/** What `records put --json` prints. */
export interface RecordPutView {
  readonly id: string;
  readonly keyring: string;
  /** The key version the record was sealed under (null only if it was deleted meanwhile). */
  readonly version: number | null;
}

/** `text` cut to `max` characters, with an ellipsis when it was longer. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

function listingJson(r: RecordListing): Record<string, unknown> {
  return { id: r.id, keyring: r.keyring, version: r.version, size: r.size, updatedAt: r.updatedAt?.toISOString() ?? null };
}

/** Aligned columns; ids longer than 40 characters push their row's columns, never others'. */
function renderListing(items: readonly RecordListing[]): string {
  if (items.length === 0) return 'no records\n';
  const rows = [['ID', 'KEYRING', 'VERSION', 'SIZE', 'UPDATED'], ...items.map((r) => [r.id, r.keyring, `v${r.version}`, String(r.size), r.updatedAt?.toISOString().slice(0, 19).concat('Z') ?? '-'])];
  const widths = [0, 1, 2, 3].map((c) => Math.min(40, Math.max(...rows.map((row) => (row[c] as string).length))));
  return `${rows.map((row) => row.map((cell, c) => (c < 4 ? cell.padEnd(widths[c] as number) : cell)).join('  ')).join('\n')}\n`;
}

function importSummary(keyring: string, r: ImportReport, seconds: number): string {
  const rate = seconds > 0 ? Math.round(r.imported / seconds) : r.imported;
  if (r.imported + r.existing + r.failed === 0 && !r.stopped) return `nothing to import: no records found`;
  return `imported ${r.imported} record(s) into ${keyring} (${r.bytes} bytes) in ${seconds.toFixed(1)} s (${rate}/s); ${r.existing} already existed, ${r.failed} failed`;
}
