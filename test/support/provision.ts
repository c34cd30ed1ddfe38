/**
 * What the test suite needs on the machine, and what to do when some of it is missing: as root
 * with apt-get, install what Debian packages (non-interactively); otherwise stop at once with
 * one line naming the command to run, instead of a cascade of failing suites.
 * The decision ({@link planProvisioning}) is a pure function; {@link provisionTools} runs it.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A program the suite runs, and how it gets onto a machine. */
export interface RequiredTool {
  /** The executable looked up on PATH. */
  readonly command: string;
  /** The Debian package that provides it, when there is one. */
  readonly aptPackage?: string;
  /** The command that installs it where apt cannot (shown to the user, never run). */
  readonly manualInstall?: string;
  /**
   * Folders searched after PATH, for packages that keep their programs off it (Debian's
   * PostgreSQL: `/usr/lib/postgresql/<major>/bin`).
   */
  readonly alsoIn?: () => readonly string[];
}

/**
 * The per-version program folders of Debian's PostgreSQL packages, highest version first.
 *
 * @example
 * postgresBinDirs(); // ['/usr/lib/postgresql/15/bin']
 */
export function postgresBinDirs(base = '/usr/lib/postgresql'): string[] {
  let majors: string[] = [];
  try {
    majors = readdirSync(base).filter((name) => /^[0-9]+(\.[0-9]+)?$/.test(name));
  } catch {
    return [];
  }
  return majors.sort((a, b) => Number(b) - Number(a)).map((major) => join(base, major, 'bin'));
}

/**
 * The programs the suite starts: redis-server and moto_server (globalSetup), cfn-lint
 * (test/infra), openssl (the twin's loopback TLS identity), PostgreSQL's initdb (globalSetup's
 * throwaway server; with pg_ctl beside it, found on PATH or under /usr/lib/postgresql/<major>/bin).
 */
export const REQUIRED_TOOLS: readonly RequiredTool[] = [
  { command: 'redis-server', aptPackage: 'redis-server' },
  { command: 'openssl', aptPackage: 'openssl' },
  { command: 'moto_server', manualInstall: "pip install 'moto[server]==5.2.1'" },
  { command: 'cfn-lint', manualInstall: 'pip install cfn-lint==1.51.0' },
  { command: 'initdb', aptPackage: 'postgresql', alsoIn: () => postgresBinDirs() },
];

/** What the machine offers for installing. */
export interface HostFacts {
  readonly isRoot: boolean;
  readonly hasAptGet: boolean;
}

/** The decision: nothing to do, install these Debian packages, or stop with one line. */
export type ProvisionPlan =
  | { readonly action: 'ready' }
  | { readonly action: 'install'; readonly aptPackages: readonly string[] }
  | { readonly action: 'stop'; readonly message: string };

/**
 * Decides what to do about the missing tools. Installing happens only when every missing tool
 * has a Debian package and we may run apt-get (root); otherwise nothing is installed and the
 * message names every command to run, so one attempt fixes the machine.
 *
 * @example
 * planProvisioning([{ command: 'redis-server', aptPackage: 'redis-server' }], { isRoot: true, hasAptGet: true });
 * // { action: 'install', aptPackages: ['redis-server'] }
 */
export function planProvisioning(missing: readonly RequiredTool[], host: HostFacts): ProvisionPlan {
  if (missing.length === 0) return { action: 'ready' };
  const aptPackages = missing.flatMap((t) => (t.aptPackage === undefined ? [] : [t.aptPackage]));
  const manual = missing.flatMap((t) => (t.aptPackage === undefined ? [t.manualInstall ?? `install ${t.command}`] : []));
  if (manual.length === 0 && host.isRoot && host.hasAptGet) return { action: 'install', aptPackages };
  const apt = `apt-get install -y ${aptPackages.join(' ')}`;
  const aptCommand = aptPackages.length === 0 ? [] : [host.hasAptGet ? `${host.isRoot ? '' : 'sudo '}${apt}` : `(with your package manager; on Debian: ${apt})`];
  const names = missing.map((t) => t.command).join(', ');
  return { action: 'stop', message: `The test suite needs ${names}, not found on PATH. Run: ${[...aptCommand, ...manual].join(' && ')}` };
}

/**
 * Whether `command` is an executable file on PATH.
 *
 * @example
 * onPath('redis-server'); // true when redis-server is installed
 */
export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Whether `tool` is installed: an executable on PATH, or in one of its {@link RequiredTool.alsoIn}
 * folders.
 *
 * @example
 * isInstalled({ command: 'initdb', alsoIn: () => postgresBinDirs() }); // true on Debian with postgresql
 */
export function isInstalled(tool: RequiredTool, path = process.env.PATH ?? ''): boolean {
  return onPath(tool.command, path) || (tool.alsoIn !== undefined && onPath(tool.command, tool.alsoIn().join(delimiter)));
}

/** The one-line failure that stops the run (its stack is its message: the line is the news). */
export class MissingToolsError extends Error {
  override readonly name = 'MissingToolsError';

  constructor(message: string) {
    super(message);
    this.stack = message;
  }
}

/**
 * Makes sure every required tool is on PATH, installing what apt can when root; throws
 * {@link MissingToolsError} with the command to run otherwise.
 */
export function provisionTools(tools: readonly RequiredTool[] = REQUIRED_TOOLS): void {
  const missing = () => tools.filter((t) => !isInstalled(t));
  const plan = planProvisioning(missing(), { isRoot: process.getuid?.() === 0, hasAptGet: onPath('apt-get') });
  if (plan.action === 'ready') return;
  if (plan.action === 'stop') throw new MissingToolsError(plan.message);
  process.stderr.write(`test setup: installing ${plan.aptPackages.join(', ')} (apt-get)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('apt-get', ['install', '-y', '-qq', ...plan.aptPackages], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const still = missing();
  if (still.length > 0) throw new MissingToolsError(`apt-get installed ${plan.aptPackages.join(', ')}, yet ${still.map((t) => t.command).join(', ')} is still not on PATH`);
}
