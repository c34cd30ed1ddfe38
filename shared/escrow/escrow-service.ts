/**
 * Backup key escrow. Backups outlive key versions: a backup taken under version 3 must still
 * open after version 3 is destroyed from the catalog. Escrow keeps each version key wrapped
 * under a SEPARATE escrow key (and optionally under an offline RSA key), with a key check
 * value (./key-check-value.ts) that proves the escrowed key is the right one. The restore drill
 * (`verify`) opens every record with the escrow key alone and compares its KCV, so that "we have
 * escrow" is a tested fact, not a belief, and it never asks the key vault for a version key: a
 * drill is not a use of the key. A revoked version's copy is checked for integrity only and
 * never opened (see {@link EscrowService.verify}).
 */
import { timingSafeEqual, type KeyObject } from 'node:crypto';
import { EnvelopeClient } from '../envelope';
import {
  AlreadyExistsError,
  DecryptError,
  NotFoundError,
  RekeyError,
  RevokedVersionError,
  UnknownKeyringError,
  UnknownVersionError,
  ValidationError,
  VersionUnavailableError,
} from '../errors';
import { canDecrypt } from '../catalog/lifecycle';
import type { CatalogStore } from '../ports/catalog-store';
import type { EncryptionContext, KeyVault } from '../ports/key-vault';
import { assertKeyringName } from '../vocabulary/keyring-name';
import { versionNumber } from '../vocabulary/names';
import { canaryText, type EscrowRecord } from './escrow-record';
import { kcvMatches, keyCheckValue } from './key-check-value';
import type { EscrowStore } from '../ports/escrow-store';
import { loadRsaPublicKey, rsaKeyFingerprint, rsaWrapVersionKey } from './rsa-escrow';
import { SingleKeyProvider } from './single-key-provider';

/** Options of {@link EscrowService}. */
export interface EscrowServiceOptions {
  readonly store: EscrowStore;
  readonly catalogs: CatalogStore;
  /** The vault that wraps version keys in the catalog. */
  readonly vault: KeyVault;
  /** The vault of the separate escrow key. */
  readonly escrowVault: KeyVault;
  /**
   * The escrow key (a KMS key ARN). When set, each record names it and restores use the key the
   * record names, so the configured key can change while older records stay restorable. When
   * absent, the escrow vault's default key is used. Required when `escrowVault` is `vault`.
   */
  readonly escrowWrappingKeyId?: string;
  /** PEM RSA public key (>= 2048 bits) for an additional offline copy of every version key. */
  readonly rsaPublicKeyPem?: string;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** What {@link EscrowService.archive} did. */
export interface ArchiveResult {
  readonly keyring: string;
  readonly version: number;
  /** False when a matching record already existed (nothing was written). */
  readonly created: boolean;
  readonly escrowKeyId: string;
  readonly createdAt: string;
  /** True when the record holds an offline RSA copy. */
  readonly offlineCopy: boolean;
}

/** Why a version failed the restore drill. */
export type EscrowCheckReason =
  /** No escrow record for a version that still exists. */
  | 'missing'
  /** The record does not parse (or names another keyring/version). */
  | 'corrupt'
  /** The record could not be read (I/O, permissions). */
  | 'unreadable'
  /** The escrow vault refused to unwrap the escrowed key. */
  | 'unwrap-failed'
  /** The restored key does not decrypt the canary to the expected text (records without a KCV). */
  | 'canary-failed'
  /** The restored key does not have the key check value recorded at archive time. */
  | 'kcv-failed';

/**
 * How the drill proved a version:
 * - `kcv`: escrow copy opened with the escrow key, key check value matched;
 * - `canary`: a record archived before KCVs existed: copy opened, canary decrypted (still no
 *   key-vault call); re-archiving is impossible (records are write-once), so this stays visible;
 * - `integrity`: a revoked version: the record parses and names its keyring and version, the
 *   copy is not opened (a revoked key is never restored, so opening it is only risk).
 */
export type EscrowCheckKind = 'kcv' | 'canary' | 'integrity';

/** The restore drill's result for one version. Never carries key material. */
export interface EscrowCheck {
  readonly keyring: string;
  readonly version: number;
  readonly ok: boolean;
  readonly reason?: EscrowCheckReason;
  /** The rekey error code behind a failure, for operators (no message text, no bytes). */
  readonly detail?: string;
  /** True when the record also holds an offline RSA copy (which the drill cannot open). */
  readonly offlineCopy?: boolean;
  /** How the version was checked (absent when there was no record to check). */
  readonly check?: EscrowCheckKind;
}

/** A version key opened from escrow and re-wrapped by the working vault (never plaintext). */
export interface RewrappedFromEscrow {
  readonly keyring: string;
  readonly version: number;
  /** The version key wrapped under `{ keyring, version }` by the working vault (base64). */
  readonly wrappedKey: string;
  readonly wrappingKeyId: string;
  /** When the escrow record was written. */
  readonly escrowedAt: string;
  readonly escrowKeyId: string;
  /** How the opened copy was proven before it was re-wrapped. */
  readonly check: 'kcv' | 'canary';
}

/** The restore drill's results plus the time it ran. */
export interface EscrowDrillReport {
  readonly checkedAt: string;
  readonly ok: boolean;
  readonly results: readonly EscrowCheck[];
}

function versionContext(keyring: string, version: number): EncryptionContext {
  return { keyring, version: String(version) };
}

function escrowContext(keyring: string, version: number): EncryptionContext {
  return { keyring, version: String(version), purpose: 'escrow' };
}

function codeOf(err: unknown): string {
  return err instanceof RekeyError ? err.code : 'UNKNOWN';
}

/**
 * Archives, verifies and restores version keys through escrow.
 *
 * @example
 * const escrow = new EscrowService({ store, catalogs, vault, escrowVault, escrowWrappingKeyId: escrowKeyArn });
 * await escrow.archive('payments', 3);
 * const report = await escrow.verify('payments'); // report.ok === true when every key restores
 */
export class EscrowService {
  private readonly store: EscrowStore;
  private readonly catalogs: CatalogStore;
  private readonly vault: KeyVault;
  private readonly escrowVault: KeyVault;
  private readonly escrowWrappingKeyId: string | undefined;
  private readonly rsaPublicKey: KeyObject | undefined;
  private readonly clock: () => Date;

  public constructor(options: EscrowServiceOptions) {
    if (options.escrowVault === options.vault && options.escrowWrappingKeyId === undefined) {
      // Escrow under the very key that protects the catalog would fail together with it.
      throw new ValidationError('escrow needs a separate key: give escrowWrappingKeyId or a separate escrowVault');
    }
    if (options.escrowWrappingKeyId !== undefined && options.escrowWrappingKeyId.length === 0) {
      throw new ValidationError('escrowWrappingKeyId must not be empty');
    }
    this.store = options.store;
    this.catalogs = options.catalogs;
    this.vault = options.vault;
    this.escrowVault = options.escrowVault;
    this.escrowWrappingKeyId = options.escrowWrappingKeyId;
    this.rsaPublicKey = options.rsaPublicKeyPem === undefined ? undefined : loadRsaPublicKey(options.rsaPublicKeyPem);
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Escrows one version key. Idempotent: when a record exists, it is checked to hold the same
   * key as the catalog and nothing is written (AlreadyExistsError if it holds another key).
   */
  public async archive(keyring: string, version: number): Promise<ArchiveResult> {
    checkTarget(keyring, version);
    const stored = await this.catalogs.get(keyring);
    if (stored === undefined) throw new UnknownKeyringError(keyring);
    const entry = stored.catalog.versions.find((v) => v.version === version);
    if (entry === undefined) throw new UnknownVersionError(keyring, version);

    if (entry.state === 'revoked' || entry.revokedAt !== undefined) {
      // Its key is presumed in the wrong hands and is never restored: a copy would only be risk.
      throw new RevokedVersionError(keyring, version);
    }
    const existing = await this.store.get(keyring, version);
    if (existing === undefined && entry.wrappedKey === undefined) {
      throw new VersionUnavailableError(keyring, version, entry.state);
    }
    if (existing !== undefined && entry.wrappedKey === undefined) return resultOf(existing, false);

    const key = await this.vault.unwrap(Buffer.from(entry.wrappedKey as string, 'base64'), versionContext(keyring, version), entry.wrappingKeyId);
    try {
      if (existing !== undefined) {
        await this.assertHolds(existing, key);
        return resultOf(existing, false);
      }
      const record = await this.buildRecord(keyring, version, key, entry.wrappingKeyId);
      try {
        await this.store.put(record);
        return resultOf(record, true);
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
        // Another archive of the same version won the race: fine if it holds the same key.
        const winner = await this.store.get(keyring, version);
        if (winner === undefined) throw err;
        await this.assertHolds(winner, key);
        return resultOf(winner, false);
      }
    } finally {
      key.fill(0);
    }
  }

  /**
   * The restore drill: for every version of the keyring (or of every keyring) that is not
   * destroyed, and every version that has a record, opens the escrow copy with the escrow key
   * alone and compares its key check value (records older than KCVs: decrypts their canary).
   * The key vault is never called, so a drill is no use of any version key. Reports per
   * version; never returns key material. A version revoked or disabled before it was ever
   * escrowed is not expected to have a record (its key is unreadable by design, see the escrow
   * job's archive): it is not reported missing.
   *
   * A revoked version (state `revoked`, or `revokedAt` on a later state) is checked for integrity
   * only: its record must parse and name its keyring and version, but the copy is not opened.
   * Restoring a revoked version is refused, so proving its key buys nothing, while opening it
   * daily would hand a compromised key to the everyday escrow role again and again.
   */
  public async verify(keyring?: string): Promise<EscrowDrillReport> {
    const checkedAt = this.clock().toISOString();
    const keyrings = keyring === undefined ? await this.catalogs.list() : [keyring];
    const results: EscrowCheck[] = [];
    for (const name of keyrings) {
      assertKeyringName(name);
      const stored = await this.catalogs.get(name);
      const escrowed = await this.store.list(name);
      if (stored === undefined && escrowed.length === 0) throw new UnknownKeyringError(name);
      const live = (stored?.catalog.versions ?? [])
        .filter((v) => v.state !== 'destroyed' && (canDecrypt(v.state, 'read') || v.escrowedAt !== undefined))
        .map((v) => v.version);
      const sealed = new Set((stored?.catalog.versions ?? []).filter((v) => v.state === 'revoked' || v.revokedAt !== undefined).map((v) => v.version));
      const versions = [...new Set([...live, ...escrowed])].sort((a, b) => a - b);
      for (const version of versions) results.push(await this.check(name, version, sealed.has(version)));
    }
    return { checkedAt, ok: results.every((r) => r.ok), results };
  }

  /**
   * Restores a version key from its escrow record alone (the catalog is not read), after proving
   * it with the key check value (or, for older records, the canary). For backup-recovery
   * tooling; the caller owns and zeroes the key. The CLI never prints it: it writes it wrapped,
   * or to a 0600 file only on an explicit flag.
   *
   * @throws NotFoundError when the version has no escrow record.
   * @throws DecryptError when the restored key fails its KCV or does not open the canary.
   */
  public async restore(keyring: string, version: number): Promise<Buffer> {
    return (await this.openProven(keyring, version)).key;
  }

  /**
   * Opens the escrow copy of a version, proves it, and re-wraps it with the working vault under
   * `{ keyring, version }` and `wrappingKeyId` (the keyring's current vault key), ready to be put
   * back into the catalog. The plaintext key is zeroed before this returns.
   *
   * @example
   * const back = await escrow.rewrapFromEscrow('payments', 1, active.wrappingKeyId);
   * @throws NotFoundError when there is no escrow record; DecryptError when the copy fails its proof.
   */
  public async rewrapFromEscrow(keyring: string, version: number, wrappingKeyId: string): Promise<RewrappedFromEscrow> {
    if (typeof wrappingKeyId !== 'string' || wrappingKeyId.length === 0) throw new ValidationError('wrappingKeyId is required');
    const { record, key, check } = await this.openProven(keyring, version);
    try {
      // KMS Encrypt of the plaintext key under the keyring's key, context { keyring, version }
      // (https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html), through the vault.
      const wrapped = await this.vault.wrap(key, versionContext(keyring, version), wrappingKeyId);
      return {
        keyring,
        version,
        wrappedKey: wrapped.toString('base64'),
        wrappingKeyId,
        escrowedAt: record.createdAt,
        escrowKeyId: record.escrowKeyId,
        check,
      };
    } finally {
      key.fill(0);
    }
  }

  private async openProven(keyring: string, version: number): Promise<{ record: EscrowRecord; key: Buffer; check: 'kcv' | 'canary' }> {
    checkTarget(keyring, version);
    const record = await this.store.get(keyring, version);
    if (record === undefined) throw new NotFoundError(`keyring '${keyring}' version ${version} has no escrow record`);
    const key = await this.unwrapEscrowed(record);
    const proof = await proveKey(record, key);
    if (proof !== 'ok') {
      key.fill(0);
      throw new DecryptError();
    }
    return { record, key, check: record.kcv === undefined ? 'canary' : 'kcv' };
  }

  private async check(keyring: string, version: number, sealed: boolean): Promise<EscrowCheck> {
    const base = { keyring, version };
    let record: EscrowRecord | undefined;
    try {
      record = await this.store.get(keyring, version);
    } catch (err) {
      const corrupt = err instanceof RekeyError && err.code === 'BACKEND' && !err.retryable;
      return { ...base, ok: false, reason: corrupt ? 'corrupt' : 'unreadable', detail: codeOf(err) };
    }
    if (record === undefined) return { ...base, ok: false, reason: 'missing' };
    const offlineCopy = record.rsaWrapped !== undefined;
    // The store parsed it and checked it names (keyring, version): that is the integrity check.
    if (sealed) return { ...base, ok: true, offlineCopy, check: 'integrity' };
    const check: EscrowCheckKind = record.kcv === undefined ? 'canary' : 'kcv';
    let key: Buffer;
    try {
      key = await this.unwrapEscrowed(record);
    } catch (err) {
      return { ...base, ok: false, reason: 'unwrap-failed', detail: codeOf(err), offlineCopy, check };
    }
    try {
      const proof = await proveKey(record, key);
      return proof === 'ok' ? { ...base, ok: true, offlineCopy, check } : { ...base, ok: false, reason: proof, detail: 'DECRYPT_FAILED', offlineCopy, check };
    } finally {
      key.fill(0);
    }
  }

  private async buildRecord(keyring: string, version: number, key: Buffer, wrappingKeyId: string): Promise<EscrowRecord> {
    const wrapped = await this.escrowVault.wrap(key, escrowContext(keyring, version), this.escrowWrappingKeyId);
    const canary = await new EnvelopeClient(new SingleKeyProvider(keyring, version, key)).encrypt(keyring, Buffer.from(canaryText(keyring, version), 'utf8'));
    const offline =
      this.rsaPublicKey === undefined
        ? {}
        : {
            rsaWrapped: rsaWrapVersionKey(this.rsaPublicKey, key, keyring, version).toString('base64'),
            rsaKeyFingerprint: rsaKeyFingerprint(this.rsaPublicKey),
          };
    return {
      schema: 1,
      keyring,
      version,
      wrappedKey: wrapped.toString('base64'),
      escrowKeyId: this.escrowWrappingKeyId ?? this.escrowVault.kind,
      ...offline,
      canary: canary.toString('base64'),
      kcv: keyCheckValue(key, keyring, version),
      createdAt: this.clock().toISOString(),
      wrappingKeyId,
    };
  }

  private unwrapEscrowed(record: EscrowRecord): Promise<Buffer> {
    // With an explicit escrow key, the record's own key id is authoritative (the configured key
    // may have changed since); without one, the escrow vault's default key.
    const keyId = this.escrowWrappingKeyId === undefined ? undefined : record.escrowKeyId;
    return this.escrowVault.unwrap(Buffer.from(record.wrappedKey, 'base64'), escrowContext(record.keyring, record.version), keyId);
  }

  private async assertHolds(record: EscrowRecord, key: Buffer): Promise<void> {
    const mismatch = (): AlreadyExistsError =>
      new AlreadyExistsError(`keyring '${record.keyring}' version ${record.version} is escrowed with a different key; investigate before re-escrowing`);
    // The KCV alone would vouch for the key the record claims, not for the copy it holds: both
    // are checked (opening the copy uses the escrow key, never the key vault).
    if (record.kcv !== undefined && !kcvMatches(record.kcv, key, record.keyring, record.version)) throw mismatch();
    let escrowed: Buffer;
    try {
      escrowed = await this.unwrapEscrowed(record);
    } catch (err) {
      if (err instanceof DecryptError) throw mismatch();
      throw err;
    }
    try {
      if (escrowed.length !== key.length || !timingSafeEqual(escrowed, key)) throw mismatch();
    } finally {
      escrowed.fill(0);
    }
  }
}

function checkTarget(keyring: string, version: number): void {
  assertKeyringName(keyring);
  if (!versionNumber.safeParse(version).success) throw new ValidationError('version must be a positive integer');
}

function resultOf(record: EscrowRecord, created: boolean): ArchiveResult {
  return {
    keyring: record.keyring,
    version: record.version,
    created,
    escrowKeyId: record.escrowKeyId,
    createdAt: record.createdAt,
    offlineCopy: record.rsaWrapped !== undefined,
  };
}

/** Proves an opened escrow copy: by its KCV when the record has one, else by its canary. */
async function proveKey(record: EscrowRecord, key: Buffer): Promise<'ok' | 'kcv-failed' | 'canary-failed'> {
  if (record.kcv !== undefined) return kcvMatches(record.kcv, key, record.keyring, record.version) ? 'ok' : 'kcv-failed';
  return (await canaryOpens(record, key)) ? 'ok' : 'canary-failed';
}

/** Decrypts the canary with exactly this key and checks its text, keyring and version. */
async function canaryOpens(record: EscrowRecord, key: Buffer): Promise<boolean> {
  const client = new EnvelopeClient(new SingleKeyProvider(record.keyring, record.version, key));
  try {
    const out = await client.decrypt(Buffer.from(record.canary, 'base64'));
    return out.keyring === record.keyring && out.version === record.version && out.plaintext.equals(Buffer.from(canaryText(record.keyring, record.version), 'utf8'));
  } catch {
    return false;
  }
}
