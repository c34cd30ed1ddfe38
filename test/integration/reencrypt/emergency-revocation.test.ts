/**
 * Emergency revocation end to end on the real local stack: FileKeyVault, SqliteCatalogStore,
 * KeyringService, CatalogKeyProvider, EnvelopeClient, EncryptedCache over MemoryCacheStore,
 * JsonlAuditSink, SqliteRecordStore and SqliteCheckpointStore.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EncryptedCache } from '../../../shared/cache';
import { RevokedVersionError, UnknownVersionError } from '../../../shared/errors';
import { CatalogKeyProvider } from '../../../shared/keys';
import { EnvelopeClient } from '../../../shared/envelope';
import { DEFAULT_CATALOG_TTL_MS, EmergencyRevocation, RecordService, recordContext } from '../../../shared/reencrypt';
import type { RevocationLedger, RevocationMark } from '../../../shared/ports/revocation-ledger';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

/** A ledger in memory that logs its marks into `log` (first mark of a version wins). */
function memoryLedger(log: string[]): RevocationLedger & { marks: Map<string, RevocationMark> } {
  const marks = new Map<string, RevocationMark>();
  return {
    marks,
    async mark(m) {
      log.push(`ledger.mark v${m.version}`);
      if (!marks.has(`${m.keyring}:${m.version}`)) marks.set(`${m.keyring}:${m.version}`, m);
    },
    async revoked(keyring) {
      return new Map([...marks.values()].filter((m) => m.keyring === keyring).map((m) => [m.version, m]));
    },
  };
}

const OLD = 12;
// Every record here is bound to tenant 'a' (not stored in the envelope): the application tells
// the emergency sweep, which must decrypt, what the context is.
const SWEEP = { contextFor: (record: { id: string }) => recordContext(record.id, { tenant: 'a' }) };
const CURRENT = 9;

describe('EmergencyRevocation', () => {
  let stack: LocalStack;
  let cache: EncryptedCache;
  let revocation: EmergencyRevocation;
  const values = new Map<string, string>();

  beforeEach(async () => {
    // Prepare (shared): v1 rotating with OLD records, v2 active with CURRENT records and cache entries.
    stack = new LocalStack();
    await stack.createKeyring('pii');
    const service = stack.recordService();
    for (let i = 0; i < OLD; i += 1) {
      values.set(`old-${i}`, `old value ${i}`);
      await service.put(`old-${i}`, 'pii', Buffer.from(`old value ${i}`), { context: { tenant: 'a' } });
    }
    await stack.rotateAndPromote('pii');
    for (let i = 0; i < CURRENT; i += 1) {
      values.set(`cur-${i}`, `current value ${i}`);
      await service.put(`cur-${i}`, 'pii', Buffer.from(`current value ${i}`), { context: { tenant: 'a' } });
    }
    cache = new EncryptedCache({ store: stack.cacheStore, envelopes: stack.envelopes, versions: stack.provider });
    for (let i = 0; i < 5; i += 1) await cache.set(`session-${i}`, 'pii', Buffer.from(`session ${i}`));
    revocation = new EmergencyRevocation({
      keyrings: stack.keyrings,
      provider: stack.provider,
      cache,
      sweeper: stack.sweeper(),
      checkpoints: stack.checkpoints,
      records: stack.records,
      audit: stack.audit,
      clock: () => stack.now,
    });
  });

  afterEach(() => stack.close());

  /** Moves the clock past the catalog cache lifetime, so the next count is final. */
  function settle(): void {
    stack.now = new Date(stack.now.getTime() + DEFAULT_CATALOG_TTL_MS + 1000);
  }

  function auditActions(): string[] {
    return readFileSync(join(stack.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action);
  }

  describe('revoke', () => {
    it('activates a fresh version, purges the cache, re-encrypts every record and disables the version', async () => {
      // Prepare
      const leaked = (await stack.records.get('cur-0'))!.envelope;
      // Act: the first run re-encrypts; the count becomes final only after the catalog TTL.
      const first = await revocation.revoke('pii', 2, { reason: 'SEC-1 key exposure', actor: 'cli:test', sweep: SWEEP });
      settle();
      const result = await revocation.revoke('pii', 2, { reason: 'SEC-1 key exposure', actor: 'cli:test', sweep: SWEEP });
      // Assess
      expect(first).toMatchObject({ version: 2, activeVersion: 3, revokedNow: true, cacheEntriesPurged: 5, remaining: 0, complete: false, pending: 'settling' });
      // Every data key made at or before v2: the v1 records' too (a copy of one of them may have
      // been re-wrapped under v2 somewhere), not only the records under v2.
      expect(first.sweep).toMatchObject({ done: OLD + CURRENT, failedCount: 0 });
      expect(result).toMatchObject({ version: 2, activeVersion: 3, revokedNow: false, remaining: 0, underVersion: 0, complete: true });
      expect(result.pending).toBeUndefined();
      expect(await stack.records.countByVersion('pii')).toEqual(new Map([[3, OLD + CURRENT]]));
      expect((await stack.cacheStore.countByVersion('pii')).get(2) ?? 0).toBe(0);
      const service = stack.recordService();
      for (const [id, value] of values) {
        expect((await service.get(id, { context: { tenant: 'a' } })).plaintext.toString()).toBe(value);
      }
      // The leaked copy is refused to ordinary readers (revoked, or disabled once the lifecycle saw enough quiet).
      await expect(stack.envelopes.decrypt(leaked, { context: recordContext('cur-0', { tenant: 'a' }) })).rejects.toThrow();
      expect(['revoked', 'disabled']).toContain(await stack.stateOf('pii', 2));
      expect((await stack.keyrings.get('pii')).versions.map((v) => [v.version, v.state === 'active'])).toEqual([[1, false], [2, false], [3, true]]);
      expect(auditActions()).toEqual(expect.arrayContaining([
        'version.revoked', 'version.activated', 'revocation.revoked', 'revocation.keys-invalidated', 'revocation.cache-purged',
        'revocation.swept', 'sweep.completed', 'revocation.verified', 'revocation.incomplete', 'revocation.completed',
      ]));
    });

    it('refuses ordinary reads of the revoked version while the sweep is pending, and a second run finishes the job', async () => {
      // Prepare: the first run is stopped before its sweep does anything.
      const stopped = new AbortController();
      stopped.abort();
      const first = await revocation.revoke('pii', 2, { reason: 'SEC-2', actor: 'cli:test', sweep: { ...SWEEP, signal: stopped.signal } });
      await expect(stack.recordService().get('cur-1', { context: { tenant: 'a' } })).rejects.toBeInstanceOf(RevokedVersionError);
      // Act
      settle();
      const second = await revocation.revoke('pii', 2, { reason: 'SEC-2', actor: 'cli:test', sweep: SWEEP });
      const third = await revocation.revoke('pii', 2, { reason: 'SEC-2', actor: 'cli:test', sweep: SWEEP });
      // Assess
      expect(first).toMatchObject({ state: 'revoked', complete: false, pending: 'records-remain', remaining: OLD + CURRENT, underVersion: CURRENT });
      expect(second).toMatchObject({ revokedNow: false, complete: true, activeVersion: 3 });
      expect(third).toMatchObject({ revokedNow: false, complete: true, activeVersion: 3, remaining: 0 });
      expect((await stack.keyrings.get('pii')).versions).toHaveLength(3);
      expect((await stack.recordService().get('cur-1', { context: { tenant: 'a' } })).plaintext.toString()).toBe('current value 1');
    });

    it('revokes a rotating version without touching the active one', async () => {
      // Act
      await revocation.revoke('pii', 1, { reason: 'SEC-3', actor: 'cli:test', sweep: SWEEP });
      settle();
      const result = await revocation.revoke('pii', 1, { reason: 'SEC-3', actor: 'cli:test', sweep: SWEEP });
      // Assess
      expect(result).toMatchObject({ complete: true, activeVersion: 3 });
      expect(await stack.records.countByVersion('pii')).toEqual(new Map([[2, CURRENT], [3, OLD]]));
      expect((await stack.keyrings.get('pii')).versions.map((v) => v.state)[1]).toBe('rotating');
    });

    it('re-encrypts records re-wrapped away from the revoked version, since they keep its data keys', async () => {
      // Prepare: the reproduction: encrypt under v1, rotate, sweep to v2 (header only).
      const swept = await stack.sweeper().sweep('pii', 1, { mode: 'rewrap', checkpoint: stack.checkpoints });
      expect(swept).toMatchObject({ done: OLD, remaining: 0 });
      const before = await stack.records.get('old-0');
      expect(before).toMatchObject({ version: 2, originVersion: 1 });
      // Act
      await revocation.revoke('pii', 1, { reason: 'SEC-4', actor: 'cli:test', sweep: SWEEP });
      settle();
      const result = await revocation.revoke('pii', 1, { reason: 'SEC-4', actor: 'cli:test', sweep: SWEEP });
      // Assess: before the fix the revocation re-encrypted 0 records and reported complete.
      expect(result).toMatchObject({ complete: true, remaining: 0 });
      const origins = await stack.origins('pii');
      for (let i = 0; i < OLD; i += 1) expect(origins.get(`old-${i}`)).toBe(3);
      for (let i = 0; i < CURRENT; i += 1) expect(origins.get(`cur-${i}`)).toBe(2);
      // A fresh data key: the payload bytes changed, where a re-wrap would have kept them.
      const after = (await stack.records.get('old-0'))!.envelope;
      const bodyOf = (e: Buffer): Buffer => e.subarray(stack.envelopes.inspect(e).headerLength);
      expect(bodyOf(after).equals(bodyOf(before!.envelope))).toBe(false);
      expect((await stack.recordService().get('old-0', { context: { tenant: 'a' } })).plaintext.toString()).toBe('old value 0');
    });

    it('re-encrypts what a writer with a cached catalog stored under the just-revoked version, and completes only after its cache lifetime', async () => {
      // Prepare: a second process whose catalog (v2 active) is cached for the default lifetime.
      const staleProvider = new CatalogKeyProvider({ store: stack.catalogStore, vault: stack.vault, clock: () => stack.now.getTime() });
      const staleWriter = new RecordService({ records: stack.records, envelopes: new EnvelopeClient(staleProvider), versions: staleProvider });
      await staleWriter.put('warm-up', 'pii', Buffer.from('w'), { context: { tenant: 'a' } });
      const first = await revocation.revoke('pii', 2, { reason: 'SEC-5', actor: 'cli:test', sweep: SWEEP });
      // Act: the stale writer still encrypts under v2, now revoked.
      await staleWriter.put('late', 'pii', Buffer.from('written late'), { context: { tenant: 'a' } });
      expect((await stack.records.get('late'))!.version).toBe(2);
      settle();
      const second = await revocation.revoke('pii', 2, { reason: 'SEC-5', actor: 'cli:test', sweep: SWEEP });
      // Assess: before the fix the first run disabled v2 and the second reported 0 remaining.
      expect(first).toMatchObject({ complete: false, pending: 'settling', remaining: 0 });
      expect(second.sweep).toMatchObject({ done: 1, failedCount: 0 });
      expect(second).toMatchObject({ complete: true, remaining: 0, underVersion: 0 });
      expect(await stack.records.get('late')).toMatchObject({ version: 3, originVersion: 3 });
      expect((await stack.recordService().get('late', { context: { tenant: 'a' } })).plaintext.toString()).toBe('written late');
    });

    it('marks the ledger before the catalog write, once per version, and marks nothing for a version that does not exist', async () => {
      // Prepare
      const log: string[] = [];
      const ledger = memoryLedger(log);
      const keyrings = {
        get: (name: string) => stack.keyrings.get(name),
        tick: (o: { keyring?: string; actor?: string }) => stack.keyrings.tick(o),
        revoke: async (name: string, version: number, o: { reason: string; actor: string }) => {
          log.push(`catalog.revoke v${version}`);
          return stack.keyrings.revoke(name, version, o);
        },
      };
      const withLedger = new EmergencyRevocation({
        keyrings, provider: stack.provider, cache, sweeper: stack.sweeper(), checkpoints: stack.checkpoints,
        records: stack.records, audit: stack.audit, clock: () => stack.now, ledger,
      });
      // Act
      await withLedger.revoke('pii', 2, { reason: 'SEC-6', actor: 'cli:test', sweep: SWEEP });
      await withLedger.revoke('pii', 2, { reason: 'SEC-6 again', actor: 'cli:other', sweep: SWEEP });
      const unknown = withLedger.revoke('pii', 9, { reason: 'typo', actor: 'cli:test' });
      // Assess
      await expect(unknown).rejects.toBeInstanceOf(UnknownVersionError);
      expect(log).toEqual(['ledger.mark v2', 'catalog.revoke v2', 'ledger.mark v2']);
      expect([...(await ledger.revoked('pii')).keys()]).toEqual([2]);
      expect(ledger.marks.get('pii:2')).toMatchObject({ reason: 'SEC-6', actor: 'cli:test' });
      expect(auditActions()).toContain('revocation.marked');
    });
  });
});
