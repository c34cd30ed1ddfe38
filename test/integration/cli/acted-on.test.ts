/**
 * The "acted on" line: after a command that changed something, main names the system on stderr,
 * also when the command then failed (a partial failure); after a refusal nothing was changed,
 * so nothing is named; and a changing command sent to AWS that cannot reach it names nothing
 * and leaves the local home alone.
 */
import { runCli } from './support/cli-harness';
import { TestHome, T0, at, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();

// AWS mode against an endpoint that refuses connections at once, with dummy credentials.
const NO_AWS = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
  AWS_MAX_ATTEMPTS: '1',
  AWS_PROFILE: undefined,
};
const CLOSED = ['--endpoint', 'http://127.0.0.1:9'];

describe('the acted-on line (local mode, and AWS mode that cannot act)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome('rekey-acted-on-');
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('after a partial failure (exit 7)', () => {
    it('is exactly the acted-on line, then the reason, for a sweep with a record it could not move', async () => {
      // Prepare: one record it can move, one bound to a context the sweep is not given, v1 revoked
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      await home.ok(['records', 'put', 'b', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: Buffer.from('beta'), now: NOW });
      await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-2', '--yes'], { now: at(2) });

      // Act
      const r = await home.run(['sweep', 'pii'], { now: at(2) });

      // Assess
      expect(r.code).toBe(7);
      expect(r.stderr.split('\n')).toEqual([
        `rekey: acted on local home ${home.dir}`,
        "rekey: 1 record(s) could not be moved ('rekey sweep pii --json' lists their ids and reasons); fix them (--context for bound records) and rerun to resume",
        '',
      ]);
    });

    it('is exactly the acted-on line, then the reason, for a records import with a bad line', async () => {
      // Prepare
      const input = Buffer.from('{"id":"u1","data":"one"}\nnot json\n{"id":"u3","data":"three"}\n');

      // Act
      const r = await home.run(['records', 'import', '-', '--keyring', 'pii'], { stdin: input, now: at(1) });

      // Assess
      expect(r.code).toBe(7);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('rekey: '));
      expect(lines).toEqual([`rekey: acted on local home ${home.dir}`, 'rekey: 1 item(s) failed and 2 were imported: fix them and rerun the same command (ids already imported are skipped)']);
      expect(r.stderr.trimEnd().split('\n').slice(-2)).toEqual(lines);
    });
  });

  describe('after a refusal (exit 2)', () => {
    it.each([
      ['a grace longer than the rotation period', ['keyring', 'update', 'pii', '--grace', '60d']],
      ['a revoke without --yes and no terminal', ['revoke', 'pii', '--version', '1', '--reason', 'x']],
      ['a keyring delete without --yes and no terminal', ['keyring', 'delete', 'pii']],
      ['a bad duration', ['keyring', 'update', 'pii', '--rotate-every', '30 days']],
      ['a zoneless --at', ['tick', '--at', '2030-01-09T00:00:00']],
    ])('names no system for %s, and changes nothing', async (_name, argv) => {
      // Prepare
      const before = await home.snapshot();

      // Act
      const r = await home.run(argv, { now: at(1) });

      // Assess
      expectFailure(r, 2);
      expect(r.stderr).not.toContain('acted on');
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('--aws with a changing command and a closed endpoint', () => {
    it.each([
      ['rotate', ['rotate', 'pii']],
      ['freeze', ['freeze', 'pii', '--reason', 'INC-7']],
      ['unfreeze', ['unfreeze', 'pii']],
      ['revoke --yes', ['revoke', 'pii', '--version', '1', '--reason', 'SEC-3', '--yes']],
    ])('names no system for %s and leaves the local home as it was', async (_name, argv) => {
      // Prepare
      const before = await home.snapshot();

      // Act: REKEY_HOME points at the local home, as in an operator's shell
      const r = await runCli([...argv, ...CLOSED, '--aws'], { env: { ...NO_AWS, REKEY_HOME: home.dir } });

      // Assess
      expectFailure(r, 6, /^rekey: could not connect to http:\/\/127\.0\.0\.1:9: connection refused; check --endpoint/);
      expect(r.stderr).not.toContain('acted on');
      expect(await home.snapshot()).toBe(before);
    }, 30_000);
  });
});
