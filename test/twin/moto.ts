/**
 * A private moto_server for one twin stand-up: its own port and its own state, so every scenario
 * starts from a fresh account and fixed names (record buckets from cdk.json) never collide.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, MOTO_SERVER } from '../support/services';

/** A running moto_server. */
export interface PrivateMoto {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts moto_server on a free loopback port and waits until it answers.
 *
 * @example
 * const moto = await startPrivateMoto(); ...; await moto.stop();
 */
export async function startPrivateMoto(): Promise<PrivateMoto> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', [MOTO_SERVER, '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`moto_server is required by the twin: ${err.message}`))));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await Promise.race([fetch(`${url}/moto-api/`).then((r) => r.status < 500, () => false), failed]);
    if (up) break;
    if (Date.now() > deadline) throw new Error('moto_server did not start within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
