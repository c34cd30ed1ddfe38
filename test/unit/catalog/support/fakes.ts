/**
 * Test doubles for the catalog tests: an AES-GCM key vault held in memory (the real
 * FileKeyVault lives with another contributor), an audit sink that keeps events, and a
 * FactsSource backed by maps the test mutates.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptError } from '../../../../shared/errors';
import type { AuditEvent, AuditSink } from '../../../../shared/ports/audit-sink';
import type { EncryptionContext, GeneratedKey, KeyVault } from '../../../../shared/ports/key-vault';
import type { FactsSource, KeyUseObservation, ReferenceCounts } from '../../../../shared/ports/facts-source';
import type { KeyUse } from '../../../../shared/ports/key-use-log';

function aad(context: EncryptionContext): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

/** A KeyVault that wraps with AES-256-GCM under a random in-memory master key, binding the context as AAD. */
export class MemoryKeyVault implements KeyVault {
  public readonly kind = 'memory';
  /** Every context passed to generateKey, in order. */
  public readonly generated: EncryptionContext[] = [];
  /** Every plaintext handed out, to check that callers zero them. */
  public readonly handedOut: Buffer[] = [];
  private readonly master = randomBytes(32);

  public async generateKey(context: EncryptionContext, wrappingKeyId?: string): Promise<GeneratedKey> {
    const plaintext = randomBytes(32);
    const wrapped = await this.wrap(plaintext, context);
    this.generated.push({ ...context });
    this.handedOut.push(plaintext);
    return { plaintext, wrapped, wrappingKeyId: wrappingKeyId ?? 'memory:test' };
  }

  public async wrap(plaintext: Buffer, context: EncryptionContext): Promise<Buffer> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.master, iv);
    cipher.setAAD(aad(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  public async unwrap(wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.master, wrapped.subarray(0, 12));
      decipher.setAAD(aad(context));
      decipher.setAuthTag(wrapped.subarray(12, 28));
      return Buffer.concat([decipher.update(wrapped.subarray(28)), decipher.final()]);
    } catch (err) {
      throw new DecryptError({ cause: err });
    }
  }
}

/** An AuditSink that keeps events in memory. */
export class MemoryAuditSink implements AuditSink {
  public readonly events: AuditEvent[] = [];
  public async record(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
  public actions(): string[] {
    return this.events.map((e) => e.action);
  }
}

/** Reference counts per version that answer `fallback` for a version never set. */
class CountsWithFallback extends Map<number, number> {
  public constructor(private readonly fallback: number) {
    super();
  }
  public override get(version: number): number {
    return super.get(version) ?? this.fallback;
  }
}

/**
 * A FactsSource over mutable maps; unknown versions have `defaultReferences` references and no
 * escrow. Each answer is a snapshot of the maps when asked, as a count of the stores would be.
 */
export class MapFacts implements FactsSource {
  public readonly refs = new Map<string, number>();
  public readonly escrow = new Set<string>();
  /** Last observed use per `keyring#version`. */
  public readonly uses = new Map<string, KeyUse>();
  public calls = 0;
  public constructor(public defaultReferences = 0, public observingSince: Date | undefined = new Date(0)) {}
  /** Records a use, keeping the latest (as a KeyUseLog does). */
  public use(keyring: string, version: number, at: Date): void {
    const slot = `${keyring}#${version}`;
    const prev = this.uses.get(slot);
    if (prev === undefined || prev.at.getTime() < at.getTime()) this.uses.set(slot, { at });
  }
  public async keyUse(keyring: string): Promise<KeyUseObservation> {
    const prefix = `${keyring}#`;
    const lastUse = new Map<number, KeyUse>();
    for (const [key, use] of this.uses) if (key.startsWith(prefix)) lastUse.set(Number(key.slice(prefix.length)), use);
    return this.observingSince === undefined ? { lastUse } : { lastUse, observingSince: this.observingSince };
  }
  public setReferences(keyring: string, version: number, n: number): void {
    this.refs.set(`${keyring}#${version}`, n);
  }
  public setEscrow(keyring: string, version: number, verified: boolean): void {
    if (verified) this.escrow.add(`${keyring}#${version}`);
    else this.escrow.delete(`${keyring}#${version}`);
  }
  public async referenceCounts(keyring: string): Promise<ReferenceCounts> {
    this.calls += 1;
    const records = new CountsWithFallback(this.defaultReferences);
    const prefix = `${keyring}#`;
    for (const [key, n] of this.refs) {
      if (key.startsWith(prefix)) records.set(Number(key.slice(prefix.length)), n);
    }
    return { records };
  }
  public async escrowVerified(keyring: string, version: number): Promise<boolean> {
    this.calls += 1;
    return this.escrow.has(`${keyring}#${version}`);
  }
}

/** A test key as the catalog stores it. */
export function testKey(n = 0): { wrappedKey: string; wrappingKeyId: string } {
  return { wrappedKey: Buffer.from(`wrapped-${n}`).toString('base64'), wrappingKeyId: 'memory:test' };
}

/** `base` plus `seconds`. */
export function after(base: Date, seconds: number): Date {
  return new Date(base.getTime() + seconds * 1000);
}
