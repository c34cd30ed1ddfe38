/**
 * Restoring a version from escrow into the catalog: a destroyed version (its wrapped key gone)
 * or a missing one (lost with an old catalog) comes back as `deprecated`, with `restoredAt` and
 * a version key freshly re-wrapped under the keyring's current vault key, so the data it
 * protects decrypts again and the lifecycle can retire it once more on evidence. Pure: the
 * escrow use case decrypts the escrow copy, re-wraps it and writes the result with
 * compare-and-swap.
 *
 * A revoked version is never restored: its key is presumed in the wrong hands, and restoring
 * it would make what the revocation re-encrypted away readable with it again.
 */
import { IllegalTransitionError, UnknownKeyringError, ValidationError } from '../errors';
import { activeVersion } from './lifecycle';
import type { Catalog, KeyVersion } from './model';

/** The re-wrapped key a restore puts back (never plaintext). */
export interface RestoredKey {
  /** The version key wrapped by the vault under `{ keyring, version }` (base64). */
  readonly wrappedKey: string;
  /** Which vault key wrapped it. */
  readonly wrappingKeyId: string;
}

/** What {@link restorePlan} found for a version. */
export type RestorePlan =
  /** Destroyed: its key comes back, its lifecycle stamps are kept. */
  | { readonly kind: 'destroyed'; readonly entry: KeyVersion }
  /** Not in the catalog at all: it is re-created from its escrow record. */
  | { readonly kind: 'missing' }
  /**
   * Already restored (still `deprecated`, holding a key and `restoredAt`): nothing to do, a rerun
   * after a crash is safe. A restored version the lifecycle has since disabled again is not this:
   * it is refused with the re-enable hint, so a rerun never reports success for a version that
   * cannot decrypt.
   */
  | { readonly kind: 'already-restored'; readonly entry: KeyVersion };

/** Input of {@link restoreVersion}. */
export interface RestoreInput {
  readonly version: number;
  readonly key: RestoredKey;
  readonly now: Date;
  /**
   * When the escrow record was written (ISO-8601): the earliest instant the version is known to
   * have existed, used as its lifecycle stamps when the catalog lost it.
   */
  readonly escrowedAt: string;
}

/**
 * Decides whether `version` of `catalog` can be restored, before any key is touched.
 *
 * @example
 * restorePlan(catalog, 1); // { kind: 'destroyed', entry }
 * @throws IllegalTransitionError for a revoked version (or one carrying `revokedAt`), a version
 *   that still holds its key, or a missing version newer than the active one.
 */
export function restorePlan(catalog: Catalog, version: number): RestorePlan {
  if (!Number.isSafeInteger(version) || version < 1) throw new ValidationError('version must be a positive integer');
  const name = catalog.keyring;
  const entry = catalog.versions.find((v) => v.version === version);
  if (entry === undefined) {
    const active = activeVersion(catalog);
    if (active === undefined) throw new UnknownKeyringError(name);
    // Versions are never reused: a number above the active one was never an encrypting key.
    if (version > active.version) {
      throw new IllegalTransitionError(`keyring '${name}' version ${version} is newer than the active version ${active.version}; only an older version can be restored`);
    }
    return { kind: 'missing' };
  }
  if (entry.state === 'revoked' || entry.revokedAt !== undefined) {
    throw new IllegalTransitionError(`version ${version} of keyring '${name}' was revoked; a revoked version is never restored`);
  }
  if (entry.wrappedKey !== undefined) {
    if (entry.restoredAt !== undefined && entry.state === 'deprecated') return { kind: 'already-restored', entry };
    const hint = entry.state === 'disabled' ? ` (use 'rekey reenable ${name} --version ${version}')` : '';
    throw new IllegalTransitionError(`version ${version} of keyring '${name}' is ${entry.state} and still has its key; nothing to restore${hint}`);
  }
  return { kind: 'destroyed', entry };
}

/**
 * The catalog with `version` restored as `deprecated`: the key given, `restoredAt` = now,
 * `disabledAt` and `destroyedAt` cleared (the audit trail keeps them), so retention and the quiet
 * period start again from `restoredAt` rather than from the first retirement: the restored key
 * must go unused for a whole quiet period before it is disabled again. Returns the catalog
 * unchanged when the version is already restored. Pure.
 *
 * @example
 * const next = restoreVersion(catalog, { version: 1, key, now, escrowedAt: record.createdAt });
 * @throws IllegalTransitionError as {@link restorePlan}; ValidationError for a malformed key.
 */
export function restoreVersion(catalog: Catalog, input: RestoreInput): Catalog {
  const { version, key } = input;
  if (typeof key.wrappedKey !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(key.wrappedKey)) {
    throw new ValidationError('a restored version key must be non-empty base64');
  }
  if (typeof key.wrappingKeyId !== 'string' || key.wrappingKeyId.length === 0) {
    throw new ValidationError('a restored version key needs the id of the key that wrapped it');
  }
  const plan = restorePlan(catalog, version);
  if (plan.kind === 'already-restored') return catalog;
  // Timestamps never go backwards: a restorer whose clock lags the catalog's last writer uses its time.
  const at = new Date(Math.max(input.now.getTime(), Date.parse(catalog.updatedAt))).toISOString();
  const since = Number.isNaN(Date.parse(input.escrowedAt)) || Date.parse(input.escrowedAt) > Date.parse(at) ? at : new Date(input.escrowedAt).toISOString();
  let restored: KeyVersion;
  if (plan.kind === 'destroyed') {
    const { disabledAt: _disabled, destroyedAt: _destroyed, ...kept } = plan.entry;
    const activatedAt = kept.activatedAt ?? kept.createdAt;
    const rotatingAt = kept.rotatingAt ?? activatedAt;
    restored = { ...kept, state: 'deprecated', activatedAt, rotatingAt, deprecatedAt: kept.deprecatedAt ?? rotatingAt, ...key, restoredAt: at };
  } else {
    // The catalog lost it: the escrow record is the only witness of when it existed.
    restored = { version, state: 'deprecated', ...key, createdAt: since, activatedAt: since, rotatingAt: since, deprecatedAt: since, escrowedAt: since, restoredAt: at };
  }
  const versions = [...catalog.versions.filter((v) => v.version !== version), restored].sort((a, b) => a.version - b.version);
  return { ...catalog, versions, updatedAt: at };
}
