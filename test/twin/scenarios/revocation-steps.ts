/**
 * The steps and checks the revocation scenarios share: writing records as the application,
 * reading the stored envelopes, proving a re-encryption (not a re-wrap), the audit trail of one
 * compromise event in the stack's archive, and the closing "nothing unexpected" checks.
 */
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import type { EventEnvelope } from '../drivers/types';
import { extrasOf } from '../standup/standup';
import type { RequestLogEntry } from '../world';
import type { RevocationWorld } from './revocation-setup';

/** Denials a scenario provoked on purpose (asserted where they happen). */
export interface Expected {
  readonly denied: Set<RequestLogEntry>;
}

/** One audit event as the EventBridge audit sink publishes it (sanitized AuditEvent). */
export interface AuditDetail {
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly keyring?: string;
  readonly version?: number;
  readonly reason?: string;
  readonly details?: Record<string, unknown>;
}

/** Writes `n` records `order-<i>` as the application; returns id → plaintext. */
export async function writeRecords(w: RevocationWorld, n: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const id = `order-${i}`;
    const plaintext = `card 4111-0000-0000-${String(i).padStart(4, '0')}`;
    await w.app.records.put(id, 'pii', Buffer.from(plaintext));
    out.set(id, plaintext);
  }
  return out;
}

/** The stored envelope of every record, read as admin (no product code involved). */
export async function snapshotEnvelopes(w: RevocationWorld, ids: ReadonlyMap<string, unknown>): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const id of ids.keys()) out.set(id, await w.envelope(id));
  return out;
}

/** The ciphertext body of an envelope (what a header-only re-wrap leaves unchanged). */
export function bodyOf(envelope: Buffer): Buffer {
  return envelope.subarray(inspectEnvelope(envelope).headerLength);
}

/**
 * Every record now names `version` (never 1) and its body changed: a fresh data key and nonce
 * re-encrypted it. A re-wrap would keep the body byte for byte (shared/envelope/format.ts: the
 * header holds the wrapped data key, the body the AES-GCM ciphertext).
 */
export async function expectRecordsReencrypted(w: RevocationWorld, before: ReadonlyMap<string, Buffer>, version: number): Promise<void> {
  const now = await snapshotEnvelopes(w, before);
  for (const [id, old] of before) {
    const envelope = now.get(id) ?? Buffer.alloc(0);
    expect([id, inspectEnvelope(envelope).version]).toEqual([id, version]);
    expect(bodyOf(envelope).equals(bodyOf(old))).toBe(false);
    expect(envelope.subarray(0, inspectEnvelope(envelope).headerLength).equals(old.subarray(0, inspectEnvelope(old).headerLength))).toBe(false);
  }
}

/** The application (a fresh instance: no cached catalog or key) reads every record back. */
export async function readAllBack(w: RevocationWorld, plaintexts: ReadonlyMap<string, string>, version: number): Promise<void> {
  const app = w.app.restart();
  try {
    for (const [id, plaintext] of plaintexts) {
      const read = await app.records.get(id);
      expect([id, read.plaintext.toString(), read.version, read.rewrap]).toEqual([id, plaintext, version, 'none']);
    }
  } finally {
    app.s3.destroy();
    app.kms.destroy();
  }
}

/**
 * Runs `action`, which must fail with `errorName`, and returns the denials it caused (now expected).
 */
export async function expectDeniedDuring(w: RevocationWorld, expected: Expected, action: () => Promise<unknown>, errorName: string): Promise<RequestLogEntry[]> {
  const from = w.twin.world.requestLog.length;
  await expect(action()).rejects.toMatchObject({ name: errorName });
  const denied = w.twin.world.requestLog.slice(from).filter((r) => !r.allowed);
  expect(denied.length).toBeGreaterThan(0);
  for (const d of denied) expected.denied.add(d);
  return denied;
}

/**
 * The compromise event `eventId` in the audit archive, and the audit events answering it: those
 * after it whose actor is its sender (`detail.requestedBy`, the IAM principal the CLI read from
 * STS; `event:<id>` when the event names none). Reports from the same sender that follow it are
 * answered by the same actor: their events are in both lists.
 */
export function auditOf(w: RevocationWorld, eventId: string): { compromise: EventEnvelope; actor: string; events: (EventEnvelope & { detail: AuditDetail })[]; actions: string[]; later: (EventEnvelope & { detail: AuditDetail })[] } {
  const names = extrasOf(w.twin.world).archives.map((a) => a.name);
  const archive = names.map((n) => w.twin.bus.archived(n)).find((events) => events.some((e) => e.id === eventId)) ?? [];
  const at = archive.findIndex((e) => e.id === eventId);
  const compromise = archive[at];
  if (compromise === undefined) throw new Error(`compromise event ${eventId} is in no archive (${names.join(', ')})`);
  const audit = archive.slice(at + 1).filter((e) => e.source === 'rekey.audit' && e['detail-type'] === 'Rekey Audit Event') as (EventEnvelope & { detail: AuditDetail })[];
  const requestedBy = (compromise.detail as { requestedBy?: unknown }).requestedBy;
  const actor = typeof requestedBy === 'string' ? requestedBy : `event:${eventId}`;
  const events = audit.filter((e) => e.detail.actor === actor);
  return { compromise, actor, events, actions: events.map((e) => `${e.detail.action}:${e.detail.version ?? '-'}`), later: audit.filter((e) => !events.includes(e)) };
}

/** Audit actions of the compromise events that mean "done" (the revocation's own final step). */
const COMPLETE = new Set(['revocation.completed', 'revocation.already-complete']);

/**
 * Lets the revocation requested by compromise event `eventId` finish as it does on AWS: the
 * revoke function's first attempt re-encrypts, then fails retryably until one catalog cache
 * lifetime (60 s) has passed since the revocation; Lambda retries the event one minute later
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html; the twin
 * runs that retry at its simulated minute), and that attempt's count is final: no second report.
 * With `handedOff` (the first attempt handed the re-encryption to a sweep execution and reported
 * `records-remain`, which is not an error Lambda retries) the operator does what the runbook says
 * once the sweep is done and reports again. Returns the compromise event ids that took part.
 */
export async function settleRevocation(w: RevocationWorld, eventId: string, argv: readonly string[], options: { handedOff?: boolean } = {}): Promise<string[]> {
  await w.twin.advance(5 * 60_000);
  const done = (): boolean => auditOf(w, eventId).events.some((e) => COMPLETE.has(e.detail.action));
  if (options.handedOff !== true) {
    // Lambda's own retry completed it: neither a re-report nor a dead-lettered revoke event.
    expect(done()).toBe(true);
    return [eventId];
  }
  if (done()) return [eventId];
  const again = await w.twin.cli(argv, w.operator);
  const second = /revocation requested: event (\S+) on bus/.exec(again.stdout)?.[1] ?? '';
  expect([again.code, second.length > 0]).toEqual([0, true]);
  await w.twin.advance(5 * 60_000);
  expect(done()).toBe(true);
  return [eventId, second];
}

/**
 * The closing checks: every denial was provoked on purpose, nothing failed in the background, no
 * event was lost, every schedule and rule delivery went through, and no alarm is in ALARM.
 */
export function nothingUnexpected(w: RevocationWorld, expected: Expected): void {
  const { twin } = w;
  const show = (d: RequestLogEntry): string => `${d.caller} ${d.action} ${d.resources.join(',')}: ${d.reason ?? ''}`;
  expect(twin.deniedRequests().filter((d) => !expected.denied.has(d)).map(show)).toEqual([]);
  expect(twin.backgroundErrors).toEqual([]);
  expect(twin.runtime.lostEvents).toEqual([]);
  expect(twin.scheduler.fired.filter((f) => f.outcome !== 'delivered').map((f) => `${f.schedule}: ${f.error?.message ?? f.outcome}`)).toEqual([]);
  expect(twin.bus.deliveries.filter((d) => d.outcome !== 'delivered').map((d) => `${d.rule}: ${d.error?.message ?? d.outcome}`)).toEqual([]);
  expect([...twin.world.alarms.values()].map((a) => a.name).filter((n) => twin.alarms.state(n) === 'ALARM')).toEqual([]);
}
