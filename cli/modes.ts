/**
 * Which system a command line means, and whether its command and flags belong to that mode.
 * `--aws` counts wherever it stands (before `--`): dropping it would act on a local home while the
 * operator believes the stack was changed. A command or flag of the other mode is refused before
 * anything runs, with what to do instead, never ignored.
 */
import type { Command, Option } from 'commander';
import { ValidationError } from '../shared/errors';

/** Local mode (a rekey home) or AWS mode (a deployed stack). */
export type Mode = 'local' | 'aws';

/**
 * The mode `argv` asks for and the arguments without `--aws`.
 *
 * @example
 * splitMode(['rotate', 'pii', '--aws']); // { mode: 'aws', argv: ['rotate', 'pii'] }
 */
export function splitMode(argv: readonly string[]): { mode: Mode; argv: string[] } {
  const end = argv.indexOf('--');
  const head = end === -1 ? argv : argv.slice(0, end);
  const tail = end === -1 ? [] : argv.slice(end);
  const rest = head.filter((a) => a !== '--aws');
  return { mode: rest.length < head.length ? 'aws' : 'local', argv: [...rest, ...tail] };
}

/** Why a local command has no AWS-mode counterpart, and what to do instead (by path prefix). */
const LOCAL_ONLY: ReadonlyArray<readonly [string, string]> = [
  ['migrate', 'an application team migrates its S3 data with migrateRecords (rekey-kms/migrate) under its own credentials; drop --aws to migrate a local home'],
  ['keyring', "a stack's keyrings are declared in its cdk.json (keyrings) and deployed with cdk deploy"],
  ['encrypt', 'applications encrypt with the rekey library against the stack; drop --aws to use a local home'],
  ['decrypt', 'applications decrypt with the rekey library against the stack; drop --aws to use a local home'],
  ['inspect', 'an envelope header is read the same in both modes: drop --aws'],
  ['rewrap', "a stack's records are re-wrapped by its functions; drop --aws to re-wrap with a local home"],
  ['records', "a stack's records live in its record buckets; drop --aws to use a local home's records"],
  ['sweep', 'a stack sweeps in its own functions (a revocation starts it); drop --aws to sweep a local home'],
  ['tick', "a stack's rotate function ticks on its schedule; use 'rekey --aws rotate KEYRING' to rotate now"],
  ['cache', "a stack's cache is reached only by its functions; drop --aws to inspect a local home's cache"],
  ['audit', "a stack's audit events go to its event bus (and CloudTrail): read them there"],
  ['escrow archive', "a stack archives on its own schedule; 'rekey --aws escrow verify' archives what is missing first"],
];

/** Flags whose refusal says more than the generic line. */
const FLAG_HINTS: Readonly<Record<string, string>> = {
  '--home': 'drop --aws to use a local home',
  '--now': 'a stack runs on real time: drop --aws to simulate time on a local home',
  '--stack': 'add --aws to drive a deployed stack',
  '--region': 'add --aws to drive a deployed stack',
  '--endpoint': 'add --aws to drive a deployed stack',
};

/** The command reached by `argv` in `root` and the names leading to it. */
interface Resolved {
  readonly path: string[];
  readonly node: Command;
  /** The option tokens met on the way (name only, `--x=1` as `--x`). */
  readonly flags: string[];
}

function optionsOf(chain: readonly Command[]): Option[] {
  return chain.flatMap((c) => c.options as Option[]);
}

function findOption(chain: readonly Command[], name: string): Option | undefined {
  return optionsOf(chain).find((o) => o.long === name || o.short === name);
}

/**
 * Walks `argv` down `root`'s subcommands as commander will, skipping option values. An option
 * of the other mode (`--home X` in AWS mode) is looked up in `other` so its value is skipped too.
 */
function resolve(root: Command, argv: readonly string[], other: Command): Resolved {
  const chain: Command[] = [root];
  const otherChain: Command[] = [other];
  const path: string[] = [];
  const flags: string[] = [];
  let descending = true;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') break;
    if (token.startsWith('-') && token.length > 1) {
      const name = token.split('=')[0] ?? token;
      flags.push(name);
      const option = findOption(chain, name) ?? findOption(otherChain, name);
      if (option !== undefined && (option.required || option.optional) && !token.includes('=')) i++;
      continue;
    }
    if (!descending) continue;
    const sub = subcommand(chain[chain.length - 1] as Command, token);
    if (sub === undefined) {
      // The rest are the command's arguments (or an unknown command commander will name).
      descending = false;
      continue;
    }
    chain.push(sub);
    const otherSub = subcommand(otherChain[otherChain.length - 1] as Command, token);
    if (otherSub !== undefined && otherChain.length === chain.length - 1) otherChain.push(otherSub);
    path.push(token);
  }
  return { path, node: chain[chain.length - 1] as Command, flags };
}

function subcommand(parent: Command, name: string): Command | undefined {
  return parent.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/**
 * Whether `argv` asks for the version (`rekey --version`, `rekey -V`): only before a command,
 * where `--version` is not a command's own option (`revoke --version 3`).
 */
export function wantsVersion(argv: readonly string[], root: Command): boolean {
  const first = argv.findIndex((a) => !a.startsWith('-'));
  const head = first === -1 ? argv : argv.slice(0, first);
  return (head.includes('--version') || head.includes('-V')) && subcommand(root, argv[first] ?? '') === undefined;
}

function chainOf(root: Command, path: readonly string[]): Command[] {
  const chain = [root];
  for (const name of path) {
    const next = (chain[chain.length - 1] as Command).commands.find((c) => c.name() === name);
    if (next === undefined) break;
    chain.push(next);
  }
  return chain;
}

const ALWAYS_KNOWN = new Set(['-h', '--help', '-V', '--version']);

/**
 * Refuses a command line that names a command or a flag of the other mode: `rekey --aws encrypt`,
 * `rekey --aws --home X freeze pii`, `rekey rotate pii --stack Prod`. Unknown commands and flags
 * (typos) are left to the parser, which suggests the nearest name.
 *
 * @throws ValidationError naming the command or flag and what to do.
 */
export function checkModeFit(mode: Mode, argv: readonly string[], trees: Readonly<Record<Mode, Command>>): void {
  const other: Mode = mode === 'aws' ? 'local' : 'aws';
  const here = resolve(trees[mode], argv, trees[other]);
  const there = resolve(trees[other], argv, trees[mode]);
  if (there.path.length > here.path.length) {
    const path = there.path.join(' ');
    throw new ValidationError(mode === 'aws' ? `'${path}' is local mode only: ${localOnlyReason(path)}` : `'${path}' is AWS mode only: add --aws to drive a deployed stack`);
  }
  const hereChain = chainOf(trees[mode], here.path);
  const thereChain = chainOf(trees[other], here.path);
  for (const flag of here.flags) {
    if (ALWAYS_KNOWN.has(flag) || findOption(hereChain, flag) !== undefined) continue;
    if (findOption(thereChain, flag) === undefined) continue;
    const global = findOption([trees[other]], flag) !== undefined;
    const where = global || here.path.length === 0 ? flag : `${flag} of '${here.path.join(' ')}'`;
    const hint = FLAG_HINTS[flag] ?? (mode === 'aws' ? 'drop it, or drop --aws to use a local home' : 'add --aws to drive a deployed stack, or drop it');
    throw new ValidationError(`${where} is ${other === 'aws' ? 'AWS' : 'local'} mode only: ${hint}`);
  }
}

function localOnlyReason(path: string): string {
  const hit = [...LOCAL_ONLY].sort((a, b) => b[0].length - a[0].length).find(([prefix]) => path === prefix || path.startsWith(`${prefix} `));
  return hit?.[1] ?? 'drop --aws to run it on a local home';
}
