import { EXIT_CODES, InterruptedError, describeFailure } from '../../../cli/errors-to-exit';
import { AlreadyExistsError, BackendError, FrozenError, NotFoundError, PartialFailureError, ValidationError } from '../../../shared/errors';

describe('describeFailure (error → one line and exit code)', () => {
  it.each([
    ['a usage error', new ValidationError('--grace must be a duration'), 2],
    ['a missing keyring or home', new NotFoundError('no rekey home at /x'), 4],
    ['an existing keyring', new AlreadyExistsError("keyring 'pii' already exists"), 5],
    ['a frozen keyring', new FrozenError('pii'), 5],
    ['a backend failure', new BackendError('catalog unavailable'), 6],
    ['a partial failure', new PartialFailureError('3 of 10 records failed; rerun to resume'), 7],
    ['an interruption', new InterruptedError('interrupted; rerun to resume'), 130],
  ])('maps %s to its exit code, one line starting rekey:', (_label, err, code) => {
    // Act
    const { line, exitCode } = describeFailure(err);

    // Assess
    expect(exitCode).toBe(code);
    expect(line).toMatch(/^rekey: [^\n]+$/);
    expect(EXIT_CODES.map((e) => e.code)).toContain(code);
  });

  it('shows only the class of an unexpected error, never its message', () => {
    // Act
    const { line, exitCode } = describeFailure(new TypeError('secret-looking detail'));

    // Assess
    expect({ line, exitCode }).toEqual({ line: 'rekey: unexpected TypeError; rerun with REKEY_DEBUG=1 for details', exitCode: 1 });
  });
});
