/** `rekey encrypt | decrypt | inspect | rewrap` (local mode): one envelope at a time. */
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { collect, parseContext, parsePositiveInt } from '../parse';
import { readInput, streamToFileAtomic, writeJson, writeSecretFile, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { FILES_SOURCE } from '../../shared/catalog/sources';

/** Options of `encrypt`. */
interface EncryptOptions {
  readonly keyring: string;
  readonly context?: string[];
  readonly storeContext?: boolean;
  readonly framed?: boolean;
  readonly in?: string;
  readonly out?: string;
}

/** Registers the envelope commands on `program`. */
export function registerEnvelopeCommands(program: Command): void {
  program
    .command('encrypt')
    .description('encrypt stdin to stdout under the keyring\'s active version')
    .requiredOption('--keyring <name>', 'keyring to encrypt under')
    .option('--context <k=v>', 'caller context bound to the envelope (repeatable)', collect)
    .option('--store-context', 'also store the context in clear in the header')
    .option('--framed', 'stream in authenticated frames (for large inputs)')
    .option('--in <file>', 'read this file instead of stdin')
    .option('--out <file>', 'write this file (atomically) instead of stdout')
    .action(async (o: EncryptOptions, cmd: Command) => {
      const context = parseContext(o.context);
      const opts = { ...(context ? { context } : {}), ...(o.storeContext ? { storeContext: true } : {}) };
      await withLocal(cmd, async (rk) => {
        // The envelope leaves rekey's record store (a file, a pipe): the keyring must never be
        // disabled on record counts alone. One conditional catalog write the first time, none after.
        await rk.keyrings.updateSources(o.keyring, [FILES_SOURCE], { mode: 'add', actor: rk.actor, now: rk.clock() });
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
      const { inspectEnvelope } = await import('../../shared/envelope');
      await writeJson(inspectEnvelope(await readInput(o.in)));
    });

  program
    .command('rewrap')
    .description('move an envelope from stdin to the keyring\'s active version (header only) and write it to stdout; a revoked version is refused: re-encrypt its data')
    .option('--to-version <n>', 'expected target version: must be the keyring\'s active version, else nothing is written')
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
}
