/**
 * Emergency revocation end to end on the real local stack: FileKeyVault, SqliteCatalogStore,
 * KeyringService, CatalogKeyProvider, EnvelopeClient, EncryptedCache over MemoryCacheStore,
 * JsonlAuditSink, SqliteRecordStore and SqliteCheckpointStore.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EncryptedCache } from '../../../shared/cache';
import { RevokedVersionError, VersionUnavailableError } from '../../../shared/errors';
import { EmergencyRevocation, recordContext } from '../../../shared/reencrypt';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

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

  function auditActions(): string[] {
    return readFileSync(join(stack.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action);
  }

  describe('revoke', () => {
    it('activates a fresh version, purges the cache, re-encrypts every record and disables the version', async () => {
      // Prepare
      const leaked = (await stack.records.get('cur-0'))!.envelope;
      // Act
      const result = await revocation.revoke('pii', 2, { reason: 'SEC-1 key exposure', actor: 'cli:test', sweep: SWEEP });
      // Assess
      expect(result).toMatchObject({ version: 2, activeVersion: 3, revokedNow: true, cacheEntriesPurged: 5, remaining: 0, state: 'disabled', complete: true });
      expect(result.sweep).toMatchObject({ done: CURRENT, failedCount: 0 });
      expect(await stack.records.countByVersion('pii')).toEqual(new Map([[1, OLD], [3, CURRENT]]));
      expect((await stack.cacheStore.countByVersion('pii')).get(2) ?? 0).toBe(0);
      const service = stack.recordService();
      for (const [id, value] of values) {
        expect((await service.get(id, { context: { tenant: 'a' } })).plaintext.toString()).toBe(value);
      }
      await expect(stack.envelopes.decrypt(leaked, { context: recordContext('cur-0', { tenant: 'a' }) })).rejects.toBeInstanceOf(VersionUnavailableError);
      expect((await stack.keyrings.get('pii')).versions.map((v) => [v.version, v.state])).toEqual([[1, 'rotating'], [2, 'disabled'], [3, 'active']]);
      expect(auditActions()).toEqual(expect.arrayContaining([
        'version.revoked', 'version.activated', 'revocation.revoked', 'revocation.keys-invalidated', 'revocation.cache-purged',
        'revocation.swept', 'revocation.verified', 'version.disabled', 'revocation.completed',
      ]));
    });

    it('refuses ordinary reads of the revoked version while the sweep is pending, and a second run finishes the job', async () => {
      // Prepare: the first run is stopped before its sweep does anything.
      const stopped = new AbortController();
      stopped.abort();
      const first = await revocation.revoke('pii', 2, { reason: 'SEC-2', actor: 'cli:test', sweep: { ...SWEEP, signal: stopped.signal } });
      await expect(stack.recordService().get('cur-1', { context: { tenant: 'a' } })).rejects.toBeInstanceOf(RevokedVersionError);
      // Act
      const second = await revocation.revoke('pii', 2, { reason: 'SEC-2', actor: 'cli:test', sweep: SWEEP });
      const third = await revocation.revoke('pii', 2, { reason: 'SEC-2', actor: 'cli:test', sweep: SWEEP });
      // Assess
      expect(first).toMatchObject({ state: 'revoked', complete: false, remaining: CURRENT });
      expect(second).toMatchObject({ revokedNow: false, state: 'disabled', complete: true, activeVersion: 3 });
      expect(third).toMatchObject({ state: 'disabled', complete: true, activeVersion: 3 });
      expect((await stack.keyrings.get('pii')).versions).toHaveLength(3);
      expect((await stack.recordService().get('cur-1', { context: { tenant: 'a' } })).plaintext.toString()).toBe('current value 1');
    });

    it('revokes a rotating version without touching the active one', async () => {
      // Act
      const result = await revocation.revoke('pii', 1, { reason: 'SEC-3', actor: 'cli:test', sweep: SWEEP });
      // Assess
      expect(result).toMatchObject({ state: 'disabled', complete: true, activeVersion: 3 });
      expect(await stack.records.countByVersion('pii')).toEqual(new Map([[2, CURRENT], [3, OLD]]));
      expect((await stack.keyrings.get('pii')).versions.map((v) => v.state)).toEqual(['disabled', 'rotating', 'active']);
    });
  });
});
