/**
 * Runs the `rekey` CLI for tests: in-process through `run(argv)` with the process's standard
 * streams swapped for capturing ones, or as a real child process through the launcher.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { run } from '../../../../cli/main';

/** What one CLI run produced. */
export interface CliResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Options of {@link runCli} and {@link spawnCli}. */
export interface CliRunOptions {
  /** Bytes fed to stdin (empty input when absent). */
  readonly stdin?: Buffer;
  /** Environment variables set for the run (undefined removes one). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Makes the captured stderr claim to be a terminal (progress bars are drawn only then). */
  readonly stderrIsTTY?: boolean;
  /** Options of `run` itself (AWS-mode tests pass an opener pointed at moto). */
  readonly runOptions?: Parameters<typeof run>[1];
}

const STDIN_CHUNK = 64 * 1024;

function capture(sink: Buffer[], isTTY: boolean): Writable {
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      sink.push(Buffer.isBuffer(chunk) ? Buffer.from(chunk) : Buffer.from(chunk));
      done();
    },
  });
  Object.assign(stream, { isTTY, columns: 120 });
  return stream;
}

function swapEnv(env: Readonly<Record<string, string | undefined>>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(env)) {
    saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

let running = false;

/**
 * Runs `rekey <argv>` in this process and returns its exit code and captured output.
 * stdout is captured as bytes, stderr as text, stdin is fed from `options.stdin` in 64 KiB
 * chunks (like a pipe); every swapped stream and variable is restored afterwards.
 */
export async function runCli(argv: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  if (running) throw new Error('runCli calls must not overlap: they swap process-wide streams');
  running = true;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const input = options.stdin ?? Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += STDIN_CHUNK) chunks.push(input.subarray(i, i + STDIN_CHUNK));
  const fakes = {
    stdin: Readable.from(chunks),
    stdout: capture(out, false),
    stderr: capture(err, options.stderrIsTTY === true),
  };
  const saved = (['stdin', 'stdout', 'stderr'] as const).map((name) => [name, Object.getOwnPropertyDescriptor(process, name)] as const);
  for (const [name] of saved) {
    Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => fakes[name] });
  }
  const restoreEnv = swapEnv({ REKEY_HOME: undefined, REKEY_REDIS_URL: undefined, REKEY_DEBUG: undefined, ...(options.env ?? {}) });
  try {
    const code = await run(argv, options.runOptions);
    return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
  } finally {
    restoreEnv();
    for (const [name, descriptor] of saved) {
      if (descriptor !== undefined) Object.defineProperty(process, name, descriptor);
    }
    running = false;
  }
}

/** The repository root (where bin/rekey.js lives). */
export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');

/**
 * Runs the real launcher `node bin/rekey.js <argv>` as a child process, piping `stdin` into it.
 * Costs about two seconds (ts-node start-up), so only the few tests about the process boundary
 * use it.
 */
export function spawnCli(argv: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, REKEY_HOME: undefined, REKEY_REDIS_URL: undefined, REKEY_DEBUG: undefined };
    for (const [k, v] of Object.entries(options.env ?? {})) env[k] = v;
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'rekey.js'), ...argv], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? Buffer.alloc(0));
  });
}
