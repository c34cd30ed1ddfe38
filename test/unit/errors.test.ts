import { buildSync } from 'esbuild';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { ESBUILD_OPTIONS } from '../../infra/defaults';
import * as errors from '../../shared/errors';
import { BackendError, ConflictError, summarizeError, ValidationError } from '../../shared/errors';

// The wire contract: these names appear in responses (`error.name`), logs, and the sweep state
// machine's retriers (infra/constructs/sweep-state-machine.ts), so none may change.
const WIRE_NAMES = [
  'RekeyError',
  'DecryptError',
  'ValidationError',
  'LimitExceededError',
  'UnknownKeyringError',
  'UnknownVersionError',
  'RevokedVersionError',
  'VersionUnavailableError',
  'ContextRequiredError',
  'ContextMismatchError',
  'ConflictError',
  'NotFoundError',
  'AlreadyExistsError',
  'IllegalTransitionError',
  'FrozenError',
  'KeyUnavailableError',
  'ThrottledError',
  'AccessDeniedError',
  'BackendError',
  'NotARecordError',
  'PartialFailureError',
];

type ErrorClass = new (...args: unknown[]) => Error;

function errorClasses(exports: Record<string, unknown>): Array<[string, ErrorClass]> {
  return Object.entries(exports).filter(([name]) => /^[A-Z].*Error$/.test(name)) as Array<[string, ErrorClass]>;
}

describe('errors', () => {
  describe('name', () => {
    it('is the wire name of every error class', () => {
      // Act
      const names = errorClasses(errors as unknown as Record<string, unknown>).map(([exported, C]) => [exported, new C('VALIDATION', 'x').name]);
      // Assess
      expect(names.map(([exported]) => exported).sort()).toEqual([...WIRE_NAMES].sort());
      for (const [exported, name] of names) expect(name).toBe(exported);
    });

    it('keeps every error class name in a bundle built with the options the stack deploys', () => {
      // Prepare: bundle shared/errors.ts exactly as the stack bundles functions (minified, class
      // names mangled: no keepNames, as any application's minifying bundler may do).
      const out = buildSync({
        ...ESBUILD_OPTIONS,
        keepNames: false,
        mainFields: [...ESBUILD_OPTIONS.mainFields],
        external: [...ESBUILD_OPTIONS.external],
        sourcemap: false,
        entryPoints: [join(__dirname, '..', '..', 'shared', 'errors.ts')],
        write: false,
      });
      const module = { exports: {} as Record<string, unknown> };
      runInNewContext(out.outputFiles[0]!.text, { module, exports: module.exports });
      // Act
      const names = errorClasses(module.exports).map(([exported, C]) => [exported, new C('VALIDATION', 'x').name]);
      // Assess
      expect(names.map(([exported]) => exported).sort()).toEqual([...WIRE_NAMES].sort());
      for (const [exported, name] of names) expect(name).toBe(exported);
    });
  });

  describe('summarizeError', () => {
    it('reports a RekeyError by its own code, message and retryability', () => {
      // Act / Assess
      expect(summarizeError(new ValidationError('bad input'))).toEqual({ code: 'VALIDATION', message: 'bad input', retryable: false });
      expect(summarizeError(new ConflictError('lost a race'))).toEqual({ code: 'CONFLICT', message: 'lost a race', retryable: true });
      expect(summarizeError(new BackendError('corrupt', { retryable: false }))).toEqual({ code: 'BACKEND', message: 'corrupt', retryable: false });
    });

    it('reports anything else as a retryable BACKEND failure naming only its class', () => {
      // Act
      const summaries = [summarizeError(new TypeError('secret-bearing detail')), summarizeError('a string'), summarizeError(undefined)];
      // Assess
      expect(summaries).toEqual([
        { code: 'BACKEND', message: 'unexpected failure (TypeError)', retryable: true },
        { code: 'BACKEND', message: 'unexpected failure (string)', retryable: true },
        { code: 'BACKEND', message: 'unexpected failure (undefined)', retryable: true },
      ]);
      expect(JSON.stringify(summaries)).not.toContain('secret');
    });
  });
});
