/**
 * `rekey encrypt | decrypt | inspect | rewrap` (local mode): one envelope at a time, of any size.
 * `-` means stdin for `--in` and stdout for `--out`. `inspect` and a `rewrap` of a file read only
 * the envelope's head (a few KiB), whatever its size; framed `decrypt` to stdout streams.
 */
import { open } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { collect, parseContext, parsePositiveInt } from '../parse';
import {
  inputStream,
  isStdio,
  readEnvelopeHeadFile,
  readEnvelopeHeadStream,
  readInput,
  readOneShotPlaintext,
  streamToFileAtomic,
  streamToStdout,
  writeJson,
  writeSecretFile,
  writeStdout,
} from '../io';
import { withLocal } from '../local-context';
import { keyringArg } from '../keyring-arg';
import { FILES_SOURCE } from '../../shared/catalog/sources';
import { checkEnvelopeHead } from '../../shared/envelope/envelope-head';
import { inspectEnvelopeHead } from '../../shared/envelope/inspect-envelope';
import { envelopeBody } from '../envelope-body';

/**
 * The input of a framed `encrypt`: stdin, or the file opened now, so a missing or unreadable
 * file fails before anything is changed or written.
 */
async function openInput(path: string | undefined): Promise<Readable> {
  if (isStdio(path)) return process.stdin;
  const handle = await open(path, 'r');
  return handle.createReadStream();
}

/**
 * What `encrypt --help` says about the files it makes: they live outside rekey's record store,
 * so rekey cannot re-wrap them itself.
 */
export const ENCRYPT_PROTECTION_HELP = [
  '',
  'How such files stay readable: an envelope written by encrypt lives outside',
  'rekey\'s record store, so rekey cannot count or sweep it; the keyring is marked',
  'as having unmanaged "files" data. After a rotation the old version is disabled',
  'once its grace period has passed and its key has gone unused for the quiet',
  'period (at least 7d); such files then fail to decrypt until \'rekey reenable\'.',
  'Re-wrap them with \'rekey rewrap\' before then (header only, seconds for any',
  'size). \'rekey status\' says the same for the keyring.',
  '',
  '--in - and --out - mean stdin and stdout (the default). One-shot input is at',
  'most 64 MiB; larger input needs --framed (refused before anything is read).',
].join('\n');

/** Options of `encrypt`. */
interface EncryptOptions {
  readonly keyring?: string;
  readonly context?: string[];
  readonly storeContext?: boolean;
  readonly framed?: boolean;
  readonly in?: string;
  readonly out?: string;
}

/** Registers the envelope commands on `program`. */
export function registerEnvelopeCommands(program: Command): void {
  program
    .command('encrypt [keyring]')
    .description('encrypt stdin to stdout under the keyring\'s active version')
    .option('--keyring <name>', 'keyring to encrypt under (same as the positional KEYRING)')
    .option('--context <k=v>', 'caller context bound to the envelope (repeatable)', collect)
    .option('--store-context', 'also store the context in clear in the header')
    .option('--framed', 'stream in authenticated frames (for large inputs)')
    .option('--in <file>', 'read this file instead of stdin (- for stdin)')
    .option('--out <file>', 'write this file (atomically) instead of stdout (- for stdout)')
    .addHelpText('after', ENCRYPT_PROTECTION_HELP)
    .action(async (positional: string | undefined, o: EncryptOptions, cmd: Command) => {
      const keyring = keyringArg(positional, o.keyring, { required: true });
      const context = parseContext(o.context);
      const opts = { ...(context ? { context } : {}), ...(o.storeContext ? { storeContext: true } : {}) };
      await withLocal(cmd, async (rk) => {
        // The envelope leaves rekey's record store (a file, a pipe): the keyring must never be
        // disabled on record counts alone. One conditional catalog write the first time, none
        // after; made once the input is known to be there (and, one-shot, within the limit), so a
        // missing or oversized input leaves the keyring as it was.
        const declareFiles = (): Promise<unknown> => rk.keyrings.updateSources(keyring, [FILES_SOURCE], { mode: 'add', actor: rk.actor, now: rk.clock() });
        if (o.framed) {
          const input = await openInput(o.in);
          try {
            await declareFiles();
          } catch (err) {
            if (input !== process.stdin) input.destroy();
            throw err;
          }
          const stream = rk.envelopes.encryptStream(keyring, opts);
          if (!isStdio(o.out)) return streamToFileAtomic(input, stream, o.out);
          return pipeline(input, stream, process.stdout, { end: false });
        }
        const plaintext = await readOneShotPlaintext(o.in);
        let envelope: Buffer;
        try {
          await declareFiles();
          envelope = await rk.envelopes.encrypt(keyring, plaintext, opts);
        } finally {
          plaintext.fill(0);
        }
        if (!isStdio(o.out)) writeSecretFile(o.out, envelope);
        else await writeStdout(envelope);
      });
    });

  program
    .command('decrypt')
    .description('decrypt an envelope from stdin to stdout')
    .option('--context <k=v>', 'the caller context the envelope was bound to (repeatable)', collect)
    .option('--in <file>', 'read this file instead of stdin (- for stdin)')
    .option('--out <file>', 'stream the plaintext into this file, linked into place only on success (- for stdout)')
    .addHelpText('after', [
      '',
      'To stdout, a one-shot envelope prints nothing unless all of it authenticates. A framed one',
      'streams in bounded memory: each frame is authenticated before it is written, so a damaged',
      'or truncated later frame stops the output with an error line (exit 3) after the earlier',
      'frames were written. --out FILE is the atomic way: the file appears only when every frame',
      'authenticated.',
      '',
    ].join('\n'))
    .action(async (o: { context?: string[]; in?: string; out?: string }, cmd: Command) => {
      const context = parseContext(o.context);
      const opts = context ? { context } : {};
      await withLocal(cmd, async (rk) => {
        const stream = rk.envelopes.decryptStream(opts);
        if (!isStdio(o.out)) return streamToFileAtomic(inputStream(o.in), stream, o.out);
        const feeding = pipeline(inputStream(o.in), stream);
        // Its failure is the stream's too, which the loop below throws; this keeps it from being unhandled.
        feeding.catch(() => undefined);
        await streamToStdout(stream as AsyncIterable<Buffer>);
        await feeding;
      });
    });

  program
    .command('inspect')
    .description('print an envelope\'s header as JSON (no key needed, no secret shown)')
    .option('--in <file>', 'read this file instead of stdin (- for stdin); only its head is read, whatever its size')
    .action(async (o: { in?: string }) => {
      const head = isStdio(o.in) ? await readEnvelopeHeadStream(process.stdin) : readEnvelopeHeadFile(o.in);
      await writeJson(inspectEnvelopeHead(head));
    });

  program
    .command('rewrap')
    .description('move an envelope from stdin to the keyring\'s active version (header only) and write it to stdout; a revoked version is refused: re-encrypt its data')
    .option('--to-version <n>', 'expected target version: must be the keyring\'s active version, else nothing is written')
    .option('--in <file>', 'read this file instead of stdin (- for stdin); from a file only the header is read, then the body is copied unchanged')
    .option('--out <file>', 'write this new file instead of stdout (- for stdout)')
    .action(async (o: { toVersion?: string; in?: string; out?: string }, cmd: Command) => {
      const toVersion = o.toVersion !== undefined ? parsePositiveInt(o.toVersion, '--to-version') : undefined;
      const opts = toVersion !== undefined ? { toVersion } : {};
      await withLocal(cmd, async (rk) => {
        if (isStdio(o.in)) {
          const envelope = await rk.envelopes.rewrap(await readInput(o.in), opts);
          if (!isStdio(o.out)) writeSecretFile(o.out, envelope);
          else await writeStdout(envelope);
          return;
        }
        // Header only: the new header, then the body streamed unchanged from the file.
        const head = readEnvelopeHeadFile(o.in);
        checkEnvelopeHead(head);
        const { header } = await rk.envelopes.rewrapHeader(head.header, opts);
        const whole = Readable.from(prepend(header, envelopeBody(o.in, head.header.length, head.totalLength)));
        if (!isStdio(o.out)) return streamToFileAtomic(whole, new PassThrough(), o.out);
        await streamToStdout(whole);
      });
    });
}

async function* prepend(first: Buffer, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield first;
  for await (const chunk of rest) yield chunk;
}
