/**
 * RecordService: application reads and writes of encrypted records, with lazy re-wrap on read.
 *
 * A record's envelope is bound to its id (plus any caller context), so that a ciphertext
 * copied under another id does not decrypt. Reading a record whose version is `rotating` or
 * `deprecated` returns the plaintext and writes back the envelope re-wrapped to the active
 * version (header only), conditionally on the revision read: a concurrent application write
 * always wins, and plaintext never leaves this process's memory.
 *
 * Lazy re-wraps are audited in aggregate (`records.rewrapped`, one event per keyring and
 * version pair with a count, never one per record): counted in memory and written by
 * {@link RecordService.flushAudit}, which a re-wrap also triggers once the oldest uncounted one
 * is `auditFlushMs` old.
 */
import { ConflictError, NotFoundError, RekeyError, ValidationError } from '../errors';
import type { CallerContext } from '../envelope/api';
import type { RecordStore } from '../ports/record-store';
import type { AuditSink } from '../ports/audit-sink';
import { noMetrics, recordContext, RECORD_ID_CONTEXT_KEY } from './dependencies';
import type { EnvelopeOps, ReencryptMetrics, VersionLookup } from './dependencies';

/** Dependencies of {@link RecordService}. */
export interface RecordServiceOptions {
  readonly records: RecordStore;
  readonly envelopes: EnvelopeOps;
  /** Version states and the active version (CatalogKeyProvider). */
  readonly versions: VersionLookup;
  readonly metrics?: ReencryptMetrics;
  /** Where aggregated `records.rewrapped` events go; without it lazy re-wraps are only counted in metrics. */
  readonly audit?: AuditSink;
  /** Who the events name. @default 'lazy-rewrap' */
  readonly actor?: string;
  /** Longest time a counted re-wrap waits for its event, in ms. @default 60000 */
  readonly auditFlushMs?: number;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

interface PendingRewraps {
  readonly keyring: string;
  readonly from: number;
  readonly to: number;
  count: number;
  readonly since: number;
}

/** Options of {@link RecordService.put}. */
export interface PutRecordOptions {
  /** Extra caller context bound into the envelope (tenant, ...). The record id is always bound. */
  readonly context?: CallerContext;
  /** Store the caller context in clear in the header, so an emergency re-encryption can supply it. */
  readonly storeContext?: boolean;
  /** Write only if the stored revision still equals this (`null`: only if absent). */
  readonly expectedRevision?: string | null;
}

/** What a read returns. */
export interface ReadRecord {
  readonly plaintext: Buffer;
  readonly keyring: string;
  /** The version the record was encrypted under when read. */
  readonly version: number;
  /** The stored revision after the read (new when the read re-wrapped the record). */
  readonly revision: string;
  /** What the lazy re-wrap did: `none` (already current), `rewrapped`, `conflict` (a newer write won), `failed`. */
  readonly rewrap: 'none' | 'rewrapped' | 'conflict' | 'failed';
}

// States whose records a read migrates; `pending` never holds data and `revoked` needs the
// emergency sweep (a fresh data key), not a re-wrap of a possibly exposed one.
const LAZY_STATES = new Set(['rotating', 'deprecated']);

function validateId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new ValidationError('record id must be a non-empty string');
}

function validateContext(context: CallerContext | undefined): void {
  if (context !== undefined && Object.prototype.hasOwnProperty.call(context, RECORD_ID_CONTEXT_KEY)) {
    throw new ValidationError(`context key '${RECORD_ID_CONTEXT_KEY}' is reserved for the record id`);
  }
}

/**
 * Encrypted record reads and writes with lazy re-wrap.
 *
 * @example
 * const service = new RecordService({ records, envelopes, versions: provider });
 * await service.put('user-1', 'pii', Buffer.from('secret'), { context: { tenant: 't1' } });
 * const { plaintext } = await service.get('user-1', { context: { tenant: 't1' } });
 */
export class RecordService {
  private readonly records: RecordStore;
  private readonly envelopes: EnvelopeOps;
  private readonly versions: VersionLookup;
  private readonly metrics: ReencryptMetrics;
  private readonly audit: AuditSink | undefined;
  private readonly actor: string;
  private readonly flushMs: number;
  private readonly clock: () => Date;
  private pending = new Map<string, PendingRewraps>();

  public constructor(options: RecordServiceOptions) {
    this.records = options.records;
    this.envelopes = options.envelopes;
    this.versions = options.versions;
    this.metrics = options.metrics ?? noMetrics;
    this.audit = options.audit;
    this.actor = options.actor ?? 'lazy-rewrap';
    this.flushMs = options.auditFlushMs ?? 60_000;
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Writes one `records.rewrapped` event per keyring and (from, to) version pair counted since
   * the last flush, and forgets them. Call it before the process ends (the CLI does on close).
   *
   * @example
   * await service.flushAudit(); // { action: 'records.rewrapped', keyring: 'pii', version: 1, details: { toVersion: 2, count: 42 } }
   */
  public async flushAudit(): Promise<void> {
    if (this.audit === undefined || this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const at = this.clock().toISOString();
    for (const p of batch) {
      await this.audit.record({ at, actor: this.actor, action: 'records.rewrapped', keyring: p.keyring, version: p.from, reason: 'read of a superseded version', details: { toVersion: p.to, count: p.count } });
    }
  }

  private async countRewrap(keyring: string, from: number, to: number): Promise<void> {
    if (this.audit === undefined) return;
    const key = `${keyring}\u0000${from}\u0000${to}`;
    const now = this.clock().getTime();
    const entry = this.pending.get(key);
    if (entry === undefined) this.pending.set(key, { keyring, from, to, count: 1, since: now });
    else entry.count += 1;
    let oldest = now;
    for (const p of this.pending.values()) oldest = Math.min(oldest, p.since);
    if (now - oldest < this.flushMs) return;
    // The audit trail is best effort here: a failed append must not fail the read (the counts
    // stay in the metrics).
    await this.flushAudit().catch(() => this.metrics.increment('lazyRewrap.auditFailed'));
  }

  /** Encrypts `plaintext` under the keyring's active version and stores it as record `id`. Returns the revision. */
  public async put(id: string, keyring: string, plaintext: Buffer, options: PutRecordOptions = {}): Promise<string> {
    validateId(id);
    validateContext(options.context);
    if (!Buffer.isBuffer(plaintext)) throw new ValidationError('plaintext must be a Buffer');
    const envelope = await this.envelopes.encrypt(keyring, plaintext, {
      context: recordContext(id, options.context),
      ...(options.storeContext === true ? { storeContext: true } : {}),
    });
    const info = this.envelopes.inspect(envelope);
    const revision = await this.records.put({ id, keyring, version: info.version, envelope }, options.expectedRevision);
    this.metrics.increment('records.written');
    return revision;
  }

  /**
   * Reads and decrypts record `id`. Throws NotFoundError when absent, RevokedVersionError when
   * its version is revoked, DecryptError on any authentication failure (including a ciphertext
   * moved from another record id or a wrong context).
   */
  public async get(id: string, options: { context?: CallerContext } = {}): Promise<ReadRecord> {
    validateId(id);
    validateContext(options.context);
    const stored = await this.records.get(id);
    if (stored === undefined) throw new NotFoundError(`record '${id}' does not exist`);
    const decrypted = await this.envelopes.decrypt(stored.envelope, { context: recordContext(id, options.context), purpose: 'read' });
    const base = { plaintext: decrypted.plaintext, keyring: decrypted.keyring, version: decrypted.version };
    const state = await this.versions.versionState(decrypted.keyring, decrypted.version);
    if (state === undefined || !LAZY_STATES.has(state)) return { ...base, revision: stored.revision, rewrap: 'none' };
    return { ...base, ...(await this.writeBack(stored.id, stored.keyring, stored.envelope, stored.revision)) };
  }

  /** Deletes record `id` (conditionally when `expectedRevision` is given). */
  public async delete(id: string, expectedRevision?: string): Promise<void> {
    validateId(id);
    await this.records.delete(id, expectedRevision);
  }

  // The write-back is an optimisation (the sweep migrates whatever reads do not): its failures
  // are counted and never fail the read, and a conflict is never retried over newer data.
  private async writeBack(
    id: string,
    keyring: string,
    envelope: Buffer,
    revision: string,
  ): Promise<{ revision: string; rewrap: ReadRecord['rewrap'] }> {
    try {
      const { version: active } = await this.versions.forEncrypt(keyring);
      const rewrapped = await this.envelopes.rewrap(envelope, { toVersion: active });
      const info = this.envelopes.inspect(rewrapped);
      const next = await this.records.put({ id, keyring, version: info.version, envelope: rewrapped }, revision);
      this.metrics.increment('lazyRewrap.rewrapped');
      await this.countRewrap(keyring, this.envelopes.inspect(envelope).version, info.version);
      return { revision: next, rewrap: 'rewrapped' };
    } catch (err) {
      if (err instanceof ConflictError) {
        this.metrics.increment('lazyRewrap.conflict');
        return { revision, rewrap: 'conflict' };
      }
      if (err instanceof RekeyError) {
        this.metrics.increment('lazyRewrap.failed');
        return { revision, rewrap: 'failed' };
      }
      throw err;
    }
  }
}
