import { ensureNode24 } from '../twin/runtime/node24';
import { twinTls } from '../twin/tls';
import { POSTGRES_URL_ENV, startPostgres } from './postgres-server';
import { provisionTools } from './provision';
import { beginScratchRun } from './scratch';
import { startServices } from './services';

/**
 * Makes sure the programs the suite runs are installed (installing them as root with apt-get,
 * else stopping at once with the command to run), starts redis-server, moto_server and a throwaway
 * PostgreSQL on free loopback ports for the whole run, opens the run's scratch folder, and provisions what the
 * deployed-stack twin needs once, before any worker races for it: the Node 24 binary of the
 * Lambda runtime (from the npm registry, into node_modules/.cache) and its loopback TLS identity.
 */
export default async function globalSetup(): Promise<void> {
  provisionTools();
  beginScratchRun();
  const [s, pg] = await Promise.all([startServices(), startPostgres(), ensureNode24()]);
  twinTls();
  process.env.REKEY_TEST_REDIS_URL = `redis://127.0.0.1:${s.redisPort}`;
  process.env.REKEY_TEST_REDIS_PORT = String(s.redisPort);
  process.env.REKEY_TEST_REDIS_PID = String(s.redisPid);
  process.env.REKEY_TEST_MOTO_URL = `http://127.0.0.1:${s.motoPort}`;
  process.env[POSTGRES_URL_ENV] = pg.url;
}
