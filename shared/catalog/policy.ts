import { ValidationError } from '../errors';
import { assertKeyringName } from '../vocabulary/keyring-name';
import { MAX_DURATION_SECONDS, parseDuration } from '../vocabulary/duration';
import type { KeyringPolicy } from './model';

/**
 * The default rotation policy: rotate every 90 days, keep the superseded version fully usable
 * for 7 days, give readers 10 minutes to learn a new version before it encrypts, disable a
 * deprecated version only after its key went 7 days unused (and nothing counted references it),
 * and keep a disabled version 30 days; it is never destroyed unless the keyring opts in.
 */
export const DEFAULT_POLICY: KeyringPolicy = Object.freeze({
  rotateEverySeconds: 90 * 86_400,
  graceSeconds: 7 * 86_400,
  propagationSeconds: 10 * 60,
  retentionSeconds: 30 * 86_400,
  quietSeconds: 7 * 86_400,
  destroyAfterRetention: false,
});

/**
 * The least quiet period of a keyring with unmanaged sources, whatever its policy says: rekey
 * cannot count files or backups, so the absence of key use is the only evidence it has, and
 * evidence needs time to accumulate (a nightly job, a weekly report). Never 0.
 */
export const UNMANAGED_MIN_QUIET_SECONDS = 7 * 86_400;

/** The policy's duration fields, in seconds (what the duration checks cover). */
export const POLICY_DURATION_FIELDS = ['rotateEverySeconds', 'graceSeconds', 'propagationSeconds', 'retentionSeconds', 'quietSeconds'] as const;


/**
 * Checks a keyring name: 1 to 64 characters of `[a-z0-9._-]`, starting with a letter or digit.
 * The name appears in S3 keys, encryption contexts and metric dimensions, hence the narrow set.
 *
 * @example
 * validateKeyringName('payments'); // ok
 * @throws ValidationError when the name is not allowed.
 */
export function validateKeyringName(name: unknown): asserts name is string {
  // The one keyring-name rule (shared/vocabulary/keyring-name.ts), shared with the envelope's
  // header check, the event schemas and the configuration.
  assertKeyringName(name);
}

/**
 * Checks a complete policy: whole non-negative seconds, at most 100 years each, rotation
 * period positive and longer than the propagation window (otherwise a new version would be due
 * before the previous one could ever encrypt).
 *
 * @throws ValidationError naming the first offending field.
 */
export function validatePolicy(policy: KeyringPolicy): void {
  for (const field of POLICY_DURATION_FIELDS) {
    const value: unknown = (policy as unknown as Record<string, unknown>)[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ValidationError(`invalid policy: ${field} must be a non-negative whole number of seconds`);
    }
    if (value > MAX_DURATION_SECONDS) {
      throw new ValidationError(`invalid policy: ${field} must be at most 100 years`);
    }
  }
  if (typeof (policy as unknown as Record<string, unknown>)['destroyAfterRetention'] !== 'boolean') {
    throw new ValidationError('invalid policy: destroyAfterRetention must be true or false');
  }
  if (policy.rotateEverySeconds <= 0) {
    throw new ValidationError('invalid policy: rotateEverySeconds must be positive');
  }
  if (policy.rotateEverySeconds <= policy.propagationSeconds) {
    throw new ValidationError('invalid policy: rotateEverySeconds must be longer than propagationSeconds');
  }
}

/**
 * Fills the fields added after a policy may have been written (the quiet period and the
 * destruction opt-in) with their defaults, keeping every other field as given; a policy object
 * built by an older caller therefore means what it meant, only more careful.
 *
 * @example
 * withPolicyDefaults({ rotateEverySeconds: 3600, graceSeconds: 60, propagationSeconds: 60, retentionSeconds: 60 }).destroyAfterRetention; // false
 */
export function withPolicyDefaults(policy: Omit<KeyringPolicy, 'quietSeconds' | 'destroyAfterRetention'> & Partial<KeyringPolicy>): KeyringPolicy {
  return {
    ...policy,
    quietSeconds: policy.quietSeconds ?? DEFAULT_POLICY.quietSeconds,
    destroyAfterRetention: policy.destroyAfterRetention ?? DEFAULT_POLICY.destroyAfterRetention,
  };
}

/**
 * Completes a partial policy with {@link DEFAULT_POLICY} and validates the result.
 *
 * @example
 * resolvePolicy({ graceSeconds: 0 }); // defaults with no grace period
 * @throws ValidationError when a field is unknown or the result is invalid.
 */
export function resolvePolicy(partial?: Partial<KeyringPolicy>): KeyringPolicy {
  if (partial !== undefined) {
    for (const key of Object.keys(partial)) {
      if (!(key in DEFAULT_POLICY)) {
        throw new ValidationError(`invalid policy: unknown field '${key.slice(0, 40)}'`);
      }
    }
  }
  const policy: KeyringPolicy = {
    rotateEverySeconds: partial?.rotateEverySeconds ?? DEFAULT_POLICY.rotateEverySeconds,
    graceSeconds: partial?.graceSeconds ?? DEFAULT_POLICY.graceSeconds,
    propagationSeconds: partial?.propagationSeconds ?? DEFAULT_POLICY.propagationSeconds,
    retentionSeconds: partial?.retentionSeconds ?? DEFAULT_POLICY.retentionSeconds,
    quietSeconds: partial?.quietSeconds ?? DEFAULT_POLICY.quietSeconds,
    destroyAfterRetention: partial?.destroyAfterRetention ?? DEFAULT_POLICY.destroyAfterRetention,
  };
  validatePolicy(policy);
  return policy;
}

/** A policy written with duration strings, as the CLI and configuration files take it. */
export interface PolicyDurations {
  readonly rotateEvery?: string;
  readonly grace?: string;
  readonly propagation?: string;
  readonly retention?: string;
  /** The quiet period (`quietSeconds`). */
  readonly quiet?: string;
  /** Opt in to destruction after retention. */
  readonly destroyAfterRetention?: boolean;
}

/**
 * Parses a policy written with duration strings; missing fields take the defaults.
 *
 * @example
 * parsePolicy({ rotateEvery: '30d', grace: '36h' });
 * @throws ValidationError on a bad duration or an invalid combination.
 */
export function parsePolicy(input: PolicyDurations): KeyringPolicy {
  const seconds = (text: string | undefined): number | undefined => (text === undefined ? undefined : parseDuration(text));
  return resolvePolicy({
    rotateEverySeconds: seconds(input.rotateEvery),
    graceSeconds: seconds(input.grace),
    propagationSeconds: seconds(input.propagation),
    retentionSeconds: seconds(input.retention),
    quietSeconds: seconds(input.quiet),
    destroyAfterRetention: input.destroyAfterRetention,
  });
}
