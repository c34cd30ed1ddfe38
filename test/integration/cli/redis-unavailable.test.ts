import { freePort } from '../../support/services';
import { spawnCli } from './support/cli-harness';
import { TestHome, T0 } from './support/test-home';

const NOW = new Date(T0).toISOString();

describe('rekey with Redis configured (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome('rekey-redis-');
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('when nothing listens on the port', () => {
    it('warns once, goes on without the cache, and the process ends', async () => {
      // Prepare
      const url = `redis://127.0.0.1:${await freePort()}`;

      // Act: a real process, so a client left reconnecting would keep it from exiting
      const status = await spawnCli(['--home', home.dir, 'status', '--json'], { env: { REKEY_REDIS_URL: url } });
      const stats = await spawnCli(['--home', home.dir, 'cache', 'stats', '--json'], { env: { REKEY_REDIS_URL: url } });

      // Assess
      const warning = `rekey: warning: Redis at ${url.slice('redis://'.length)} did not answer within 1 s; the cache is off for this command\n`;
      expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: warning });
      expect((JSON.parse(status.stdout.toString()) as { keyrings: Array<{ keyring: string }> }).keyrings.map((k) => k.keyring)).toEqual(['pii']);
      expect({ code: stats.code, stderr: stats.stderr, out: JSON.parse(stats.stdout.toString()) as unknown }).toEqual({
        code: 0,
        stderr: warning,
        out: { backend: 'redis', available: false, keyrings: {} },
      });
    }, 30_000);

    it('still encrypts and decrypts, the cache being only an optimisation', async () => {
      // Prepare
      const url = `redis://127.0.0.1:${await freePort()}`;
      const env = { REKEY_REDIS_URL: url };

      // Act
      const put = await home.run(['records', 'put', 'r1', '--keyring', 'pii'], { stdin: Buffer.from('kept'), env });
      const get = await home.run(['records', 'get', 'r1'], { env });

      // Assess
      const warnings = (r: { stderr: string }) => r.stderr.split('\n').filter((l) => l.startsWith('rekey: warning: Redis at 127.0.0.1:'));
      expect({ put: put.code, get: get.code, out: get.stdout.toString() }).toEqual({ put: 0, get: 0, out: 'kept' });
      expect([warnings(put).length, warnings(get).length]).toEqual([1, 1]);
      expect(warnings(get)[0]).toMatch(/did not answer within 1 s; the cache is off for this command$/);
    }, 30_000);
  });

  describe('when Redis answers', () => {
    it('uses it without a warning', async () => {
      // Prepare
      const env = { REKEY_REDIS_URL: process.env.REKEY_TEST_REDIS_URL as string };

      // Act
      const stats = await home.run(['cache', 'stats', 'pii', '--json'], { env });

      // Assess
      expect({ code: stats.code, stderr: stats.stderr, out: JSON.parse(stats.stdout.toString()) as unknown }).toEqual({
        code: 0,
        stderr: '',
        out: { backend: 'redis', available: true, keyrings: { pii: {} } },
      });
    });
  });
});
