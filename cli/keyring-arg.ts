/**
 * One way to name a keyring: a positional argument everywhere; where a command took
 * `--keyring NAME` before, the flag still works. Both at once must agree.
 */
import { ValidationError } from '../shared/errors';

/**
 * The keyring named by the positional argument or the `--keyring` flag.
 *
 * @example
 * keyringArg('pii', undefined, { required: true }); // 'pii'
 * @throws ValidationError when both are given and differ, or when required and neither is.
 */
export function keyringArg(positional: string | undefined, flag: string | undefined, options: { required: true }): string;
export function keyringArg(positional: string | undefined, flag: string | undefined, options?: { required?: false }): string | undefined;
export function keyringArg(positional: string | undefined, flag: string | undefined, options: { required?: boolean } = {}): string | undefined {
  if (positional !== undefined && flag !== undefined && positional !== flag) {
    throw new ValidationError(`keyring given twice ('${positional.slice(0, 64)}' and --keyring '${flag.slice(0, 64)}'): give it once`);
  }
  const name = positional ?? flag;
  if (name === undefined && options.required === true) throw new ValidationError('name the keyring: rekey <command> KEYRING (or --keyring KEYRING)');
  return name;
}
