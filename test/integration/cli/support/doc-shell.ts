/**
 * Reads the shell examples of a Markdown document as steps a test can run: `rekey ...` lines run
 * in-process through the CLI (with `PRODUCER |`, `< FILE` and `> FILE` honoured), the few shell
 * lines a tour needs to make its input (`mkdir`, `printf`, `echo`) run in bash, and lines that
 * only move the reader somewhere (`cd`, `alias`) are left to the test, which works in a fresh
 * folder of its own.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { runCli, type CliResult } from './cli-harness';

/** One line of a document's shell example, read for a test. */
export interface DocStep {
  /** The line as written (trimmed). */
  readonly text: string;
  /** `rekey`: run through the CLI; `shell`: run in bash; `skip`: left to the test (`cd`, `alias`). */
  readonly kind: 'rekey' | 'shell' | 'skip';
  /** The CLI's argv (without `rekey`), for `rekey` steps. */
  readonly argv: readonly string[];
  /** The exit code the line's comment documents (`# exits 5`), 0 when it names none. */
  readonly exitCode: number;
  /** A shell command whose output is the line's stdin (`printf 'x' | rekey ...`). */
  readonly stdinCommand?: string;
  /** The file the line reads as stdin (`< FILE`). */
  readonly stdinFile?: string;
  /** The file the line writes its stdout to (`> FILE`). */
  readonly stdoutFile?: string;
}

/** Shell commands a documented tour may use to make its own input; anything else fails the test. */
const SHELL_ALLOWED = /^(mkdir|printf|echo) /;
const SKIPPED = /^(cd|alias) /;

/** Splits a command line into words, honouring single and double quotes (no other shell syntax). */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

/** The text of every fenced block of the given language (```sh by default), in order. */
export function fencedBlocks(markdown: string, lang = 'sh'): string[] {
  return [...markdown.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] ?? '');
}

/** The part of a document from a heading to the next heading of the same or a higher level. */
export function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`no heading '${heading}'`);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const rest = markdown.slice(start + heading.length);
  const next = rest.search(new RegExp(`\\n#{1,${level}} `));
  return heading + (next < 0 ? rest : rest.slice(0, next));
}

/** Reads one line of a shell block; null for blank lines and comments. */
export function docStep(raw: string): DocStep | null {
  const text = raw.trim();
  if (text.length === 0 || text.startsWith('#')) return null;
  const [command = '', comment = ''] = text.split(/\s+#\s*/, 2);
  const exits = /(?:^|;\s*)exits (\d+)/.exec(comment);
  const exitCode = exits ? Number(exits[1]) : 0;
  if (SKIPPED.test(command)) return { text, kind: 'skip', argv: [], exitCode };
  const piped = /^(.*?)\s+\|\s+(rekey .*)$/.exec(command);
  const rekeyPart = piped ? (piped[2] ?? '') : command;
  if (!rekeyPart.startsWith('rekey ')) {
    if (!SHELL_ALLOWED.test(command)) throw new Error(`the example uses a shell command the test cannot run: ${text}`);
    return { text, kind: 'shell', argv: [], exitCode };
  }
  const words = shellWords(rekeyPart).slice(1);
  const argv: string[] = [];
  let stdinFile: string | undefined;
  let stdoutFile: string | undefined;
  for (let i = 0; i < words.length; i += 1) {
    const w = words[i] ?? '';
    if (w === '<') stdinFile = words[(i += 1)];
    else if (w === '>') stdoutFile = words[(i += 1)];
    else argv.push(w);
  }
  return {
    text,
    kind: 'rekey',
    argv,
    exitCode,
    ...(piped ? { stdinCommand: piped[1] ?? '' } : {}),
    ...(stdinFile === undefined ? {} : { stdinFile }),
    ...(stdoutFile === undefined ? {} : { stdoutFile }),
  };
}

/** Every step of the given blocks, in order. */
export function docSteps(blocks: readonly string[]): DocStep[] {
  return blocks.flatMap((b) => b.split('\n').map(docStep).filter((s): s is DocStep => s !== null));
}

/**
 * Runs one step in folder `cwd` (the CLI runs in-process with its working directory there, so
 * relative paths and the default home `./.rekey` land in it). Shell steps throw when they fail.
 */
export async function runDocStep(step: DocStep, cwd: string, env: Readonly<Record<string, string | undefined>> = {}): Promise<CliResult> {
  if (step.kind === 'skip') return { code: 0, stdout: Buffer.alloc(0), stderr: '' };
  if (step.kind === 'shell') {
    const stdout = execFileSync('bash', ['-c', step.text], { cwd });
    return { code: 0, stdout, stderr: '' };
  }
  const inside = (p: string): string => (isAbsolute(p) ? p : join(cwd, p));
  const stdin =
    step.stdinCommand !== undefined
      ? execFileSync('bash', ['-c', step.stdinCommand], { cwd })
      : step.stdinFile !== undefined
        ? readFileSync(inside(step.stdinFile))
        : Buffer.alloc(0);
  const saved = process.cwd();
  process.chdir(cwd);
  try {
    const r = await runCli(step.argv, { stdin, env });
    if (step.stdoutFile !== undefined) writeFileSync(inside(step.stdoutFile), r.stdout);
    return r;
  } finally {
    process.chdir(saved);
  }
}

/** Finds the command an argv names in a commander tree and lists the --options it does not have. */
export function resolveCommand(program: Command, argv: readonly string[]): { path: string[]; unknownOptions: string[] } {
  let cmd = program;
  const path: string[] = [];
  const known = new Set(program.options.map((o) => o.long));
  const unknownOptions: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('--')) {
      if (!known.has(arg)) unknownOptions.push(arg);
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === arg);
    if (sub) {
      cmd = sub;
      path.push(arg);
      for (const o of sub.options) known.add(o.long);
    }
  }
  return { path, unknownOptions };
}

/** A text with Markdown quoting and line wrapping undone, for comparing prose with CLI output. */
export function flatText(text: string): string {
  return text
    .split('\n')
    .map((l) => l.replace(/^\s*>\s?/, '').trim())
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}
