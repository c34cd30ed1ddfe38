/**
 * What `rekey --help` and every command's help add to commander's own: AWS mode's commands and
 * flags in the local help (so an operator sees `--aws` exists without guessing), the environment
 * variables, how times are read, the exit codes, and an example per command. Examples are applied
 * by walking the finished tree, so a command registered by any group gets its example here.
 */
import { Help, type Command } from 'commander';
import { EXIT_CODES } from './errors-to-exit';
import type { Mode } from './modes';

/** Example command lines per command path (local mode). */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  'keyring create': ['rekey keyring create pii --rotate-every 90d --grace 7d'],
  'keyring list': ['rekey keyring list'],
  'keyring sources': ['rekey keyring sources pii --unmanaged files,backups'],
  'keyring update': ['rekey keyring update pii --grace 3d'],
  'keyring delete': ['rekey keyring delete scratch --yes'],
  encrypt: ['rekey encrypt pii --context tenant=acme --in report.pdf --out report.rk', 'pg_dump db | rekey encrypt backups --framed > db.rekey'],
  decrypt: ['rekey decrypt --context tenant=acme --in report.rk --out report.pdf'],
  inspect: ['rekey inspect --in report.rk'],
  rewrap: ['rekey rewrap --in notes.rekey --out notes.rekey.new && mv notes.rekey.new notes.rekey   # after a rotation'],
  rotate: ['rekey rotate pii --reason "scheduled drill"'],
  tick: ['rekey tick pii --at +8d'],
  plan: ['rekey plan pii', 'rekey --now +30d plan pii --json   # as it would look in 30 days'],
  reenable: ['rekey reenable pii --version 2 --reason "disabled too early"'],
  revoke: ['rekey revoke pii --version 3 --reason "key exposed in incident 42" --yes'],
  freeze: ['rekey freeze pii --reason "incident 42: hold all transitions"'],
  unfreeze: ['rekey unfreeze pii'],
  status: ['rekey status pii', 'rekey status --all --json   # destroyed versions too'],
  sweep: ['rekey sweep pii --rate 200'],
  migrate: ['rekey migrate pii --from plaintext --dry-run', 'rekey migrate pii --from esdk --esdk-kms-key arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
  'records put': ['rekey records put invoice-17 --keyring pii --context tenant=acme < invoice.json'],
  'records get': ['rekey records get invoice-17 --context tenant=acme'],
  'records list': ['rekey records list pii --version 1 --limit 20'],
  'records delete': ['rekey records delete invoice-17'],
  'records import': ['rekey records import ./export --keyring pii', "jq -c '{id: .user, data: .note}' users.json | rekey records import - --keyring pii"],
  'cache stats': ['rekey cache stats pii'],
  'escrow archive': ['rekey escrow archive pii'],
  'escrow verify': ['rekey escrow verify pii'],
  'escrow restore': ['rekey escrow restore pii --version 2 --reason "restore drill"'],
  'consumers add': ['rekey consumers add pii arn:aws:iam::111122223333:role/orders-api --decrypt-only'],
  'consumers remove': ['rekey consumers remove pii arn:aws:iam::111122223333:role/orders-api'],
  'consumers list': ['rekey consumers list pii', 'rekey consumers list --json'],
  audit: ['rekey audit pii --limit 20', 'rekey audit --json | jq .action'],
};

/** AWS mode's examples where they differ from the local one with `--aws` added. */
const AWS_EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  status: ['rekey --aws status pii --region eu-west-1', 'rekey --aws --stack RekeyProd status --json'],
  revoke: ['rekey --aws revoke pii --version 3 --reason "key exposed in incident 42"'],
  'escrow restore': ['rekey --aws escrow restore pii --version 2'],
  outputs: ['rekey --aws --stack Rekey outputs > rekey-outputs.json'],
};

/**
 * The example lines of the command at `path` in `mode`, or undefined when it has none.
 *
 * @example
 * exampleFor('aws', 'rotate'); // ['rekey --aws rotate pii --reason "scheduled drill"']
 */
export function exampleFor(mode: Mode, path: string): readonly string[] | undefined {
  if (mode === 'aws') return AWS_EXAMPLES[path] ?? EXAMPLES[path]?.map((line) => line.replace(/^rekey /, 'rekey --aws '));
  return EXAMPLES[path];
}

const WIDTH = 80;

function wrap(text: string, indent: number): string {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line.length > 0 && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** Two-column rows, the first column padded, the second wrapped at 80 columns. */
function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const pad = Math.min(34, Math.max(...rows.map(([term]) => term.length)) + 2);
  return rows
    .map(([term, text]) => (term.length + 2 > pad ? `  ${term}\n${' '.repeat(pad + 2)}${wrap(text, pad + 2)}` : `  ${term.padEnd(pad)}${wrap(text, pad + 2)}`))
    .join('\n');
}

/** Every leaf command of `root` with its path. */
export function leafCommands(root: Command): Array<{ path: string; command: Command }> {
  const out: Array<{ path: string; command: Command }> = [];
  const walk = (c: Command, prefix: string[]): void => {
    for (const sub of c.commands) {
      const path = [...prefix, sub.name()];
      if (sub.commands.length === 0) out.push({ path: path.join(' '), command: sub });
      else walk(sub, path);
    }
  };
  walk(root, []);
  return out;
}

function commandRows(root: Command, prefix: string): Array<readonly [string, string]> {
  const help = new Help();
  return leafCommands(root).map(({ path, command }) => {
    const args = help.subcommandTerm(command).replace(/^\S+/, '').replace(' [options]', '');
    return [`${prefix}${path}${args}`, command.description()] as const;
  });
}

const ENVIRONMENT: ReadonlyArray<readonly [string, string]> = [
  ['REKEY_HOME', 'local mode: the rekey home (default: ./.rekey); --home overrides it'],
  ['REKEY_REDIS_URL', 'local mode: keep the encrypted cache in this Redis (default: process memory)'],
  ['REKEY_CATALOG_TTL_MS', 'how long a catalog read is trusted, in ms (default: 60000)'],
  ['REKEY_DEBUG=1', 'print the details behind a failure and the structured log on stderr'],
  ['AWS_REGION', 'AWS mode: the region when --region is not given'],
  ['AWS_PROFILE', "AWS mode: the credentials profile (the SDK's usual credential chain)"],
];

const TIMES =
  'Times (--now, --at) take a zone: 2030-01-01T00:00:00Z or +02:00; a time without one is refused. ' +
  '+8d (or +1d12h) means 8 days from now. Durations: 90d, 1w, 1d12h, 2h30m or ISO 8601 (P30D, PT10M).';

/** The sections `rekey --help` ends with, for `mode`; `awsTree` lists AWS mode's commands. */
export function mainHelpSections(mode: Mode, awsTree: () => Command): string {
  const parts: string[] = [];
  if (mode === 'local') {
    parts.push(
      `AWS mode (--aws anywhere on the line; local-only commands and flags refused):\n${table([
        ...commandRows(awsTree(), 'rekey --aws '),
        ['--stack <name>', 'the deployed stack (default: Rekey)'],
        ['--region <region>', 'AWS region (default: from AWS_REGION or the profile)'],
        ['--endpoint <url>', 'endpoint override for every AWS client (emulators)'],
      ])}`,
    );
  } else {
    parts.push("Local mode: run 'rekey --help' (without --aws) for the commands on a local home.");
  }
  parts.push(`Environment:\n${table(ENVIRONMENT)}`);
  parts.push(wrap(TIMES, 0));
  parts.push(`Exit codes:\n${table(EXIT_CODES.map((e) => [String(e.code), e.meaning] as const))}`);
  parts.push("Version: 'rekey --version' (or -V) prints rekey's version.");
  parts.push(`Example:\n  $ ${mode === 'aws' ? 'rekey --aws status' : 'rekey keyring create pii --rotate-every 90d'}`);
  return `\n${parts.join('\n\n')}\n`;
}

/**
 * Adds the main help's sections to `program` and an example to every leaf command.
 * Call it after every command group is registered.
 */
export function applyHelp(program: Command, mode: Mode, awsTree: () => Command): void {
  program.addHelpText('after', () => mainHelpSections(mode, awsTree));
  for (const { path, command } of leafCommands(program)) {
    const lines = exampleFor(mode, path);
    if (lines === undefined) continue;
    command.addHelpText('after', `\n${lines.length > 1 ? 'Examples' : 'Example'}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
  }
}
