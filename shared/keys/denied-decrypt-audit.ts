/**
 * DeniedDecryptAudit: decrypts refused because their version is revoked, gathered in memory and
 * written as one `decrypt.denied` audit event per keyring and version at each flush, with the
 * count. A refused read is the sign of a holder still trying the compromised key (or of data
 * not re-encrypted yet); one event per attempt would let a retry loop flood the audit trail.
 * Events carry the keyring, the version and a count: never key material, never a payload.
 */
import type { AuditSink } from '../ports/audit-sink';

/** Options of {@link DeniedDecryptAudit}. */
export interface DeniedDecryptAuditOptions {
  readonly audit: AuditSink;
  /** Who is acting (the process's actor). */
  readonly actor: string;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/**
 * Aggregates revoked-version refusals for the audit trail.
 *
 * @example
 * const denied = new DeniedDecryptAudit({ audit, actor: 'cli:alice' });
 * const provider = new CatalogKeyProvider({ store, vault, onRevokedDenied: (k, v) => denied.note(k, v) });
 * await denied.flush(); // at process end
 */
export class DeniedDecryptAudit {
  private readonly o: DeniedDecryptAuditOptions;
  private readonly counts = new Map<string, { keyring: string; version: number; count: number; first: Date }>();

  public constructor(options: DeniedDecryptAuditOptions) {
    this.o = options;
  }

  /** Counts one refusal (synchronous and cheap: it sits on the decrypt path). */
  public note(keyring: string, version: number): void {
    const slot = `${keyring}#${version}`;
    const entry = this.counts.get(slot);
    if (entry === undefined) this.counts.set(slot, { keyring, version, count: 1, first: (this.o.clock ?? (() => new Date()))() });
    else entry.count += 1;
  }

  /** Writes one event per keyring and version noted since the last flush; a no-op when none. */
  public async flush(): Promise<number> {
    const entries = [...this.counts.values()];
    this.counts.clear();
    const at = (this.o.clock ?? (() => new Date()))().toISOString();
    for (const e of entries) {
      await this.o.audit.record({
        at,
        actor: this.o.actor,
        action: 'decrypt.denied',
        keyring: e.keyring,
        version: e.version,
        reason: 'version revoked',
        details: { count: e.count, firstAt: e.first.toISOString() },
      });
    }
    return entries.length;
  }
}
