import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../../cli/main';
import { EXIT_CODES } from '../../../cli/errors-to-exit';
import { leafCommands } from '../../../cli/help';
import { REPO_ROOT, runCli } from './support/cli-harness';
import { expectFailure } from './support/test-home';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('rekey help, version and usage errors', () => {
  describe('rekey --help', () => {
    it('lists every local group, AWS mode with its commands and flags, the environment, times and exit codes', async () => {
      // Act
      const r = await runCli(['--help']);
      const text = r.stdout.toString('utf8');

      // Assess
      expect(r.code).toBe(0);
      for (const c of buildProgram('local').commands) expect(text).toMatch(new RegExp(`^  ${c.name()}\\b`, 'm'));
      expect(text).toContain('AWS mode (--aws');
      for (const { path } of leafCommands(buildProgram('aws'))) expect(text).toContain(`rekey --aws ${path}`);
      expect(text).toMatch(/--stack <name> +the deployed stack \(default: Rekey\)/);
      expect(text).toMatch(/--region <region> +AWS region \(default: from AWS_REGION/);
      expect(text).toContain('--endpoint <url>');
      for (const name of ['REKEY_HOME', 'REKEY_REDIS_URL', 'REKEY_CATALOG_TTL_MS', 'REKEY_DEBUG=1', 'AWS_REGION', 'AWS_PROFILE']) expect(text).toContain(name);
      expect(text).toContain('(default: ./.rekey)');
      expect(text).toContain('take a zone');
      expect(text).toContain('+8d');
      for (const { code } of EXIT_CODES) expect(text).toMatch(new RegExp(`^  ${code} +\\S`, 'm'));
      expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThanOrEqual(80);
    });

    it('is the AWS tree’s with --aws anywhere', async () => {
      // Act
      const r = await runCli(['--help', '--aws']);
      const text = r.stdout.toString('utf8');

      // Assess
      expect(r.code).toBe(0);
      expect(text).toContain('--stack <name>');
      expect(text).not.toContain('--home <dir>');
      expect(text).toContain('Exit codes:');
    });
  });

  describe('every command', () => {
    const leaves = [...leafCommands(buildProgram('local')).map((l) => ['local', l.path] as const), ...leafCommands(buildProgram('aws')).map((l) => ['aws', l.path] as const)];

    it.each(leaves)('%s `%s --help` shows an example', async (mode, path) => {
      // Act
      const r = await runCli([...(mode === 'aws' ? ['--aws'] : []), ...path.split(' '), '--help']);
      const text = r.stdout.toString('utf8');

      // Assess
      expect(r.code).toBe(0);
      expect(text).toMatch(/^Examples?:$/m);
      expect(text).toMatch(new RegExp(`^  \\$ rekey ${mode === 'aws' ? '--aws (--\\S+ \\S+ )*' : ''}${path}( |$)`, 'm'));
    });
  });

  describe('version', () => {
    it.each([['--version'], ['-V']])('%s prints rekey and the package version', async (flag) => {
      // Act
      const r = await runCli([flag]);

      // Assess
      expect({ code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr }).toEqual({ code: 0, stdout: `rekey ${VERSION}\n`, stderr: '' });
    });

    it('leaves a command’s own --version alone', async () => {
      // Act
      const r = await runCli(['revoke', 'pii', '--version', 'one', '--reason', 'x']);

      // Assess
      expectFailure(r, 2, /--version must be a positive integer/);
    });
  });

  describe('usage errors', () => {
    it('prints the help on stderr and exits 2 when no command is given', async () => {
      // Act
      const r = await runCli([]);

      // Assess
      expect(r.code).toBe(2);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(/^Usage: rekey /);
    });

    it.each([
      ['a mistyped command', ['stauts'], /^rekey: unknown command 'stauts' \(did you mean status\?\)$/],
      ['a mistyped option', ['status', '--jsn'], /^rekey: unknown option '--jsn' \(did you mean --json\?\)$/],
      ['a mistyped subcommand', ['escrow', 'verfy'], /^rekey: unknown command 'verfy' \(did you mean verify\?\)$/],
      ['a missing argument', ['rotate'], /^rekey: missing required argument 'keyring'$/],
    ])('names %s on one line with exit 2', async (_label, argv, message) => {
      // Act
      const r = await runCli(argv);

      // Assess
      expectFailure(r, 2, message);
    });
  });
});
