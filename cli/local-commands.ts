/**
 * The `rekey` commands in local mode: each opens the rekey home, does one thing, and closes it.
 * Commands print data to stdout and progress or notes to stderr, so pipes stay clean.
 */
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { parsePolicy, activeVersion } from '../shared/catalog';
import { ConflictError, ValidationError, NotFoundError } from '../shared/errors';
import { recordContext } from '../shared/reencrypt';
import type { SweepMode, SweepOptions, SweepResult } from '../shared/reencrypt';
import { openLocal, type LocalServices } from '../shared/compose/local/local-services';
import { collect, parseContext, parseInstant, parsePositiveInt } from './parse';
import { readInput, streamToFileAtomic, writeSecretFile, writeStdout } from './io';
import { keyringStatus, progressLine, renderStatus, type KeyringStatus } from './render';

/** Global options every local command sees. */
interface GlobalOptions {
  readonly home?: string;
  readonly now?: string;
}

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** Opens the home named by --home / REKEY_HOME, with the clock fixed by --now when given. */
async function withLocal<T>(cmd: Command, fn: (rk: LocalServices) => Promise<T>): Promise<T> {
  const g = globals(cmd);
  const fixed = g.now !== undefined ? parseInstant(g.now, '--now') : undefined;
  const rk = await openLocal({
    home: g.home ?? process.env.REKEY_HOME,
    redisUrl: process.env.REKEY_REDIS_URL,
    ...(fixed ? { clock: () => fixed } : {}),
  });
  try {
    return await fn(rk);
  } finally {
    await rk.close();
  }
}

/** Collects the status of the named keyring, or of all. */
export async function collectStatus(rk: LocalServices, keyring?: string): Promise<KeyringStatus[]> {
  const catalogs = keyring ? [await rk.keyrings.get(keyring)] : await rk.keyrings.list();
  const out: KeyringStatus[] = [];
  for (const c of catalogs) {
    out.push(keyringStatus(c, await rk.records.countByVersion(c.keyring), await rk.cacheStore.countByVersion(c.keyring)));
  }
  return out;
}

function json(data: unknown): Promise<void> {
  return writeStdout(`${JSON.stringify(data, null, 2)}\n`);
}

/**
 * The sweep's context resolver for `--context`: records put with an extra context that is not
 * stored in the envelope can only be decrypted (re-encrypted) when the operator supplies it.
 */
function contextForRecords(extra: Record<string, string> | undefined): Pick<SweepOptions, 'contextFor'> {
  if (extra === undefined) return {};
  return { contextFor: (record, info) => info.storedContext ?? (info.contextBound ? recordContext(record.id, extra) : undefined) };
}

/** Sweeps one version with a progress bar on stderr. */
export async function sweepWithProgress(rk: LocalServices, keyring: string, version: number, mode: SweepMode, opts: { rate?: number; concurrency?: number; batch?: number; quiet?: boolean; contextFor?: SweepOptions['contextFor'] }): Promise<SweepResult> {
  const tty = process.stderr.isTTY === true && opts.quiet !== true;
  let last = 0;
  const result = await rk.sweeper.sweep(keyring, version, {
    mode,
    checkpoint: rk.checkpoints,
    ...(opts.rate !== undefined ? { ratePerSecond: opts.rate } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.batch !== undefined ? { batchSize: opts.batch } : {}),
    ...(opts.contextFor !== undefined ? { contextFor: opts.contextFor } : {}),
    onProgress: (p) => {
      const now = Date.now();
      if (tty && now - last > 100) {
        last = now;
        process.stderr.write(`\r${progressLine(`sweep ${keyring} v${version}`, p.done + p.skipped + p.failed, p.total)}`);
      }
    },
  });
  if (tty) process.stderr.write(`\r${progressLine(`sweep ${keyring} v${version}`, result.done + result.skipped + result.failedCount, result.done + result.skipped + result.failedCount + result.remaining)}\n`);
  return result;
}

/** Registers every local-mode command on `program`. */
export function registerLocalCommands(program: Command): void {
  const keyring = program.command('keyring').description('create and list keyrings');
  keyring
    .command('create <name>')
    .description('create a keyring with version 1 active')
    .option('--rotate-every <duration>', 'rotate when the active version is this old (e.g. 90d)')
    .option('--grace <duration>', 'how long a superseded version stays fully usable (e.g. 7d)')
    .option('--propagation <duration>', 'how long a new version is announced before it encrypts (e.g. 10m)')
    .option('--retention <duration>', 'how long a disabled version is kept before destruction (e.g. 30d)')
    .action(async (name: string, o: { rotateEvery?: string; grace?: string; propagation?: string; retention?: string }, cmd: Command) => {
      const policy = parsePolicy({
        ...(o.rotateEvery !== undefined ? { rotateEvery: o.rotateEvery } : {}),
        ...(o.grace !== undefined ? { grace: o.grace } : {}),
        ...(o.propagation !== undefined ? { propagation: o.propagation } : {}),
        ...(o.retention !== undefined ? { retention: o.retention } : {}),
      });
      await withLocal(cmd, async (rk) => {
        const c = await rk.keyrings.createKeyring(name, policy, { actor: rk.actor, now: rk.clock() });
        process.stderr.write(`created keyring ${c.keyring} with version 1 active in ${rk.home}\n`);
      });
    });
  keyring
    .command('list')
    .description('list keyrings and their active version')
    .action(async (_o: unknown, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        for (const c of await rk.keyrings.list()) await writeStdout(`${c.keyring}\tactive v${activeVersion(c)?.version ?? '-'}\n`);
      });
    });

  program
    .command('encrypt')
    .description('encrypt stdin to stdout under the keyring\'s active version')
    .requiredOption('--keyring <name>', 'keyring to encrypt under')
    .option('--context <k=v>', 'caller context bound to the envelope (repeatable)', collect)
    .option('--store-context', 'also store the context in clear in the header')
    .option('--framed', 'stream in authenticated frames (for large inputs)')
    .option('--in <file>', 'read this file instead of stdin')
    .option('--out <file>', 'write this file (atomically) instead of stdout')
    .action(async (o: { keyring: string; context?: string[]; storeContext?: boolean; framed?: boolean; in?: string; out?: string }, cmd: Command) => {
      const context = parseContext(o.context);
      const opts = { ...(context ? { context } : {}), ...(o.storeContext ? { storeContext: true } : {}) };
      await withLocal(cmd, async (rk) => {
        if (o.framed) {
          const input = o.in ? createReadStream(o.in) : process.stdin;
          const stream = rk.envelopes.encryptStream(o.keyring, opts);
          if (o.out) return streamToFileAtomic(input, stream, o.out);
          const { pipeline } = await import('node:stream/promises');
          return pipeline(input, stream, process.stdout, { end: false });
        }
        const envelope = await rk.envelopes.encrypt(o.keyring, await readInput(o.in), opts);
        if (o.out) writeSecretFile(o.out, envelope);
        else await writeStdout(envelope);
      });
    });

  program
    .command('decrypt')
    .description('decrypt an envelope from stdin to stdout (nothing is printed unless all of it authenticates)')
    .option('--context <k=v>', 'the caller context the envelope was bound to (repeatable)', collect)
    .option('--in <file>', 'read this file instead of stdin')
    .option('--out <file>', 'stream the plaintext into this file, renamed into place only on success')
    .action(async (o: { context?: string[]; in?: string; out?: string }, cmd: Command) => {
      const context = parseContext(o.context);
      const opts = context ? { context } : {};
      await withLocal(cmd, async (rk) => {
        if (o.out) {
          return streamToFileAtomic(o.in ? createReadStream(o.in) : process.stdin, rk.envelopes.decryptStream(opts), o.out);
        }
        const { plaintext } = await rk.envelopes.decrypt(await readInput(o.in), opts);
        try {
          await writeStdout(plaintext);
        } finally {
          plaintext.fill(0);
        }
      });
    });

  program
    .command('inspect')
    .description('print an envelope\'s header as JSON (no key needed, no secret shown)')
    .option('--in <file>', 'read this file instead of stdin')
    .action(async (o: { in?: string }) => {
      const { inspectEnvelope } = await import('../shared/envelope');
      await json(inspectEnvelope(await readInput(o.in)));
    });

  program
    .command('rewrap')
    .description('move an envelope from stdin to another version key (header only) and write it to stdout')
    .option('--to-version <n>', 'target version (default: the keyring\'s active version)')
    .option('--in <file>', 'read this file instead of stdin')
    .option('--out <file>', 'write this new file instead of stdout')
    .action(async (o: { toVersion?: string; in?: string; out?: string }, cmd: Command) => {
      const toVersion = o.toVersion !== undefined ? parsePositiveInt(o.toVersion, '--to-version') : undefined;
      await withLocal(cmd, async (rk) => {
        const envelope = await rk.envelopes.rewrap(await readInput(o.in), toVersion !== undefined ? { toVersion } : {});
        if (o.out) writeSecretFile(o.out, envelope);
        else await writeStdout(envelope);
      });
    });

  program
    .command('rotate <keyring>')
    .description('add the next version as pending now (it becomes active after the propagation window, at a tick)')
    .option('--reason <text>', 'why', 'operator request')
    .action(async (name: string, o: { reason: string }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.rotate(name, { actor: rk.actor, reason: o.reason, now: rk.clock() });
        process.stderr.write(`${r.created ? 'created' : 'already pending:'} version ${r.pending.version} of ${name} (pending)\n`);
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
        const summary = await rk.keyrings.tick({ ...(o.keyring ? { keyring: o.keyring } : {}), now: at ?? rk.clock(), actor: rk.actor });
        if (o.json) return json(summary);
        for (const k of summary.keyrings) {
          const what = k.applied.map((t) => `${t.kind} v${t.version}`).join(', ') || (k.paused ? `paused (${k.paused})` : 'nothing due');
          await writeStdout(`${k.keyring}: ${k.error ? `failed: ${k.error.message}` : what}\n`);
        }
        if (summary.failed > 0) throw new ValidationError(`${summary.failed} keyring(s) failed to reconcile`);
      });
    });

  program
    .command('status [keyring]')
    .description('versions, states and how many records and cache entries each version holds')
    .option('--json', 'print as JSON')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const status = await collectStatus(rk, name);
        if (o.json) return json({ home: rk.home, cache: rk.cacheBackend, keyrings: status });
        await writeStdout(renderStatus(status));
      });
    });

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
    .action(async (name: string, o: { version?: string; mode?: string; rate?: string; concurrency?: string; batch?: string; context?: string[]; json?: boolean }, cmd: Command) => {
      if (o.mode !== undefined && o.mode !== 'rewrap' && o.mode !== 'reencrypt') throw new ValidationError('--mode must be rewrap or reencrypt');
      const tuning = {
        ...(o.rate !== undefined ? { rate: parsePositiveInt(o.rate, '--rate') } : {}),
        ...(o.concurrency !== undefined ? { concurrency: parsePositiveInt(o.concurrency, '--concurrency') } : {}),
        ...(o.batch !== undefined ? { batch: parsePositiveInt(o.batch, '--batch') } : {}),
        ...contextForRecords(parseContext(o.context)),
      };
      const only = o.version !== undefined ? parsePositiveInt(o.version, '--version') : undefined;
      await withLocal(cmd, async (rk) => {
        const catalog = await rk.keyrings.get(name);
        const targets = catalog.versions.filter((v) => (only !== undefined ? v.version === only : ['rotating', 'deprecated', 'revoked'].includes(v.state)));
        if (only !== undefined && targets.length === 0) throw new NotFoundError(`keyring '${name}' has no version ${only}`);
        const results: SweepResult[] = [];
        for (const v of targets) {
          const mode = (o.mode as SweepMode | undefined) ?? (v.state === 'revoked' ? 'reencrypt' : 'rewrap');
          results.push(await sweepWithProgress(rk, name, v.version, mode, tuning));
        }
        if (o.json) await json(results);
        else {
          for (const r of results) {
            await writeStdout(`v${r.version} ${r.mode}: done ${r.done}, skipped ${r.skipped}, failed ${r.failedCount}, remaining ${r.remaining}${r.alreadyComplete ? ' (already complete)' : ''}\n`);
          }
        }
        if (results.some((r) => r.failedCount > 0)) throw new ValidationError('some records failed; see the counts above and rerun to resume');
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
        const r = await rk.revocation.revoke(name, version, { reason: o.reason, actor: rk.actor, ...(sweep.contextFor ? { sweep } : {}) });
        if (o.json) await json(r);
        else {
          await writeStdout(
            `revoked ${name} v${r.version}; active is now v${r.activeVersion ?? '?'}; cache entries purged: ${r.cacheEntriesPurged}; ` +
              `re-encrypted: ${r.sweep?.done ?? 0}; remaining: ${r.remaining}; v${r.version} is ${r.state}${r.complete ? '' : ' (rerun to finish)'}\n`,
          );
        }
        // The version is refused to readers already; scripts still need to know the data is not all moved.
        if (r.remaining > 0) throw new ConflictError(`revocation of ${name} v${r.version} is not complete: ${r.remaining} record(s) remain; rerun (with --context if they need one)`);
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

  const records = program.command('records').description('the local record store (records encrypted by rekey)');
  records
    .command('put <id>')
    .description('encrypt stdin as record ID')
    .requiredOption('--keyring <name>', 'keyring to encrypt under')
    .option('--context <k=v>', 'extra caller context (the record id is always bound)', collect)
    .option('--store-context', 'store the context in clear, so an emergency re-encryption can supply it')
    .action(async (id: string, o: { keyring: string; context?: string[]; storeContext?: boolean }, cmd: Command) => {
      const context = parseContext(o.context);
      await withLocal(cmd, async (rk) => {
        await rk.recordService.put(id, o.keyring, await readInput(), { ...(context ? { context } : {}), ...(o.storeContext ? { storeContext: true } : {}) });
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

  const cache = program.command('cache').description('the encrypted cache');
  cache
    .command('stats [keyring]')
    .description('cache entries per version (the in-process cache is per process: set REKEY_REDIS_URL to share one)')
    .option('--json', 'print as JSON')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const names = name ? [name] : (await rk.keyrings.list()).map((c) => c.keyring);
        const stats: Record<string, Record<string, number>> = {};
        for (const n of names) stats[n] = Object.fromEntries([...(await rk.cacheStore.countByVersion(n))].map(([v, c]) => [`v${v}`, c]));
        if (o.json) return json({ backend: rk.cacheBackend, keyrings: stats });
        await writeStdout(`cache backend: ${rk.cacheBackend}\n`);
        for (const [n, s] of Object.entries(stats)) await writeStdout(`${n}: ${Object.entries(s).map(([v, c]) => `${v}=${c}`).join(' ') || 'no entries'}\n`);
      });
    });

  const escrow = program.command('escrow').description('backup key escrow');
  escrow
    .command('archive [keyring]')
    .description('archive every version that has no escrow record yet')
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const catalogs = name ? [await rk.keyrings.get(name)] : await rk.keyrings.list();
        for (const c of catalogs) {
          for (const v of c.versions.filter((x) => x.state !== 'destroyed')) {
            const r = await rk.escrow.archive(c.keyring, v.version);
            if (r.created) await rk.keyrings.recordEscrow(c.keyring, v.version, { escrowedAt: rk.clock(), actor: rk.actor });
            await writeStdout(`${c.keyring} v${v.version}: ${r.created ? 'archived' : 'already archived'}\n`);
          }
        }
      });
    });
  escrow
    .command('verify [keyring]')
    .description('restore drill: restore every escrowed version from escrow alone and decrypt its canary')
    .option('--json', 'print the report as JSON')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const report = await rk.escrow.verify(name);
        for (const r of report.results.filter((x) => x.ok)) {
          await rk.keyrings.recordEscrow(r.keyring, r.version, { verifiedAt: new Date(report.checkedAt), actor: rk.actor });
        }
        if (o.json) await json(report);
        else for (const r of report.results) await writeStdout(`${r.keyring} v${r.version}: ${r.ok ? 'ok' : `FAILED (${r.reason ?? 'unknown'})`}\n`);
        if (!report.ok) throw new ValidationError('escrow drill failed for at least one version');
      });
    });
  escrow
    .command('restore <keyring>')
    .description('recover a version key from escrow alone, into a new owner-only file (for backup recovery)')
    .requiredOption('--version <n>', 'which version')
    .requiredOption('--out <file>', 'new file to write the 32-byte key to (mode 0600, never overwritten)')
    .action(async (name: string, o: { version: string; out: string }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      await withLocal(cmd, async (rk) => {
        const key = await rk.escrow.restore(name, version);
        try {
          writeSecretFile(o.out, key);
        } finally {
          key.fill(0);
        }
        process.stderr.write(`restored ${name} v${version} from escrow into ${o.out}\n`);
      });
    });

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
