import { ValidationError } from '../errors';
import { assertKeyringName } from '../vocabulary/keyring-name';
import { MAX_DURATION_SECONDS, formatDuration, parseDuration } from '../vocabulary/duration';
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

/** How a caller names each policy field in its messages (a CLI names its flags, not the stored fields). */
export type PolicyNames = Readonly<Record<keyof KeyringPolicy, string>>;

/** The stored field names: what the core's messages say when no caller-side names are given. */
export const POLICY_FIELD_NAMES: PolicyNames = Object.freeze({
  rotateEverySeconds: 'rotateEverySeconds',
  graceSeconds: 'graceSeconds',
  propagationSeconds: 'propagationSeconds',
  retentionSeconds: 'retentionSeconds',
  quietSeconds: 'quietSeconds',
  destroyAfterRetention: 'destroyAfterRetention',
});

/** The CLI's flags for each policy field (`keyring create` and `keyring update`). */
export const POLICY_FLAG_NAMES: PolicyNames = Object.freeze({
  rotateEverySeconds: '--rotate-every',
  graceSeconds: '--grace',
  propagationSeconds: '--propagation',
  retentionSeconds: '--retention',
  quietSeconds: '--quiet',
  destroyAfterRetention: '--destroy-after-retention',
});

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
 * before the previous one could ever encrypt). Messages name the fields as `names` says.
 *
 * @throws ValidationError naming the first offending field.
 */
export function validatePolicy(policy: KeyringPolicy, names: PolicyNames = POLICY_FIELD_NAMES): void {
  for (const field of POLICY_DURATION_FIELDS) {
    const value: unknown = (policy as unknown as Record<string, unknown>)[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ValidationError(`invalid policy: ${names[field]} must be a non-negative whole number of seconds`);
    }
    if (value > MAX_DURATION_SECONDS) {
      throw new ValidationError(`invalid policy: ${names[field]} must be at most 100 years`);
    }
  }
  if (typeof (policy as unknown as Record<string, unknown>)['destroyAfterRetention'] !== 'boolean') {
    throw new ValidationError(`invalid policy: ${names.destroyAfterRetention} must be true or false`);
  }
  if (policy.rotateEverySeconds <= 0) {
    throw new ValidationError(`invalid policy: ${names.rotateEverySeconds} must be positive`);
  }
  if (policy.rotateEverySeconds <= policy.propagationSeconds) {
    throw new ValidationError(`invalid policy: ${names.rotateEverySeconds} must be longer than ${names.propagationSeconds}`);
  }
}

/**
 * Checks what {@link validatePolicy} lets through but an operator would not mean: a grace period
 * longer than the rotation period. Applied when an operator sets a policy (`keyring create`,
 * `keyring update`), not to stored catalogs: a keyring written before the rule keeps working.
 *
 * @example
 * assertCoherentPolicy({ ...DEFAULT_POLICY, rotateEverySeconds: 86_400 }, POLICY_FLAG_NAMES);
 * // ValidationError: --grace 7d is longer than --rotate-every 1d: ...
 * @throws ValidationError saying which two settings disagree and how to fix them.
 */
export function assertCoherentPolicy(policy: KeyringPolicy, names: PolicyNames = POLICY_FIELD_NAMES): void {
  validatePolicy(policy, names);
  if (policy.graceSeconds > policy.rotateEverySeconds) {
    const grace = `${names.graceSeconds} ${formatDuration(policy.graceSeconds)}`;
    const rotate = `${names.rotateEverySeconds} ${formatDuration(policy.rotateEverySeconds)}`;
    throw new ValidationError(
      `${grace} is longer than ${rotate}: a superseded version would still be in its grace period when the next rotation comes; shorten ${flagOf(names.graceSeconds)} or lengthen ${flagOf(names.rotateEverySeconds)}`,
    );
  }
}

/** The bare name inside a qualified one ("the default --grace" → "--grace"). */
function flagOf(name: string): string {
  return name.split(' ').at(-1) ?? name;
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
 * Parses a policy written with duration strings; missing fields take the defaults. With
 * `names`, a bad duration or combination is reported under the caller's names (the CLI's flags).
 *
 * @example
 * parsePolicy({ rotateEvery: '30d', grace: '36h' });
 * @throws ValidationError on a bad duration or an invalid combination.
 */
export function parsePolicy(input: PolicyDurations, names?: PolicyNames): KeyringPolicy {
  const partial = parsePolicyDurations(input, names);
  if (names === undefined) return resolvePolicy(partial);
  const merged: KeyringPolicy = { ...DEFAULT_POLICY, ...partial };
  validatePolicy(merged, names);
  return merged;
}

/**
 * Parses only the fields given (what `keyring update` changes), each duration named as `names`
 * says; nothing is defaulted or cross-checked.
 *
 * @example
 * parsePolicyDurations({ grace: '1d' }, POLICY_FLAG_NAMES); // { graceSeconds: 86400 }
 * @throws ValidationError on a bad duration.
 */
export function parsePolicyDurations(input: PolicyDurations, names?: PolicyNames): Partial<KeyringPolicy> {
  const seconds = (text: string | undefined, field: keyof KeyringPolicy): number | undefined => (text === undefined ? undefined : parseDuration(text, names?.[field]));
  return definedOnly({
    rotateEverySeconds: seconds(input.rotateEvery, 'rotateEverySeconds'),
    graceSeconds: seconds(input.grace, 'graceSeconds'),
    propagationSeconds: seconds(input.propagation, 'propagationSeconds'),
    retentionSeconds: seconds(input.retention, 'retentionSeconds'),
    quietSeconds: seconds(input.quiet, 'quietSeconds'),
    destroyAfterRetention: input.destroyAfterRetention,
  });
}

function definedOnly(partial: { [K in keyof KeyringPolicy]?: KeyringPolicy[K] | undefined }): Partial<KeyringPolicy> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<KeyringPolicy>;
}
