/**
 * `rekey migrate KEYRING --from plaintext|esdk` (local mode): takes the records of the home's
 * record store that are not rekey envelopes yet (plaintext, or AWS Encryption SDK messages the
 * operator can decrypt) into envelopes of KEYRING in place, through the migration sweep
 * (shared/migrate): verified before replace, conditional on the row revision, checkpointed per
 * batch. Progress on stderr, Ctrl-C stops after the batch in flight, exit 7 when some records
 * could not be migrated. Output carries ids, counts and reason codes only.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PartialFailureError, ValidationError } from '../../shared/errors';
import { createEsdkDecryptor, migrateRecords, RecordStoreMigrationStore } from '../../shared/migrate';
import type { EsdkDecryptorOptions, MigrationReport, MigrationSource, SourceDecryptor } from '../../shared/migrate';
import { collect, parseContext, parsePositiveInt } from '../parse';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { keyringArg } from '../keyring-arg';
import { InterruptedError } from '../errors-to-exit';
import { formatCount, startProgress } from '../progress';

/** Options of `migrate`. */
interface MigrateCommandOptions {
  readonly from?: string;
  readonly recordsKeyring?: string;
  readonly dryRun?: boolean;
  readonly restart?: boolean;
  readonly rate?: string;
  readonly concurrency?: string;
  readonly batch?: string;
  readonly context?: string[];
  readonly storeContext?: boolean;
  readonly esdkKmsKey?: string[];
  readonly esdkDiscoveryAccount?: string[];
  readonly esdkPartition?: string;
  readonly esdkKmsEndpoint?: string;
  readonly esdkRegion?: string;
  readonly esdkAesKeyFile?: string;
  readonly esdkKeyName?: string;
  readonly esdkKeyNamespace?: string;
  readonly esdkContext?: string[];
  readonly json?: boolean;
}

/** The migration's defaults, shown in the help. */
const DEFAULTS = { batch: 100, concurrency: 4 } as const;

/**
 * A raw AES wrapping key read from a file: its raw bytes (16, 24 or 32), or base64 text of them.
 * The key's bytes are never echoed.
 */
function readAesKey(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new ValidationError(`cannot read --esdk-aes-key-file '${path}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Base64 text first: the base64 of a 16-byte key is 24 characters, which a raw-length check
  // alone would take for a 24-byte key.
  const text = raw.toString('latin1').trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if ([16, 24, 32].includes(decoded.length)) {
    raw.fill(0);
    return decoded;
  }
  decoded.fill(0);
  if ([16, 24, 32].includes(raw.length)) return raw;
  raw.fill(0);
  throw new ValidationError('--esdk-aes-key-file must hold a 16, 24 or 32-byte key, raw or in base64');
}

/** The ESDK decryptor the options describe; a ValidationError when they describe none or two. */
async function esdkDecryptor(o: MigrateCommandOptions): Promise<SourceDecryptor> {
  const kms = (o.esdkKmsKey?.length ?? 0) > 0 || (o.esdkDiscoveryAccount?.length ?? 0) > 0;
  const aes = o.esdkAesKeyFile !== undefined;
  if (kms === aes) throw new ValidationError('--from esdk needs the keyring the messages were encrypted with: --esdk-kms-key ARN (or --esdk-discovery-account ID), or --esdk-aes-key-file with --esdk-key-name and --esdk-key-namespace');
  const requiredContext = parseContext(o.esdkContext) ?? {};
  let keyring: EsdkDecryptorOptions['keyring'];
  let key: Buffer | undefined;
  if (aes) {
    if (o.esdkKeyName === undefined || o.esdkKeyNamespace === undefined) throw new ValidationError('--esdk-aes-key-file needs --esdk-key-name and --esdk-key-namespace (as the messages were encrypted with)');
    key = readAesKey(o.esdkAesKeyFile as string);
    keyring = { kind: 'raw-aes', keyName: o.esdkKeyName, keyNamespace: o.esdkKeyNamespace, key };
  } else {
    const clientConfig = {
      ...(o.esdkKmsEndpoint === undefined ? {} : { endpoint: o.esdkKmsEndpoint }),
      ...(o.esdkRegion === undefined ? {} : { region: o.esdkRegion }),
    };
    keyring = (o.esdkKmsKey?.length ?? 0) > 0
      ? { kind: 'kms', keyIds: o.esdkKmsKey ?? [], clientConfig }
      : { kind: 'kms', discovery: { partition: o.esdkPartition ?? 'aws', accountIds: o.esdkDiscoveryAccount ?? [] }, clientConfig };
  }
  try {
    return await createEsdkDecryptor({ keyring, requiredContext });
  } finally {
    key?.fill(0);
  }
}

function summary(r: MigrationReport): string {
  const s = r.seen;
  const head = r.dryRun ? `dry run, nothing written: ${formatCount(r.listed)} record(s)` : `migrated ${formatCount(r.migrated)} of ${formatCount(r.listed)} record(s)`;
  const kinds = `plaintext ${formatCount(s.plaintext)}, esdk ${formatCount(s.esdk)}, already rekey ${formatCount(s.rekey)}, undecidable ${formatCount(s.undecidable)}`;
  const tail = r.dryRun ? '' : `; conflicts ${formatCount(r.conflicts)}, failed ${formatCount(r.failedCount)}${r.resumed ? ' (resumed)' : ''}`;
  return `${head} (${kinds})${tail}\n`;
}

/** What `migrate --json` prints. */
function reportView(r: MigrationReport): Record<string, unknown> {
  return {
    keyring: r.keyring,
    from: r.from,
    store: r.store,
    dryRun: r.dryRun,
    listed: r.listed,
    seen: r.seen,
    migrated: r.migrated,
    conflicts: r.conflicts,
    failed: r.failed,
    failedCount: r.failedCount,
    resumed: r.resumed,
    completed: r.completed,
  };
}

/** Registers `migrate` on `program`. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate <keyring>')
    .description('take existing records (plaintext, or AWS Encryption SDK messages) into rekey envelopes in place; verified, conditional, resumable')
    .option('--from <source>', 'plaintext or esdk (required)')
    .option('--records-keyring <name>', 'migrate the rows the store indexes under this keyring (default: KEYRING)')
    .option('--dry-run', 'only read and count records by kind; write nothing')
    .option('--restart', 'start from the beginning instead of the last checkpoint')
    .option('--rate <n>', 'records per second at most (default: unlimited)')
    .option('--concurrency <n>', `records in flight at most (default: ${DEFAULTS.concurrency})`)
    .option('--batch <n>', `records per checkpointed batch; Ctrl-C stops after the batch in flight (default: ${DEFAULTS.batch})`)
    .option('--context <k=v>', 'extra caller context bound to every record (repeatable; the record id is always bound)', collect)
    .option('--store-context', 'store the context in clear, so an emergency re-encryption can supply it')
    .option('--esdk-kms-key <arn>', 'esdk: a KMS key ARN the messages were encrypted under (repeatable)', collect)
    .option('--esdk-discovery-account <id>', 'esdk: decrypt with any KMS key of this account (discovery; repeatable)', collect)
    .option('--esdk-partition <name>', 'esdk: partition of the discovery accounts (default: aws)')
    .option('--esdk-kms-endpoint <url>', 'esdk: KMS endpoint override (emulators)')
    .option('--esdk-region <region>', 'esdk: region of the KMS clients when the key ARN names none')
    .option('--esdk-aes-key-file <path>', 'esdk: raw AES wrapping key (16, 24 or 32 bytes, raw or base64)')
    .option('--esdk-key-name <name>', 'esdk: key name of the raw AES keyring')
    .option('--esdk-key-namespace <ns>', 'esdk: key namespace (provider id) of the raw AES keyring')
    .option('--esdk-context <k=v>', 'esdk: encryption context every message must carry (repeatable)', collect)
    .option('--json', 'print {keyring,from,store,dryRun,listed,seen,migrated,conflicts,failed,failedCount,resumed,completed}')
    .addHelpText('after', [
      '',
      'A record that is already a rekey envelope is skipped and counted. --from plaintext never',
      'guesses at other formats: a record that looks like an ESDK message or a rekey envelope is',
      'skipped and counted (esdk, undecidable), so nothing is wrapped twice. Each new envelope is',
      'decrypted and compared with the original before it replaces it, with a write conditional on',
      'the revision read: a record changed meanwhile is left to its writer (a conflict) and picked',
      'up by the next run. Progress is checkpointed per batch: rerun the same command to resume.',
      '',
    ].join('\n'))
    .action(async (name: string, o: MigrateCommandOptions, cmd: Command) => {
      const keyring = keyringArg(name, undefined, { required: true });
      if (o.from !== 'plaintext' && o.from !== 'esdk') throw new ValidationError('--from must be plaintext or esdk');
      const from: MigrationSource = o.from;
      const context = parseContext(o.context);
      const tuning = {
        ...(o.rate !== undefined ? { ratePerSecond: parsePositiveInt(o.rate, '--rate') } : {}),
        concurrency: o.concurrency !== undefined ? parsePositiveInt(o.concurrency, '--concurrency') : DEFAULTS.concurrency,
        batchSize: o.batch !== undefined ? parsePositiveInt(o.batch, '--batch') : DEFAULTS.batch,
      };
      const recordsKeyring = o.recordsKeyring ?? keyring;
      if (from === 'plaintext' && (o.esdkKmsKey !== undefined || o.esdkAesKeyFile !== undefined || o.esdkDiscoveryAccount !== undefined)) {
        throw new ValidationError('--esdk-* options go with --from esdk');
      }
      const decryptor = from === 'esdk' && o.dryRun !== true ? await esdkDecryptor(o) : undefined;
      await withLocal(cmd, async (rk) => {
        // Unknown keyring or no active version: refused before anything is read.
        await rk.provider.forEncrypt(keyring);
        const store = new RecordStoreMigrationStore({ records: rk.records, keyring: recordsKeyring });
        const stop = new AbortController();
        const onSigint = (): void => {
          stop.abort();
          process.stderr.write('\nrekey: stopping after the records in flight (the last full batch is checkpointed)\n');
        };
        process.once('SIGINT', onSigint);
        const progress = startProgress(`migrate ${keyring} from ${from}`);
        let report: MigrationReport;
        try {
          report = await migrateRecords({
            keyring,
            from,
            store,
            envelopes: rk.envelopes,
            // The dry run of an esdk migration only reads headers: it needs no decryptor.
            ...(decryptor === undefined ? {} : { decryptor }),
            checkpoint: rk.checkpoints,
            ...(context === undefined ? {} : { context }),
            ...(o.storeContext === true ? { storeContext: true } : {}),
            ...(o.dryRun === true ? { dryRun: true } : {}),
            ...(o.restart === true ? { restart: true } : {}),
            ...tuning,
            signal: stop.signal,
            onProgress: (p) => progress.update(p.listed),
          });
        } finally {
          process.off('SIGINT', onSigint);
          progress.finish();
        }
        if (!report.dryRun) {
          await rk.audit.record({
            at: rk.clock().toISOString(),
            actor: rk.actor,
            action: 'records.migrated',
            keyring,
            details: { from, store: report.store, migrated: report.migrated, conflicts: report.conflicts, failed: report.failedCount, alreadyRekey: report.seen.rekey, aborted: report.aborted },
          });
        }
        if (report.aborted) {
          throw new InterruptedError(`interrupted after migrating ${formatCount(report.migrated)} record(s); rerun 'rekey migrate ${keyring} --from ${from}' (with the same --home) to resume`);
        }
        if (o.json) await writeJson(reportView(report));
        else await writeStdout(summary(report));
        if (report.failedCount > 0) {
          throw new PartialFailureError(`${formatCount(report.failedCount)} record(s) could not be migrated and were left as they were ('--json' lists their ids and reasons); fix them and rerun`);
        }
      });
    });
}
