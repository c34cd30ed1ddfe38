import { buildProgram } from '../../../cli/main';
import { checkModeFit, splitMode, wantsVersion, type Mode } from '../../../cli/modes';
import { ValidationError } from '../../../shared/errors';

const trees = (): Record<Mode, ReturnType<typeof buildProgram>> => ({ local: buildProgram('local'), aws: buildProgram('aws') });

describe('modes (which system a command line means)', () => {
  describe('splitMode', () => {
    it.each([
      [['--aws', 'status'], 'aws', ['status']],
      [['rotate', 'pii', '--aws'], 'aws', ['rotate', 'pii']],
      [['revoke', 'pii', '--version', '1', '--reason', 'x', '--aws'], 'aws', ['revoke', 'pii', '--version', '1', '--reason', 'x']],
      [['--home', 'X', '--aws', 'freeze', 'pii'], 'aws', ['--home', 'X', 'freeze', 'pii']],
      [['status'], 'local', ['status']],
      [['records', 'get', '--', '--aws'], 'local', ['records', 'get', '--', '--aws']],
    ] as const)('%j → %s %j', (argv, mode, rest) => {
      // Act
      const split = splitMode(argv);

      // Assess
      expect(split).toEqual({ mode, argv: rest });
    });
  });

  describe('checkModeFit', () => {
    it.each([
      ['aws', ['encrypt', '--keyring', 'pii'], /^'encrypt' is local mode only: /],
      ['aws', ['keyring', 'create', 'x'], /^'keyring create' is local mode only: .*cdk\.json \(keyrings\).*cdk deploy/],
      ['aws', ['sweep', 'pii'], /^'sweep' is local mode only/],
      ['aws', ['audit'], /^'audit' is local mode only/],
      ['aws', ['escrow', 'archive'], /^'escrow archive' is local mode only/],
      ['aws', ['--home', 'X', 'freeze', 'pii'], /^--home is local mode only: drop --aws/],
      ['aws', ['status', '--now', '+8d'], /^--now is local mode only/],
      ['local', ['rotate', 'pii', '--stack', 'Prod'], /^--stack is AWS mode only: add --aws to drive a deployed stack/],
      ['local', ['--region=eu-west-1', 'status'], /^--region is AWS mode only: add --aws/],
      ['local', ['status', '--count-records'], /^--count-records of 'status' is AWS mode only: add --aws/],
    ] as const)('refuses %s %j', (mode, argv, message) => {
      // Act
      const attempt = (): void => checkModeFit(mode, argv, trees());

      // Assess
      expect(attempt).toThrow(ValidationError);
      expect(attempt).toThrow(message);
    });

    it.each([
      ['aws', ['--stack', 'Prod', '--region', 'eu-west-1', 'rotate', 'pii']],
      ['aws', ['escrow', 'verify', 'pii']],
      ['local', ['--home', 'X', '--now', '2030-01-01T00:00:00Z', 'freeze', 'pii', '--reason', 'x']],
      ['local', ['revoke', 'pii', '--version', '1', '--reason', 'x']],
      ['local', ['stauts']],
      ['local', ['status', '--jsn']],
    ] as const)('lets %s %j through (typos are the parser’s to name)', (mode, argv) => {
      // Act
      const attempt = (): void => checkModeFit(mode, argv, trees());

      // Assess
      expect(attempt).not.toThrow();
    });
  });

  describe('wantsVersion', () => {
    it.each([
      [['--version'], true],
      [['-V'], true],
      [['revoke', 'pii', '--version', '3'], false],
      [['status'], false],
    ] as const)('%j → %s', (argv, expected) => {
      // Act
      const wants = wantsVersion(argv, buildProgram('local'));

      // Assess
      expect(wants).toBe(expected);
    });
  });
});
