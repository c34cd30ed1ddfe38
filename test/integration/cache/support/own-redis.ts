/**
 * A redis-server of the test's own (stopped, restarted, reconfigured), on a free loopback port,
 * so that outages never touch the server other test files share.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { freePort } from '../../../support/services';

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.on('error', () => resolve(false));
  });
}

/** One redis-server process that can be stopped and started again on the same port. */
export class OwnRedis {
  private readonly dir = scratchDir('rekey-redis-');
  private pid: number | undefined;

  private constructor(public readonly port: number, private readonly extraArgs: readonly string[]) {}

  /** Starts a server on a free port with `extraArgs` (e.g. `--cluster-enabled yes`). */
  public static async start(extraArgs: readonly string[] = []): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort(), extraArgs);
    await r.start();
    return r;
  }

  public get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port. */
  public async start(): Promise<void> {
    const pidfile = join(this.dir, 'redis.pid');
    rmSync(pidfile, { force: true });
    execFileSync('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir,
      '--daemonize', 'yes', '--pidfile', pidfile, '--logfile', join(this.dir, 'redis.log'), ...this.extraArgs,
    ]);
    for (let i = 0; i < 100; i++) {
      if (existsSync(pidfile) && (await ping(this.port))) {
        this.pid = Number(readFileSync(pidfile, 'utf8').trim());
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** Stops the server (SIGKILL: an outage, not a shutdown) and waits until the port refuses. */
  public async stop(): Promise<void> {
    if (this.pid === undefined) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    this.pid = undefined;
    for (let i = 0; i < 100 && (await ping(this.port)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops the server and removes its folder. */
  public async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
