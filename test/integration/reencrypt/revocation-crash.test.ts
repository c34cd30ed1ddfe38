/**
 * Crash injection for emergency revocation: killed at every call it makes (catalog reads and
 * compare-and-swaps, key-cache invalidation, cache purge, record scans and writes, checkpoint
 * saves, envelope operations, audit appends), before the call or after it with the result lost,
 * then re-run until it completes. Every run converges: exactly one replacement version, the
 * revoked version disabled, no record lost and every record readable under the new version.
 */
import type { CacheStore } from '../../../shared/ports/cache-store';
import type { AuditSink } from '../../../shared/ports/audit-sink';
import { EmergencyRevocation, Sweeper } from '../../../shared/reencrypt';
import type { RevocationResult } from '../../../shared/reencrypt';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';
import { FaultPlan, InjectedCrash } from '../../unit/reencrypt/support/store-wrappers';

const M = 6;

async function prepared(plan: FaultPlan): Promise<{ stack: LocalStack; revocation: () => EmergencyRevocation }> {
  const stack = new LocalStack({ catalogStore: (inner) => plan.catalogs(inner) });
  await stack.createKeyring('pii');
  const service = stack.recordService();
  for (let i = 0; i < M; i += 1) await service.put(`r${i}`, 'pii', Buffer.from(`value ${i}`));
  await stack.cacheStore.set('c0', Buffer.from('x'), 60, 'pii', 1);
  const cache: Pick<CacheStore, 'invalidateVersion'> = { invalidateVersion: (k, v) => plan.call('cache.invalidate', () => stack.cacheStore.invalidateVersion(k, v)) };
  const audit: AuditSink = { record: (e) => plan.call('audit.record', () => stack.audit.record(e)) };
  // A new EmergencyRevocation per attempt stands for a restarted process.
  const revocation = (): EmergencyRevocation => new EmergencyRevocation({
    keyrings: stack.keyrings,
    provider: { invalidate: (k?: string) => plan.call('provider.invalidate', async () => stack.provider.invalidate(k)) },
    cache,
    sweeper: new Sweeper({ records: plan.records(stack.records), envelopes: plan.envelopes(stack.envelopes), versions: stack.provider }),
    checkpoints: plan.checkpoints(stack.checkpoints),
    records: plan.records(stack.records),
    audit,
    clock: () => stack.now,
  });
  return { stack, revocation };
}

async function run(revocation: EmergencyRevocation): Promise<RevocationResult> {
  return revocation.revoke('pii', 1, { reason: 'SEC-9', actor: 'test', sweep: { batchSize: 2, concurrency: 2 } });
}

describe('EmergencyRevocation', () => {
  describe('revoke', () => {
    it('converges after a crash at any call, whatever the call', async () => {
      // Prepare: how many calls a clean revocation makes
      const counter = new FaultPlan(Number.MAX_SAFE_INTEGER, 'before', { armed: false });
      const clean = await prepared(counter);
      counter.arm();
      await run(clean.revocation());
      const total = counter.count;
      clean.stack.close();
      const points = new Set<string>();

      for (const when of ['before', 'after'] as const) {
        for (let k = 1; k <= total; k += 1) {
          const plan = new FaultPlan(k, when, { armed: false });
          const { stack, revocation } = await prepared(plan);
          plan.arm();
          // Act
          // A crash inside the reconciler's tick is reported by the tick rather than thrown, so
          // the first run may also return (finished or not) instead of throwing.
          await run(revocation()).catch((err: unknown) => {
            if (!(err instanceof InjectedCrash)) throw err;
          });
          expect(plan.crashedAt).toBeDefined();
          points.add(plan.crashedAt!);
          stack.provider.invalidate('pii');
          const result = await run(revocation());
          // Assess
          expect(result).toMatchObject({ state: 'disabled', complete: true, activeVersion: 2, remaining: 0 });
          const catalog = await stack.keyrings.get('pii');
          expect(catalog.versions.map((v) => [v.version, v.state])).toEqual([[1, 'disabled'], [2, 'active']]);
          expect(await stack.records.countByVersion('pii')).toEqual(new Map([[2, M]]));
          const service = stack.recordService();
          for (let i = 0; i < M; i += 1) expect((await service.get(`r${i}`)).plaintext.toString()).toBe(`value ${i}`);
          stack.close();
        }
      }
      expect(points.size).toBeGreaterThanOrEqual(20);
    });
  });
});
