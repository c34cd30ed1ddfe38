/**
 * A throw-away rekey home for one test, with the CLI bound to it, a fixed clock, and the
 * assertions every CLI test repeats (success, a one-line failure, an unchanged state).
 */
import { readFileSync, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { runCli, type CliResult, type CliRunOptions } from './cli-harness';

/** The instant every test starts from (a fixed clock keeps lifecycle decisions deterministic). */
export const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const MINUTE = 60_000;

/** ISO time `days` days and `minutes` minutes after {@link T0}. */
export function at(days: number, minutes = 0): string {
  return new Date(T0 + days * DAY + minutes * MINUTE).toISOString();
}

/** A rekey home in a fresh temporary folder. */
export class TestHome {
  public readonly dir: string;

  public constructor(prefix = 'rekey-cli-') {
    this.dir = scratchDir(prefix);
  }

  /** Path of a file inside a scratch folder beside the home (not inside it). */
  public path(name: string): string {
    return join(this.dir, '..', `${this.dir.split('/').pop() ?? 'x'}-${name}`);
  }

  /** Runs `rekey --home <dir> [--now <time>] <args>`. */
  public run(args: readonly string[], options: CliRunOptions & { now?: string } = {}): Promise<CliResult> {
    const now = options.now === undefined ? [] : ['--now', options.now];
    return runCli(['--home', this.dir, ...now, ...args], options);
  }

  /** Runs a command that must succeed; fails the test with its stderr otherwise. */
  public async ok(args: readonly string[], options: CliRunOptions & { now?: string } = {}): Promise<CliResult> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`rekey ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  }

  /** Parses the stdout of a successful command as JSON. */
  public async json<T = unknown>(args: readonly string[], options: CliRunOptions & { now?: string } = {}): Promise<T> {
    return JSON.parse((await this.ok(args, options)).stdout.toString('utf8')) as T;
  }

  /**
   * Everything a command could change: the status of every keyring, the audit trail, and the
   * names of the files in the home (escrow records, key files).
   */
  public async snapshot(): Promise<string> {
    const status = existsSync(join(this.dir, 'catalog.db')) ? (await this.ok(['status', '--json'])).stdout.toString('utf8') : '';
    const auditPath = join(this.dir, 'audit.jsonl');
    const audit = existsSync(auditPath) ? readFileSync(auditPath, 'utf8') : '';
    return JSON.stringify({ status, audit, files: listFiles(this.dir, this.dir) });
  }

  /** The audit trail as parsed events. */
  public auditEvents(): Array<Record<string, unknown>> {
    const p = join(this.dir, 'audit.jsonl');
    if (!existsSync(p)) return [];
    return readFileSync(p, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Removes the home and the scratch files beside it. */
  public remove(): void {
    const parent = join(this.dir, '..');
    const base = this.dir.split('/').pop() ?? '';
    for (const name of readdirSync(parent)) {
      if (base.length > 0 && name.startsWith(`${base}-`)) rmSync(join(parent, name), { recursive: true, force: true });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function listFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(root, full));
    else if (!/\.db-(wal|shm|journal)$/.test(name)) out.push(relative(root, full));
  }
  return out;
}

/**
 * Asserts the CLI's failure contract: the given exit code, nothing on stdout, and exactly one
 * line on stderr starting with `rekey:`. A command that failed after it had changed something
 * (a partial failure, exit 7) names the system it acted on in one line before that reason: that
 * line is allowed, and nothing else.
 */
export function expectFailure(r: CliResult, exitCode: number, pattern?: RegExp): void {
  const all = r.stderr.split('\n');
  const lines = all.length === 3 && /^rekey: acted on (local home|stack) /.test(all[0] ?? '') ? all.slice(1) : all;
  expect({ code: r.code, stdout: r.stdout.length, lines: lines.length, last: lines[1] }).toEqual({ code: exitCode, stdout: 0, lines: 2, last: '' });
  expect(lines[0]).toMatch(/^(rekey: |error: )/);
  if (pattern) expect(lines[0]).toMatch(pattern);
}
