import { startServices } from './services';

/** Starts redis-server and moto_server on free loopback ports for the whole run. */
export default async function globalSetup(): Promise<void> {
  const s = await startServices();
  process.env.REKEY_TEST_REDIS_URL = `redis://127.0.0.1:${s.redisPort}`;
  process.env.REKEY_TEST_REDIS_PORT = String(s.redisPort);
  process.env.REKEY_TEST_REDIS_PID = String(s.redisPid);
  process.env.REKEY_TEST_MOTO_URL = `http://127.0.0.1:${s.motoPort}`;
}
