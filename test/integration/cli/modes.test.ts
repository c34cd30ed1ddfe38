import { runCli } from './support/cli-harness';
import { TestHome, T0, at, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();

// AWS mode against an endpoint that refuses connections at once: a real SDK failure, fast, with
// dummy credentials so no credential lookup reaches out.
const NO_AWS = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
  AWS_MAX_ATTEMPTS: '1',
  AWS_PROFILE: undefined,
};
const REFUSED = ['--endpoint', 'http://127.0.0.1:9'];

/** What a command could change in the home: the audit trail, the status at a fixed time, the files. */
async function state(home: TestHome): Promise<string> {
  const status = (await home.ok(['status', '--json'], { now: NOW })).stdout.toString('utf8');
  const audit = home.auditEvents();
  return JSON.stringify({ status, audit, files: JSON.parse(await home.snapshot()).files as unknown });
}

describe('rekey modes (--aws anywhere, the other mode refused, the system named)', () => {
  const home = new TestHome();
  beforeAll(async () => {
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
  });
  afterAll(() => {
    home.remove();
  });

  describe('--aws after the command', () => {
    it.each([
      ['rotate pii --aws', ['rotate', 'pii', ...REFUSED, '--aws']],
      ['revoke pii --version 1 --reason x --yes --aws', ['revoke', 'pii', '--version', '1', '--reason', 'x', '--yes', ...REFUSED, '--aws']],
      ['freeze pii --reason x --aws', ['freeze', 'pii', '--reason', 'x', ...REFUSED, '--aws']],
    ])('drives AWS mode for `%s` and leaves the local home alone', async (_label, argv) => {
      // Prepare
      const before = await state(home);

      // Act
      const r = await runCli(argv, { env: { ...NO_AWS, REKEY_HOME: home.dir } });

      // Assess
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toContain('acted on local home');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(await state(home)).toBe(before);
    }, 30_000);
  });

  describe('flags and commands of the other mode', () => {
    it.each([
      ['--home with --aws', ['--home', 'HOME', '--aws', 'freeze', 'pii', '--reason', 'x'], /^rekey: --home is local mode only: drop --aws to use a local home$/],
      ['--now with --aws', ['--aws', '--now', '+8d', 'status'], /^rekey: --now is local mode only/],
      ['keyring create with --aws', ['keyring', 'create', 'other', '--aws'], /^rekey: 'keyring create' is local mode only: a stack's keyrings are declared in its cdk\.json/],
      ['encrypt with --aws', ['--aws', 'encrypt', '--keyring', 'pii'], /^rekey: 'encrypt' is local mode only/],
      ['--stack without --aws', ['--home', 'HOME', 'rotate', 'pii', '--stack', 'Prod'], /^rekey: --stack is AWS mode only: add --aws to drive a deployed stack$/],
      ['--endpoint without --aws', ['--home', 'HOME', '--endpoint', 'http://x', 'status'], /^rekey: --endpoint is AWS mode only: add --aws/],
    ])('refuses %s with exit 2 and changes nothing', async (_label, argv, message) => {
      // Prepare
      const before = await state(home);

      // Act
      const r = await runCli(argv.map((a) => (a === 'HOME' ? home.dir : a)), { env: NO_AWS });

      // Assess
      expectFailure(r, 2, message);
      expect(await state(home)).toBe(before);
    });
  });

  describe('the system a command acted on', () => {
    it('names the local home after a command that changes something', async () => {
      // Act
      const r = await home.run(['rotate', 'pii'], { now: at(1) });

      // Assess
      expect(r.code).toBe(0);
      expect(r.stderr.split('\n')).toContain(`rekey: acted on local home ${home.dir}`);
    });

    it('names nothing after a command that only reads', async () => {
      // Act
      const r = await home.run(['status', 'pii'], { now: at(1) });

      // Assess
      expect(r.code).toBe(0);
      expect(r.stderr).not.toContain('acted on');
    });

    it('keeps a refusal to one line (a refused change did not act)', async () => {
      // Act
      const r = await home.run(['rotate', 'nope'], { now: at(1) });

      // Assess
      expectFailure(r, 4, /^rekey: unknown keyring 'nope'$/);
    });
  });
});
