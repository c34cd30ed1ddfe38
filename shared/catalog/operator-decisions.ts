/**
 * What each operator operation writes, decided over the catalog just read: rotate, revoke,
 * update the policy, hold or release (freeze, breaker), record escrow. Each returns the
 * catalog to compare-and-swap (or none, when the operation is already done) and its audit
 * events; the CatalogWriter re-runs the decision when the write loses a race.
 */
import { FrozenError, IllegalTransitionError, UnknownVersionError } from '../errors';
import type { AuditDraft, Decision } from './catalog-writer';
import type { PolicyUpdateResult, RevokeResult, RotateResult } from './keyring-service-types';
import { SUPERSEDED_REASON_PREFIX, activeVersion, applyTransition, isPaused, nextVersion, pendingVersion, setEscrow, setHold, setPolicy, setSources, type NewVersionKey } from './lifecycle';
import { normalizeUnmanaged, sameSources, unmanagedSources } from './sources';
import type { Catalog, KeyringPolicy, KeyVersion } from './model';

/** Generates the wrapped key of a new version. */
export type GenerateKey = (keyring: string, version: number) => Promise<NewVersionKey>;

const POLICY_FIELDS = ['rotateEverySeconds', 'graceSeconds', 'propagationSeconds', 'retentionSeconds', 'quietSeconds', 'destroyAfterRetention'] as const;

/**
 * Adds the next version as pending, or keeps the one already propagating.
 *
 * @throws FrozenError while frozen or held by the breaker (before any key is generated).
 */
export async function decideRotate(current: Catalog, input: { reason: string; now: Date; generate: GenerateKey }): Promise<Decision<RotateResult>> {
  const existing = pendingVersion(current);
  if (existing !== undefined) {
    return { events: [], result: (catalog) => ({ catalog, pending: existing, created: false }) };
  }
  if (isPaused(current)) {
    // Refused before the vault is asked for a key that could not be stored.
    throw new FrozenError(`keyring '${current.keyring}' is ${current.frozen !== undefined ? 'frozen' : 'held by the circuit breaker'}; rotation is paused`);
  }
  const version = nextVersion(current);
  const key = await input.generate(current.keyring, version);
  const next = applyTransition(current, { kind: 'create-pending', version, key }, input.now);
  return {
    next,
    events: [{ action: 'version.created', version, reason: input.reason, details: { state: 'pending', manual: true } }],
    result: (catalog) => ({ catalog, pending: findVersion(catalog, version), created: true }),
  };
}

/**
 * Emergency revocation of `version`: a fresh active version, the former active one rotating,
 * a pending one retired. Nothing to write when it is already revoked.
 *
 * @throws UnknownVersionError; IllegalTransitionError for a destroyed version.
 */
export async function decideRevoke(current: Catalog, input: { version: number; reason: string; now: Date; generate: GenerateKey; actor?: string }): Promise<Decision<RevokeResult>> {
  const { version, reason } = input;
  const name = current.keyring;
  const target = current.versions.find((v) => v.version === version);
  if (target === undefined) {
    throw new UnknownVersionError(name, version);
  }
  if (target.state === 'revoked') {
    return { events: [], result: (catalog) => ({ catalog, created: false }) };
  }
  if (target.state === 'destroyed') {
    throw new IllegalTransitionError(`version ${version} of keyring '${name}' is destroyed and cannot be revoked`);
  }
  const replacement = nextVersion(current);
  const formerActive = activeVersion(current);
  const pending = pendingVersion(current);
  const key = await input.generate(name, replacement);
  const by = input.actor === undefined ? {} : { by: input.actor };
  const next = applyTransition(current, { kind: 'revoke', version, reason, ...by, replacement: { version: replacement, key } }, input.now);
  const events: AuditDraft[] = [{ action: 'version.revoked', version, reason, details: { from: target.state } }];
  if (pending !== undefined && pending.version !== version) {
    events.push({ action: 'version.revoked', version: pending.version, reason: `${SUPERSEDED_REASON_PREFIX} ${version}`, details: { from: 'pending' } });
  }
  const activated: Record<string, string | number | boolean> = { emergency: true };
  if (formerActive !== undefined && formerActive.version !== version) {
    activated['demoted'] = formerActive.version;
  }
  events.push({ action: 'version.activated', version: replacement, reason, details: activated });
  return { next, events, result: (catalog) => ({ catalog, replacement: findVersion(catalog, replacement), created: true }) };
}

/** Replaces the policy (versions untouched); nothing to write when it already is `policy`. */
export async function decidePolicy(current: Catalog, input: { policy: KeyringPolicy; now: Date }): Promise<Decision<PolicyUpdateResult>> {
  const { policy } = input;
  const changes: Record<string, number | boolean> = {};
  for (const field of POLICY_FIELDS) {
    if (current.policy[field] !== policy[field]) changes[field] = policy[field];
  }
  if (Object.keys(changes).length === 0) {
    return { events: [], result: (catalog) => ({ catalog, changed: false }) };
  }
  return { next: setPolicy(current, policy, input.now), events: [{ action: 'keyring.policy-updated', details: changes }], result: (catalog) => ({ catalog, changed: true }) };
}

/** Result of a re-enable: the catalog as stored, and whether this call changed it. */
export interface ReenableResult {
  readonly catalog: Catalog;
  readonly changed: boolean;
}

/**
 * Turns a disabled version back into deprecated (it decrypts again; the lifecycle disables it
 * once more only on fresh evidence, its quiet period counted from now). Nothing to write when
 * the version is already readable again (deprecated with `reenabledAt`): a retried command
 * changes nothing.
 *
 * @throws UnknownVersionError; IllegalTransitionError when the version was revoked or is not disabled.
 */
export async function decideReenable(current: Catalog, input: { version: number; reason: string; now: Date }): Promise<Decision<ReenableResult>> {
  const target = findVersion(current, input.version);
  if (target.state === 'deprecated' && target.reenabledAt !== undefined) {
    return { events: [], result: (catalog) => ({ catalog, changed: false }) };
  }
  const next = applyTransition(current, { kind: 'reenable', version: input.version }, input.now);
  return {
    next,
    events: [{ action: 'version.reenabled', version: input.version, reason: input.reason, details: { from: 'disabled', disabledAt: target.disabledAt ?? '' } }],
    result: (catalog) => ({ catalog, changed: true }),
  };
}

/** Result of a sources change. */
export interface SourcesResult {
  readonly catalog: Catalog;
  readonly changed: boolean;
  /** The unmanaged sources declared afterwards. */
  readonly unmanaged: readonly string[];
}

/**
 * Sets the keyring's unmanaged sources to `unmanaged` (`mode: 'set'`), or adds them to those
 * already declared (`mode: 'add'`, what `rekey encrypt` does for 'files'). Nothing to write
 * when the declaration already says so.
 *
 * @throws ValidationError on a bad source name.
 */
export async function decideSources(current: Catalog, input: { unmanaged: readonly string[]; mode: 'set' | 'add'; now: Date }): Promise<Decision<SourcesResult>> {
  const before = unmanagedSources(current);
  const wanted = normalizeUnmanaged(input.mode === 'add' ? [...before, ...input.unmanaged] : input.unmanaged);
  if (sameSources(current.sources, wanted)) {
    return { events: [], result: (catalog) => ({ catalog, changed: false, unmanaged: unmanagedSources(catalog) }) };
  }
  const next = setSources(current, wanted, input.now);
  return {
    next,
    events: [{ action: 'keyring.sources-changed', details: { unmanaged: wanted.join(','), previous: before.join(',') } }],
    result: (catalog) => ({ catalog, changed: true, unmanaged: unmanagedSources(catalog) }),
  };
}

/** Sets the freeze or the breaker; an existing one is kept as it is. */
export async function decideHold(current: Catalog, input: { hold: 'frozen' | 'breaker'; reason: string; actor: string; now: Date }): Promise<Decision<Catalog>> {
  const { hold, reason, actor, now } = input;
  if (current[hold] !== undefined) {
    return { events: [], result: (catalog) => catalog };
  }
  const next = setHold(current, hold, { reason, at: now.toISOString(), by: actor }, now);
  return { next, events: [{ action: hold === 'frozen' ? 'keyring.frozen' : 'breaker.tripped', reason }], result: (catalog) => catalog };
}

/** Clears the freeze or the breaker; nothing to write when it is not set. */
export async function decideRelease(current: Catalog, input: { hold: 'frozen' | 'breaker'; now: Date }): Promise<Decision<Catalog>> {
  const { hold, now } = input;
  if (current[hold] === undefined) {
    return { events: [], result: (catalog) => catalog };
  }
  const next = setHold(current, hold, undefined, now);
  return { next, events: [{ action: hold === 'frozen' ? 'keyring.unfrozen' : 'breaker.reset' }], result: (catalog) => catalog };
}

/**
 * Stamps a version's escrow and drill times.
 *
 * @throws UnknownVersionError.
 */
export async function decideEscrow(current: Catalog, input: { version: number; escrow: { escrowedAt?: Date; verifiedAt?: Date }; now: Date }): Promise<Decision<Catalog>> {
  const { version, escrow } = input;
  const next = setEscrow(current, version, escrow, input.now);
  const details: Record<string, string> = {};
  if (escrow.escrowedAt !== undefined) details['escrowedAt'] = escrow.escrowedAt.toISOString();
  if (escrow.verifiedAt !== undefined) details['verifiedAt'] = escrow.verifiedAt.toISOString();
  return { next, events: [{ action: 'version.escrow-recorded', version, details }], result: (catalog) => catalog };
}

function findVersion(catalog: Catalog, version: number): KeyVersion {
  const found = catalog.versions.find((v) => v.version === version);
  if (found === undefined) {
    throw new UnknownVersionError(catalog.keyring, version);
  }
  return found;
}
