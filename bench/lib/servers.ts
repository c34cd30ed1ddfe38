/**
 * The real local servers the store benchmark runs against: a moto_server (S3 and DynamoDB) and
 * a throwaway PostgreSQL, each on a free loopback port, started only when a store needs it and
 * stopped at the end (also when the benchmark fails). They are the same programs the test suite
 * starts (test/support/services.ts, test/support/postgres-server.ts), started the same way.
 */
import type { ChildProcess } from 'node:child_process';
import { freePort, startMoto } from '../../test/support/services';
import { startPostgres } from '../../test/support/postgres-server';

/** What {@link startBenchServers} should start. */
export interface BenchServerNeeds {
  readonly moto: boolean;
  readonly postgres: boolean;
}

/** Endpoints of the started servers; `stop()` ends every one of them. */
export interface BenchServers {
  /** `http://127.0.0.1:<port>` of moto_server, when started. */
  readonly motoUrl?: string;
  /** `postgres://...` of the throwaway PostgreSQL, when started. */
  readonly postgresUrl?: string;
  stop(): Promise<void>;
}

function stopMoto(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    // Already gone: nothing left to stop.
  }
}

/**
 * Starts the servers `needs` names; if one fails to start, the ones already started are
 * stopped before the error is rethrown, so a failed start leaves no process behind.
 *
 * @example
 * const servers = await startBenchServers({ moto: true, postgres: true });
 * try { ... servers.motoUrl ... servers.postgresUrl ... } finally { await servers.stop(); }
 */
export async function startBenchServers(needs: BenchServerNeeds): Promise<BenchServers> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    let motoUrl: string | undefined;
    let postgresUrl: string | undefined;
    if (needs.moto) {
      const port = await freePort();
      const child = await startMoto(port);
      stops.push(async () => stopMoto(child));
      motoUrl = `http://127.0.0.1:${port}`;
    }
    if (needs.postgres) {
      const pg = await startPostgres();
      stops.push(async () => pg.stop());
      postgresUrl = pg.url;
    }
    return { ...(motoUrl === undefined ? {} : { motoUrl }), ...(postgresUrl === undefined ? {} : { postgresUrl }), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
