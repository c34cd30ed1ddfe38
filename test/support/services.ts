/**
 * Real services for the test suite: a `redis-server` and a `moto_server`, each on a free
 * loopback port, started once by jest's globalSetup and stopped by globalTeardown.
 * Tests read the endpoints from `REKEY_TEST_REDIS_URL` and `REKEY_TEST_MOTO_URL`.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Where the running services are recorded, so teardown can stop them. */
export const STATE_DIR = join(__dirname, '..', '..', '.test-services');
// One file per jest process, so that parallel runs in one checkout do not stop each other's services.
const STATE_FILE = join(STATE_DIR, `services-${process.pid}.json`);

/** Endpoints and process ids of the services started for one test run. */
export interface ServiceState {
  readonly redisPort: number;
  readonly redisPid: number;
  readonly motoPort: number;
  readonly motoPid: number;
}

/** Asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start within ${timeoutMs} ms`);
}

/** Starts redis-server daemonized on `port`; returns its pid. */
export async function startRedis(port: number): Promise<number> {
  const pidfile = join(STATE_DIR, `redis-${port}.pid`);
  try {
    execFileSync('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'yes', '--pidfile', pidfile, '--logfile', join(STATE_DIR, `redis-${port}.log`),
    ]);
  } catch (err) {
    throw new Error(`redis-server is required by the test suite (apt-get install -y redis-server): ${(err as Error).message}`);
  }
  await waitFor(async () => existsSync(pidfile) && (await ping(port)), 'redis-server');
  return Number(readFileSync(pidfile, 'utf8').trim());
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')); });
    sock.on('error', () => resolve(false));
  });
}

/** Starts moto_server on `port`; returns the child process (detached, so it outlives setup). */
export async function startMoto(port: number): Promise<ChildProcess> {
  const child = spawn('python3', [MOTO_SERVER, '-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: 'ignore',
  });
  child.on('error', (err) => {
    throw new Error(`moto_server is required by the test suite: ${err.message}`);
  });
  child.unref();
  await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/moto-api/`);
    return res.status < 500;
  }, 'moto_server');
  return child;
}

/** Starts both services and records their state. */
export async function startServices(): Promise<ServiceState> {
  mkdirSync(STATE_DIR, { recursive: true });
  const [redisPort, motoPort] = [await freePort(), await freePort()];
  const [redisPid, moto] = await Promise.all([startRedis(redisPort), startMoto(motoPort)]);
  const state: ServiceState = { redisPort, redisPid, motoPort, motoPid: moto.pid ?? 0 };
  writeFileSync(STATE_FILE, JSON.stringify(state));
  return state;
}

/** Stops what startServices started. */
export function stopServices(): void {
  if (!existsSync(STATE_FILE)) return;
  const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ServiceState;
  for (const pid of [state.redisPid, state.motoPid]) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(STATE_FILE, { force: true });
}

/**
 * moto_server with the S3 CopyObject conditions S3 checks and moto 5.2.1 does not (see the
 * script's notes); every moto_server of the suite starts from it.
 */
export const MOTO_SERVER = join(__dirname, 'moto_server.py');

/** A moto_server this suite started, and how to stop it. */
export interface SerialMoto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts a moto_server that serves one request at a time (see the module comment: what makes
 * moto's conditional writes atomic per item, as DynamoDB's are), on a free loopback port.
 *
 * @example
 * const moto = await startSerialMoto();
 * const h = await openDynamoDbContractStore({ endpoint: moto.endpoint });
 * await h.close();
 * await moto.stop();
 */
export async function startSerialMoto(): Promise<SerialMoto> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', [MOTO_SERVER, '--serial', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failed: Error | undefined;
  child.once('error', (err) => {
    failed = err;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    if (failed !== undefined || child.exitCode !== null) throw new Error(`moto_server (serial) did not start: ${failed?.message ?? `exit ${String(child.exitCode)}`}`);
    const up = await fetch(`${endpoint}/moto-api/`).then((r) => r.status < 500, () => false);
    if (up) break;
    if (attempt >= 300) {
      child.kill();
      throw new Error('moto_server (serial) did not answer within 30 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
