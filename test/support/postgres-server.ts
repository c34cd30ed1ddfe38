/**
 * A throwaway PostgreSQL server for the test run: `initdb` into a fresh temporary folder, then
 * `pg_ctl start` on a free loopback port, with durability switched off (the data dies with the
 * run, so fsync only costs time). globalSetup starts one and hands its URL to the workers in
 * `REKEY_TEST_POSTGRES_URL`; globalTeardown stops it (`pg_ctl stop -m immediate`) and removes
 * the folder. Each test isolates itself in its own schema.
 *
 * PostgreSQL refuses to run as root, so as root the server programs run as the `postgres`
 * system user (the Debian package creates it) through `runuser`, and the folder is given to it.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';
import { postgresBinDirs } from './provision';
import { STATE_DIR, freePort } from './services';

/** Where the Debian/Ubuntu packages put each major version's server programs. */
export const POSTGRES_LIB_DIR = '/usr/lib/postgresql';

/** The environment variable that hands the server's URL from globalSetup to the test workers. */
export const POSTGRES_URL_ENV = 'REKEY_TEST_POSTGRES_URL';

/**
 * The group role whose members authenticate with a password (scram-sha-256) instead of trust:
 * `CREATE ROLE r LOGIN PASSWORD '...' IN ROLE rekey_password_login`.
 */
export const PASSWORD_LOGIN_ROLE = 'rekey_password_login';

async function createPasswordLoginRole(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE ROLE ${PASSWORD_LOGIN_ROLE} NOLOGIN`);
  } finally {
    await client.end();
  }
}

/** The system user the server runs as when the suite runs as root. */
const SERVER_USER = 'postgres';

// One file per jest process, like services.ts, so parallel runs in one checkout keep their own.
const STATE_FILE = join(STATE_DIR, `postgres-${process.pid}.json`);

/** What teardown needs to stop a server this module started. */
interface PostgresState {
  readonly binDir: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly runAs?: string;
}

/** A running throwaway server. */
export interface PostgresServer {
  /** `postgresql://postgres@127.0.0.1:<port>/postgres` (trust authentication on loopback). */
  readonly url: string;
  readonly port: number;
  /** The cluster's data folder. */
  readonly dataDir: string;
  /** Stops the server at once and removes its folder. */
  stop(): void;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The folder holding both `initdb` and `pg_ctl`: on PATH first (a distribution that links them
 * there, or the user's choice), else the highest version under {@link POSTGRES_LIB_DIR} (Debian
 * keeps them off PATH).
 *
 * @example
 * findPostgresBinDir(); // '/usr/lib/postgresql/15/bin'
 */
export function findPostgresBinDir(path = process.env.PATH ?? '', base = POSTGRES_LIB_DIR): string | undefined {
  const candidates = [...path.split(delimiter).filter((d) => d !== ''), ...postgresBinDirs(base)];
  return candidates.find((dir) => executable(join(dir, 'initdb')) && executable(join(dir, 'pg_ctl')));
}

/** Runs a server program, as the `postgres` user when we are root. */
function runServerTool(state: Pick<PostgresState, 'binDir' | 'runAs'>, tool: string, args: readonly string[]): void {
  const program = join(state.binDir, tool);
  const [file, argv] = state.runAs === undefined ? [program, args] : ['runuser', ['-u', state.runAs, '--', program, ...args]];
  try {
    execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`${tool} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

async function accepts(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts a throwaway server on a free loopback port and waits until it accepts connections.
 *
 * @example
 * const pg = await startPostgres();
 * // ... new Pool({ connectionString: pg.url }) ...
 * pg.stop();
 */
export async function startPostgres(options: { readonly binDir?: string; readonly timeoutMs?: number } = {}): Promise<PostgresServer> {
  const binDir = options.binDir ?? findPostgresBinDir();
  if (binDir === undefined) {
    throw new Error(`PostgreSQL is required by the test suite (initdb and pg_ctl, on PATH or under ${POSTGRES_LIB_DIR}/*/bin): apt-get install -y postgresql`);
  }
  stopOrphans();
  const runAs = process.getuid?.() === 0 ? SERVER_USER : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rekey-pg-'));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  mkdirSync(socketDir);
  if (runAs !== undefined) {
    const { uid, gid } = lookupUser(runAs);
    chownSync(dir, uid, gid);
    chownSync(socketDir, uid, gid);
  }
  const state: PostgresState = { binDir, dir, dataDir, ...(runAs === undefined ? {} : { runAs }) };
  try {
    // Trust only makes sense because the server listens on loopback alone (-h 127.0.0.1).
    runServerTool(state, 'initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // Trust on loopback, except for members of PASSWORD_LOGIN_ROLE, who must log in with a
    // password (tests of the store's password function need the server to ask for one).
    writeFileSync(join(dataDir, 'pg_hba.conf'), [
      'local all all trust',
      `host all +${PASSWORD_LOGIN_ROLE} 127.0.0.1/32 scram-sha-256`,
      'host all all 127.0.0.1/32 trust',
      '',
    ].join('\n'));
    const port = await freePort();
    const serverOptions = `-k ${socketDir} -h 127.0.0.1 -p ${port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    runServerTool(state, 'pg_ctl', ['start', '-w', '-D', dataDir, '-l', join(dir, 'server.log'), '-o', serverOptions]);
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(STATE_FILE, JSON.stringify(state));
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    while (!(await accepts(url))) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections on port ${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await createPasswordLoginRole(url);
    return { url, port, dataDir, stop: () => stopServer(state) };
  } catch (err) {
    stopServer(state);
    rmSync(STATE_FILE, { force: true });
    throw err;
  }
}

function lookupUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  const fields = line?.split(':');
  if (fields === undefined || fields.length < 4) {
    throw new Error(`PostgreSQL refuses to run as root and there is no '${name}' user to run it as (apt-get install -y postgresql creates it)`);
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function stopServer(state: PostgresState): void {
  if (existsSync(join(state.dataDir, 'postmaster.pid'))) {
    try {
      // Immediate: the data is thrown away, so there is nothing to shut down cleanly for.
      runServerTool(state, 'pg_ctl', ['stop', '-w', '-D', state.dataDir, '-m', 'immediate']);
    } catch {
      // already gone
    }
  }
  rmSync(state.dir, { recursive: true, force: true });
}

/** Stops the server {@link startPostgres} started in this process (globalTeardown), if any. */
export function stopPostgres(): void {
  stopRecorded(STATE_FILE);
}

function stopRecorded(file: string): void {
  try {
    if (existsSync(file)) stopServer(JSON.parse(readFileSync(file, 'utf8')) as PostgresState);
  } finally {
    rmSync(file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops the servers of earlier runs whose jest process is gone (killed before its teardown). */
function stopOrphans(): void {
  let names: string[] = [];
  try {
    names = readdirSync(STATE_DIR);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^postgres-([0-9]+)\.json$/.exec(name);
    if (m !== null && Number(m[1]) !== process.pid && !isAlive(Number(m[1]))) stopRecorded(join(STATE_DIR, name));
  }
}

/**
 * The test server's URL (set by globalSetup).
 *
 * @example
 * const pool = new Pool({ connectionString: postgresTestUrl() });
 */
export function postgresTestUrl(): string {
  const url = process.env[POSTGRES_URL_ENV];
  if (url === undefined || url === '') throw new Error(`${POSTGRES_URL_ENV} is not set: run the tests through jest (its globalSetup starts PostgreSQL)`);
  return url;
}
