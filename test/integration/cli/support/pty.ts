/**
 * Runs the real launcher (`node bin/rekey.js`) under a pseudo-terminal of a given width, through
 * util-linux `script -qfec`, so tests see what an operator's terminal gets: stderr and stdout
 * both on the terminal (merged, as on screen), `isTTY` true and `columns` set by `stty cols`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './cli-harness';

/** What a run under the pseudo-terminal wrote to the terminal. */
export interface PtyResult {
  readonly code: number;
  /** Everything written to the terminal (stdout and stderr), with `\r` and escapes as sent. */
  readonly screen: string;
}

/** Options of {@link runInPty}. */
export interface PtyOptions {
  /** Terminal width. */
  readonly columns: number;
  /** Environment variables for the run (undefined removes one). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** True when util-linux `script` is installed (the pseudo-terminal tests need it). */
export function hasScript(): boolean {
  return spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `rekey <argv>` on a pseudo-terminal `columns` wide and resolves with its exit code and
 * what it drew.
 *
 * @example
 * const r = await runInPty(['--home', dir, 'sweep', 'pii'], { columns: 40 });
 */
export function runInPty(argv: readonly string[], options: PtyOptions): Promise<PtyResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, REKEY_HOME: undefined, REKEY_REDIS_URL: undefined, REKEY_DEBUG: undefined, TERM: 'xterm' };
  for (const [k, v] of Object.entries(options.env ?? {})) env[k] = v;
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const command = [
    `stty cols ${options.columns} rows 24`,
    [process.execPath, join(REPO_ROOT, 'bin', 'rekey.js'), ...argv].map(shellQuote).join(' '),
  ].join('; ');
  return new Promise((resolve, reject) => {
    // -e: script exits with the command's code; -f: flush as written; -q: no banner.
    const child: ChildProcess = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, screen: Buffer.concat(out).toString('utf8') }));
    child.stdin?.end();
  });
}

/**
 * The lines a terminal would show for each redraw: splits on `\r` and `\n` and strips colour and
 * erase escapes, so a test can measure each drawn line's width.
 */
export function drawnLines(screen: string): string[] {
  // eslint-disable-next-line no-control-regex
  const plain = screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  return plain.split(/\r\n|\r|\n/).filter((l) => l.length > 0);
}
