import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './support/cli-harness';
import { TestHome, T0, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();

describe('rekey homes (local mode)', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome('rekey-homes-');
  });
  afterEach(() => {
    home.remove();
  });

  describe('a missing home', () => {
    it.each([
      [['status']],
      [['keyring', 'list']],
      [['audit']],
      [['cache', 'stats']],
      [['rotate', 'pii']],
      [['freeze', 'pii', '--reason', 'INC-1']],
      [['sweep', 'pii']],
      [['records', 'get', 'r1']],
    ])('is refused by %j with exit 4, naming the path and what to do, and nothing is created', async (argv) => {
      // Prepare
      const missing = join(home.dir, 'not-here');

      // Act
      const r = await home.run(argv);
      const elsewhere = await runIn(missing, argv);

      // Assess
      expectFailure(r, 4, new RegExp(`^rekey: no rekey home at ${home.dir}: run 'rekey keyring create NAME' to make one, or pass --home$`));
      expectFailure(elsewhere, 4, /no rekey home at .*not-here/);
      expect(readdirSync(home.dir)).toEqual([]);
      expect(existsSync(missing)).toBe(false);
    });

    it('is made by keyring create, after which reading commands work', async () => {
      // Prepare
      const fresh = join(home.dir, 'made-here');

      // Act
      const created = await runIn(fresh, ['keyring', 'create', 'pii'], NOW);
      const list = await runIn(fresh, ['keyring', 'list']);

      // Assess
      expect(created.code).toBe(0);
      expect(existsSync(join(fresh, 'catalog.db'))).toBe(true);
      expect({ code: list.code, out: list.stdout.toString() }).toEqual({ code: 0, out: 'pii\tactive v1\n' });
    });
  });

  describe('an empty home name', () => {
    it('refuses --home "" with exit 2 and creates nothing', async () => {
      // Act
      const r = await home.run(['--home', '', 'status']);

      // Assess (the empty --home comes after the harness's own, so it is the one commander keeps)
      expectFailure(r, 2, /^rekey: --home is empty: /);
      expect(readdirSync(home.dir)).toEqual([]);
    });

    it('refuses REKEY_HOME="" with exit 2', async () => {
      // Act
      const r = await runCli(['keyring', 'create', 'pii'], { env: { REKEY_HOME: '' } });

      // Assess
      expectFailure(r, 2, /^rekey: REKEY_HOME is empty: /);
    });
  });

  function runIn(dir: string, argv: readonly string[], now?: string): ReturnType<typeof runCli> {
    return runCli(['--home', dir, ...(now === undefined ? [] : ['--now', now]), ...argv]);
  }
});
