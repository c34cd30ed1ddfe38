/**
 * A VersionKeyProvider for cache tests: random 32-byte version keys held in memory, states set
 * by the test, the same refusals as CatalogKeyProvider (revoked only for `reencrypt`,
 * disabled/destroyed never, unknown versions typed). Real keys, real EnvelopeClient crypto.
 */
import { randomBytes } from 'node:crypto';
import type { VersionState } from '../../../../shared/catalog/model';
import type { KeyPurpose, VersionKeyProvider } from '../../../../shared/envelope/api';
import { RevokedVersionError, UnknownKeyringError, UnknownVersionError, VersionUnavailableError } from '../../../../shared/errors';

interface TestVersion {
  state: VersionState;
  readonly key: Buffer;
}

/** In-memory keyrings whose version states a test flips. */
export class TestKeyProvider implements VersionKeyProvider {
  private readonly rings = new Map<string, Map<number, TestVersion>>();

  /** Adds `keyring` with one active version 1. */
  public addKeyring(keyring: string): this {
    this.rings.set(keyring, new Map([[1, { state: 'active', key: randomBytes(32) }]]));
    return this;
  }

  /** Adds a new active version; the previous active one becomes `rotating`. Returns its number. */
  public rotate(keyring: string): number {
    const ring = this.ring(keyring);
    for (const v of ring.values()) if (v.state === 'active') v.state = 'rotating';
    const next = Math.max(...ring.keys()) + 1;
    ring.set(next, { state: 'active', key: randomBytes(32) });
    return next;
  }

  /** Sets the state of one version. */
  public setState(keyring: string, version: number, state: VersionState): void {
    const v = this.ring(keyring).get(version);
    if (v === undefined) throw new UnknownVersionError(keyring, version);
    v.state = state;
  }

  public async forEncrypt(keyring: string): Promise<{ readonly version: number; readonly key: Buffer }> {
    for (const [version, v] of this.ring(keyring)) if (v.state === 'active') return { version, key: v.key };
    throw new UnknownVersionError(keyring, 0);
  }

  public async forDecrypt(keyring: string, version: number, purpose: KeyPurpose): Promise<Buffer> {
    const v = this.ring(keyring).get(version);
    if (v === undefined) throw new UnknownVersionError(keyring, version);
    if (v.state === 'revoked' && purpose !== 'reencrypt') throw new RevokedVersionError(keyring, version);
    if (v.state === 'disabled' || v.state === 'destroyed') throw new VersionUnavailableError(keyring, version, v.state);
    return v.key;
  }

  public async versionState(keyring: string, version: number): Promise<VersionState | undefined> {
    return this.rings.get(keyring)?.get(version)?.state;
  }

  private ring(keyring: string): Map<number, TestVersion> {
    const ring = this.rings.get(keyring);
    if (ring === undefined) throw new UnknownKeyringError(keyring);
    return ring;
  }
}

/** Collects metric increments for assertions. */
export class RecordingMetrics {
  public readonly events: { name: string; dimensions: Readonly<Record<string, string>> }[] = [];
  public increment(name: string, dimensions: Readonly<Record<string, string>>): void {
    this.events.push({ name, dimensions });
  }
  /** How many increments of `name` (optionally with `op`). */
  public count(name: string, op?: string): number {
    return this.events.filter((e) => e.name === name && (op === undefined || e.dimensions.op === op)).length;
  }
}
