import { isRekeyError } from '../errors';
import type { Catalog, KeyVersion, VersionState } from './model';
import { validateKeyringName, validatePolicy } from './policy';

// The lifecycle timestamps in the order a version can collect them.
const ORDERED = ['createdAt', 'activatedAt', 'rotatingAt', 'deprecatedAt', 'disabledAt', 'destroyedAt'] as const;
type Stamp = (typeof ORDERED)[number] | 'revokedAt';

// Timestamps a version must carry in each state (revoked versions may have been revoked from any earlier state).
const REQUIRED: Readonly<Record<VersionState, readonly Stamp[]>> = {
  pending: ['createdAt'],
  active: ['createdAt', 'activatedAt'],
  rotating: ['createdAt', 'activatedAt', 'rotatingAt'],
  deprecated: ['createdAt', 'activatedAt', 'rotatingAt', 'deprecatedAt'],
  disabled: ['createdAt', 'disabledAt'],
  destroyed: ['createdAt', 'disabledAt', 'destroyedAt'],
  revoked: ['createdAt', 'revokedAt'],
};

// Timestamps a version cannot have yet in each state.
const FORBIDDEN: Readonly<Record<VersionState, readonly Stamp[]>> = {
  pending: ['activatedAt', 'rotatingAt', 'deprecatedAt', 'disabledAt', 'destroyedAt', 'revokedAt'],
  active: ['rotatingAt', 'deprecatedAt', 'disabledAt', 'destroyedAt', 'revokedAt'],
  rotating: ['deprecatedAt', 'disabledAt', 'destroyedAt', 'revokedAt'],
  deprecated: ['disabledAt', 'destroyedAt', 'revokedAt'],
  disabled: ['destroyedAt'],
  destroyed: [],
  revoked: ['disabledAt', 'destroyedAt'],
};

/**
 * Checks every structural invariant of a catalog and returns the violations (empty when sound):
 * exactly one active version; at most one pending version, newer than the active one, and no
 * other version above the active one; versions unique, positive and ascending; a destroyed
 * version holds no key and every other one does; each state has its timestamps and none of a
 * later state; timestamps in lifecycle order and never after `updatedAt`; name and policy valid.
 *
 * @example
 * const problems = checkInvariants(catalog);
 * if (problems.length > 0) throw new Error(problems.join('; '));
 */
export function checkInvariants(catalog: Catalog): string[] {
  const problems: string[] = [];
  if (catalog.schema !== 1) {
    problems.push(`unsupported schema ${String(catalog.schema)}`);
  }
  collect(problems, () => validateKeyringName(catalog.keyring));
  collect(problems, () => validatePolicy(catalog.policy));
  if (!Number.isSafeInteger(catalog.generation) || catalog.generation < 1) {
    problems.push('generation must be a positive integer');
  }
  const updatedAt = Date.parse(catalog.updatedAt);
  const createdAt = Date.parse(catalog.createdAt);
  if (Number.isNaN(updatedAt) || Number.isNaN(createdAt)) {
    problems.push('catalog timestamps must be ISO-8601 times');
  } else if (createdAt > updatedAt) {
    problems.push('catalog createdAt is after updatedAt');
  }

  const active = catalog.versions.filter((v) => v.state === 'active');
  const pending = catalog.versions.filter((v) => v.state === 'pending');
  if (active.length !== 1) {
    problems.push(`exactly one active version expected, found ${active.length}`);
  }
  if (pending.length > 1) {
    problems.push(`at most one pending version expected, found ${pending.length}`);
  }
  const activeNumber = active[0]?.version;

  let previous = 0;
  for (const v of catalog.versions) {
    if (!Number.isSafeInteger(v.version) || v.version < 1) {
      problems.push(`version ${String(v.version)} is not a positive integer`);
      continue;
    }
    if (v.version <= previous) {
      problems.push(`versions are not unique and ascending at version ${v.version}`);
    }
    previous = v.version;
    if (activeNumber !== undefined && v.version > activeNumber && v.state !== 'pending') {
      problems.push(`version ${v.version} is ${v.state} but newer than the active version ${activeNumber}`);
    }
    checkVersion(problems, v, updatedAt);
  }
  return problems;
}

function checkVersion(problems: string[], v: KeyVersion, catalogUpdatedAt: number): void {
  const label = `version ${v.version} (${v.state})`;
  if (v.state === 'destroyed') {
    if (v.wrappedKey !== undefined) {
      problems.push(`${label} still holds its wrapped key`);
    }
  } else if (typeof v.wrappedKey !== 'string' || v.wrappedKey.length === 0) {
    problems.push(`${label} has no wrapped key`);
  }
  if (typeof v.wrappingKeyId !== 'string' || v.wrappingKeyId.length === 0) {
    problems.push(`${label} has no wrapping key id`);
  }
  // A version restored from escrow (see restore.ts) may come back as deprecated without the
  // stamps of a life the catalog lost; its restoredAt stands in for them.
  const required = v.state === 'deprecated' && v.restoredAt !== undefined ? (['createdAt'] as const) : REQUIRED[v.state];
  const forbidden = FORBIDDEN[v.state];
  if (required === undefined || forbidden === undefined) {
    problems.push(`${label}: unknown state`);
    return;
  }
  for (const stamp of required) {
    if (v[stamp] === undefined) {
      problems.push(`${label} lacks ${stamp}`);
    }
  }
  for (const stamp of forbidden) {
    if (v[stamp] !== undefined) {
      problems.push(`${label} must not have ${stamp}`);
    }
  }
  if (v.state === 'revoked' && (v.revokedReason === undefined || v.revokedReason.length === 0)) {
    problems.push(`${label} lacks revokedReason`);
  }
  let last = Number.NEGATIVE_INFINITY;
  let lastName = '';
  for (const stamp of ORDERED) {
    const text = v[stamp];
    if (text === undefined) {
      continue;
    }
    const t = Date.parse(text);
    if (Number.isNaN(t)) {
      problems.push(`${label} ${stamp} is not an ISO-8601 time`);
      continue;
    }
    if (t < last) {
      problems.push(`${label} ${stamp} is before ${lastName}`);
    }
    if (t > catalogUpdatedAt) {
      problems.push(`${label} ${stamp} is after the catalog's updatedAt`);
    }
    last = t;
    lastName = stamp;
  }
  for (const stamp of ['reenabledAt', 'restoredAt'] as const) {
    const text = v[stamp];
    if (text === undefined) continue;
    const t = Date.parse(text);
    if (Number.isNaN(t) || t < Date.parse(v.createdAt) || t > catalogUpdatedAt) {
      problems.push(`${label} ${stamp} is outside the version's lifetime`);
    }
  }
  if (v.revokedAt !== undefined) {
    const t = Date.parse(v.revokedAt);
    if (Number.isNaN(t) || t < Date.parse(v.createdAt) || t > catalogUpdatedAt) {
      problems.push(`${label} revokedAt is outside the version's lifetime`);
    }
    if (v.disabledAt !== undefined && Date.parse(v.disabledAt) < t) {
      problems.push(`${label} disabledAt is before revokedAt`);
    }
  }
}

function collect(problems: string[], check: () => void): void {
  try {
    check();
  } catch (err) {
    problems.push(isRekeyError(err) ? err.message : String(err));
  }
}
