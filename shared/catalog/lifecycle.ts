/**
 * The key-version state machine: a pure function of (catalog, now, facts). Nothing here does
 * I/O or reads a clock; the KeyringService gathers facts, generates keys and writes with
 * compare-and-swap.
 */
import { FrozenError, IllegalTransitionError, UnknownVersionError, ValidationError } from '../errors';
import type { KeyPurpose } from '../envelope/api';
import type { Catalog, FreezeInfo, KeyringPolicy, KeyVersion, VersionState } from './model';
import { validateKeyringName, validatePolicy, withPolicyDefaults } from './policy';
import { normalizeUnmanaged } from './sources';
import { isDueNow, outlookOf, type LifecycleFacts } from './version-outlook';

export type { KeyUseFacts, LifecycleFacts } from './version-outlook';

/** A freshly generated version key, as stored: wrapped by the vault, base64. */
export interface NewVersionKey {
  readonly wrappedKey: string;
  readonly wrappingKeyId: string;
}

/** A transition the planner found due. `create-pending` still needs a key from the vault. */
export type PlannedTransition =
  | { readonly kind: 'create-pending'; readonly version: number }
  | { readonly kind: 'promote'; readonly version: number; readonly demoted: number }
  | { readonly kind: 'deprecate'; readonly version: number }
  | { readonly kind: 'disable'; readonly version: number }
  | { readonly kind: 'destroy'; readonly version: number };

/** A transition ready to apply: planned ones with their key, plus operator revocation. */
export type Transition =
  | { readonly kind: 'create-pending'; readonly version: number; readonly key: NewVersionKey }
  | Exclude<PlannedTransition, { readonly kind: 'create-pending' }>
  /** Operator recovery: a disabled (never revoked) version decrypts again, as deprecated. */
  | { readonly kind: 'reenable'; readonly version: number }
  | {
      readonly kind: 'revoke';
      readonly version: number;
      readonly reason: string;
      /** Who revoked it (the audit actor), kept on the version as `revokedBy`. */
      readonly by?: string;
      /** The fresh version made active at once, generated for this revocation. */
      readonly replacement: { readonly version: number; readonly key: NewVersionKey };
    };

/** What a version that fact-dependent planning is waiting on needs to be known about it. */
export interface FactRequest {
  readonly version: number;
  /** True when the escrow verification matters too (a disabled version past retention). */
  readonly escrow: boolean;
}

/** Reason recorded on a pending version discarded by an emergency revocation. */
export const SUPERSEDED_REASON_PREFIX = 'superseded by the emergency revocation of version';

/**
 * Builds the catalog of a new keyring. Version 1 is active at once: there is no reader yet to
 * propagate it to.
 *
 * @example
 * const catalog = createCatalog('payments', DEFAULT_POLICY, { wrappedKey, wrappingKeyId }, new Date());
 * @throws ValidationError on a bad name, policy or key.
 */
export function createCatalog(keyring: string, given: KeyringPolicy, firstVersion: NewVersionKey, now: Date): Catalog {
  validateKeyringName(keyring);
  const policy = withPolicyDefaults(given);
  validatePolicy(policy);
  validateKey(firstVersion);
  const at = iso(now);
  return {
    schema: 1,
    keyring,
    generation: 1,
    policy: { ...policy },
    versions: [
      { version: 1, state: 'active', wrappedKey: firstVersion.wrappedKey, wrappingKeyId: firstVersion.wrappingKeyId, createdAt: at, activatedAt: at },
    ],
    createdAt: at,
    updatedAt: at,
  };
}

/** True while an operator freeze or the circuit breaker pauses automatic transitions. */
export function isPaused(catalog: Catalog): boolean {
  return catalog.frozen !== undefined || catalog.breaker !== undefined;
}

/** The next logical version number: one above every version ever created (destroyed ones included). */
export function nextVersion(catalog: Catalog): number {
  return catalog.versions.reduce((max, v) => Math.max(max, v.version), 0) + 1;
}

/** The active version, or undefined in a (broken) catalog without one. */
export function activeVersion(catalog: Catalog): KeyVersion | undefined {
  return catalog.versions.find((v) => v.state === 'active');
}

/** The pending version, if a rotation is propagating. */
export function pendingVersion(catalog: Catalog): KeyVersion | undefined {
  return catalog.versions.find((v) => v.state === 'pending');
}

/**
 * The facts the planner needs at `now`: reference counts (and key use) of deprecated and
 * revoked versions, and, when the keyring opted in to destruction, of disabled versions past
 * retention together with their escrow status. Empty while paused.
 */
export function factsNeeded(catalog: Catalog, now: Date): FactRequest[] {
  if (isPaused(catalog)) {
    return [];
  }
  const out: FactRequest[] = [];
  for (const v of catalog.versions) {
    if (v.state === 'deprecated' || v.state === 'revoked') {
      out.push({ version: v.version, escrow: false });
    } else if (v.state === 'disabled' && catalog.policy.destroyAfterRetention && isDue(v.disabledAt, catalog.policy.retentionSeconds, now)) {
      out.push({ version: v.version, escrow: true });
    }
  }
  return out;
}

/**
 * Lists the transitions due at `now`, in the order they should be applied: the rotation step
 * (promote or create-pending) first, then each version's own step in version order. Pure. A
 * step is due when its version's outlook ({@link outlookOf}) says so, so `status`, `plan` and
 * the tick never disagree. Freeze and breaker pause every automatic transition (revocation and
 * re-enabling are not planned here).
 *
 * @example
 * const due = planTransitions(catalog, new Date(), { references: new Map([[1, 0]]), escrowVerified: new Set() });
 */
export function planTransitions(catalog: Catalog, now: Date, facts: LifecycleFacts): PlannedTransition[] {
  if (isPaused(catalog)) {
    return [];
  }
  const active = activeVersion(catalog);
  const rotation: PlannedTransition[] = [];
  const out: PlannedTransition[] = [];
  for (const o of outlookOf(catalog, now, facts)) {
    if (!isDueNow(o, now)) continue;
    switch (o.next) {
      case 'rotate':
        rotation.push({ kind: 'create-pending', version: nextVersion(catalog) });
        break;
      case 'promote':
        if (active !== undefined) rotation.push({ kind: 'promote', version: o.version, demoted: active.version });
        break;
      case 'deprecate':
      case 'disable':
      case 'destroy':
        out.push({ kind: o.next, version: o.version });
        break;
      default:
        break;
    }
  }
  return [...rotation, ...out];
}

/**
 * Applies one transition and returns the new catalog (the input is not modified).
 * Checks the source state of every version it touches; automatic transitions are refused
 * while paused, revocation never is. Timestamps never go backwards: `now` is raised to the
 * catalog's `updatedAt` when a reconciler's clock lags another's. Re-enabling is an operator's
 * recovery step and, like revocation, is not paused.
 *
 * @example
 * const next = applyTransition(catalog, { kind: 'deprecate', version: 2 }, new Date());
 * @throws IllegalTransitionError when the state machine does not allow it,
 *   UnknownVersionError for a missing version, FrozenError for an automatic transition while paused,
 *   ValidationError for a bad key or reason.
 */
export function applyTransition(catalog: Catalog, transition: Transition, now: Date): Catalog {
  if (transition.kind !== 'revoke' && transition.kind !== 'reenable' && isPaused(catalog)) {
    throw new FrozenError(`keyring '${catalog.keyring}' is ${catalog.frozen !== undefined ? 'frozen' : 'held by the circuit breaker'}; automatic transitions are paused`);
  }
  const at = iso(new Date(Math.max(now.getTime(), Date.parse(catalog.updatedAt))));
  const versions = [...catalog.versions];
  const indexOf = (version: number): number => {
    const i = versions.findIndex((v) => v.version === version);
    if (i < 0) {
      throw new UnknownVersionError(catalog.keyring, version);
    }
    return i;
  };
  const expect = (i: number, allowed: readonly VersionState[], kind: string): KeyVersion => {
    const v = versions[i] as KeyVersion;
    if (!allowed.includes(v.state)) {
      throw new IllegalTransitionError(`cannot ${kind} version ${v.version} of keyring '${catalog.keyring}': it is ${v.state}`);
    }
    return v;
  };

  switch (transition.kind) {
    case 'create-pending': {
      validateKey(transition.key);
      if (pendingVersion(catalog) !== undefined) {
        throw new IllegalTransitionError(`keyring '${catalog.keyring}' already has a pending version`);
      }
      requireNext(catalog, transition.version);
      versions.push({ version: transition.version, state: 'pending', ...keyFields(transition.key), createdAt: at });
      break;
    }
    case 'promote': {
      const pi = indexOf(transition.version);
      const ai = indexOf(transition.demoted);
      const pending = expect(pi, ['pending'], 'promote');
      const active = expect(ai, ['active'], 'demote');
      versions[pi] = { ...pending, state: 'active', activatedAt: at };
      versions[ai] = { ...active, state: 'rotating', rotatingAt: at };
      break;
    }
    case 'deprecate': {
      const i = indexOf(transition.version);
      versions[i] = { ...expect(i, ['rotating'], 'deprecate'), state: 'deprecated', deprecatedAt: at };
      break;
    }
    case 'disable': {
      const i = indexOf(transition.version);
      versions[i] = { ...expect(i, ['deprecated', 'revoked'], 'disable'), state: 'disabled', disabledAt: at };
      break;
    }
    case 'reenable': {
      const i = indexOf(transition.version);
      const v = versions[i] as KeyVersion;
      if (v.revokedAt !== undefined) {
        // A compromised key stays out of use: its data is re-encrypted, not read again.
        throw new IllegalTransitionError(`cannot re-enable version ${v.version} of keyring '${catalog.keyring}': it was revoked at ${v.revokedAt}`);
      }
      const { disabledAt: _was, ...rest } = expect(i, ['disabled'], 're-enable');
      versions[i] = { ...rest, state: 'deprecated', reenabledAt: at };
      break;
    }
    case 'destroy': {
      const i = indexOf(transition.version);
      const { wrappedKey: _dropped, ...rest } = expect(i, ['disabled'], 'destroy');
      versions[i] = { ...rest, state: 'destroyed', destroyedAt: at };
      break;
    }
    case 'revoke': {
      const reason = transition.reason.trim();
      if (reason.length === 0) {
        throw new ValidationError('a revocation needs a reason');
      }
      validateKey(transition.replacement.key);
      const ri = indexOf(transition.version);
      const revoked = expect(ri, ['pending', 'active', 'rotating', 'deprecated', 'disabled'], 'revoke');
      requireNext(catalog, transition.replacement.version);
      // A disabled version can be found compromised too; it is no longer disabled (it goes back to
      // disabled, with a new disabledAt, once its re-encryption is verified), so the stamp goes.
      const { disabledAt: _wasDisabled, ...still } = revoked;
      const by = transition.by === undefined ? {} : { revokedBy: transition.by };
      versions[ri] = { ...still, state: 'revoked', revokedAt: at, revokedReason: reason, ...by };
      for (let i = 0; i < versions.length; i += 1) {
        const v = versions[i] as KeyVersion;
        if (i === ri) {
          continue;
        }
        if (v.state === 'active') {
          versions[i] = { ...v, state: 'rotating', rotatingAt: at };
        } else if (v.state === 'pending') {
          // A pending version would now sit below the new active one; it never encrypted, and its
          // key predates the incident, so it is retired with the compromised one.
          versions[i] = { ...v, state: 'revoked', revokedAt: at, revokedReason: `${SUPERSEDED_REASON_PREFIX} ${transition.version}`, ...by };
        }
      }
      versions.push({ version: transition.replacement.version, state: 'active', ...keyFields(transition.replacement.key), createdAt: at, activatedAt: at });
      break;
    }
    default: {
      const never: never = transition;
      throw new IllegalTransitionError(`unknown transition ${JSON.stringify(never)}`);
    }
  }
  return { ...catalog, versions, updatedAt: at };
}

/**
 * Sets or clears the operator freeze (`frozen`) or the circuit breaker (`breaker`). Pure.
 *
 * @example
 * const frozen = setHold(catalog, 'frozen', { reason: 'incident 42', at: now.toISOString(), by: 'cli:alice' }, now);
 */
export function setHold(catalog: Catalog, hold: 'frozen' | 'breaker', info: FreezeInfo | undefined, now: Date): Catalog {
  const at = iso(new Date(Math.max(now.getTime(), Date.parse(catalog.updatedAt))));
  const { [hold]: _previous, ...rest } = catalog;
  return info === undefined ? { ...rest, updatedAt: at } : { ...rest, [hold]: info, updatedAt: at };
}

/**
 * Replaces the keyring's rotation policy and nothing else (versions keep their states and
 * times; the new periods apply from the next plan on). Pure.
 *
 * @throws ValidationError when the policy is invalid.
 */
export function setPolicy(catalog: Catalog, given: KeyringPolicy, now: Date): Catalog {
  const policy = withPolicyDefaults(given);
  validatePolicy(policy);
  const at = iso(new Date(Math.max(now.getTime(), Date.parse(catalog.updatedAt))));
  return { ...catalog, policy: { ...policy }, updatedAt: at };
}

/**
 * Declares the keyring's unmanaged sources (holders of envelopes rekey cannot count); an empty
 * list removes the declaration. Pure.
 *
 * @example
 * const next = setSources(catalog, ['files', 'backups'], now); // sources.unmanaged: ['backups', 'files']
 * @throws ValidationError on a bad source name.
 */
export function setSources(catalog: Catalog, unmanaged: readonly string[], now: Date): Catalog {
  const names = normalizeUnmanaged(unmanaged);
  const at = iso(new Date(Math.max(now.getTime(), Date.parse(catalog.updatedAt))));
  const { sources: _previous, ...rest } = catalog;
  return names.length === 0 ? { ...rest, updatedAt: at } : { ...rest, sources: { unmanaged: names }, updatedAt: at };
}

/**
 * Records when a version was escrowed and when a restore drill last verified it. Pure.
 *
 * @throws UnknownVersionError when the version does not exist.
 */
export function setEscrow(catalog: Catalog, version: number, escrow: { escrowedAt?: Date; verifiedAt?: Date }, now: Date): Catalog {
  const i = catalog.versions.findIndex((v) => v.version === version);
  if (i < 0) {
    throw new UnknownVersionError(catalog.keyring, version);
  }
  const versions = [...catalog.versions];
  const v = versions[i] as KeyVersion;
  versions[i] = {
    ...v,
    ...(escrow.escrowedAt === undefined ? {} : { escrowedAt: iso(escrow.escrowedAt) }),
    ...(escrow.verifiedAt === undefined ? {} : { escrowVerifiedAt: iso(escrow.verifiedAt) }),
  };
  const at = iso(new Date(Math.max(now.getTime(), Date.parse(catalog.updatedAt))));
  return { ...catalog, versions, updatedAt: at };
}

/**
 * Whether a version in `state` may decrypt for `purpose`: pending, active, rotating and
 * deprecated versions serve everyone; a revoked version serves only the re-encryption worker;
 * disabled and destroyed versions serve no one.
 *
 * @example
 * canDecrypt('revoked', 'read'); // false
 */
export function canDecrypt(state: VersionState, purpose: KeyPurpose): boolean {
  switch (state) {
    case 'pending':
    case 'active':
    case 'rotating':
    case 'deprecated':
      return true;
    case 'revoked':
      return purpose === 'reencrypt';
    default:
      return false;
  }
}

function isDue(since: string | undefined, seconds: number, now: Date): boolean {
  if (since === undefined) {
    return false;
  }
  return now.getTime() - Date.parse(since) >= seconds * 1000;
}

function requireNext(catalog: Catalog, version: number): void {
  const expected = nextVersion(catalog);
  if (version !== expected) {
    throw new IllegalTransitionError(`keyring '${catalog.keyring}': the next version must be ${expected}, not ${version}`);
  }
}

function validateKey(key: NewVersionKey): void {
  if (typeof key.wrappedKey !== 'string' || key.wrappedKey.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(key.wrappedKey)) {
    throw new ValidationError('a wrapped version key must be non-empty base64');
  }
  if (typeof key.wrappingKeyId !== 'string' || key.wrappingKeyId.length === 0) {
    throw new ValidationError('a wrapped version key needs the id of the key that wrapped it');
  }
}

function keyFields(key: NewVersionKey): { wrappedKey: string; wrappingKeyId: string } {
  return { wrappedKey: key.wrappedKey, wrappingKeyId: key.wrappingKeyId };
}

function iso(date: Date): string {
  if (Number.isNaN(date.getTime())) {
    throw new ValidationError('invalid time');
  }
  return date.toISOString();
}
