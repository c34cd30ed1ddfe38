/**
 * Crash injection for emergency revocation: killed at every call it makes (the ledger mark,
 * catalog reads and compare-and-swaps, key-cache invalidation, cache purge, record scans by
 * origin and writes, checkpoint saves, envelope operations, audit appends), before the call or
 * after it with the result lost, then re-run (after the catalog cache lifetime) until it
 * completes. Every run converges: the ledger marked once, exactly one replacement version, no
 * record lost, and every record readable with a data key made under the new version. The
 * crash points include "ledger marked, catalog not written" and "re-encryption half done".
 */
import type { CacheStore } from '../../../shared/ports/cache-store';
import type { AuditSink } from '../../../shared/ports/audit-sink';
import { EmergencyRevocation, Sweeper } from '../../../shared/reencrypt';
import type { RevocationResult } from '../../../shared/reencrypt';
import { DEFAULT_CATALOG_TTL_MS } from '../../../shared/reencrypt';
import type { RevocationLedger, RevocationMark } from '../../../shared/ports/revocation-ledger';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';
import { FaultPlan, InjectedCrash } from '../../unit/reencrypt/support/store-wrappers';

const M = 6;

async function prepared(plan: FaultPlan): Promise<{ stack: LocalStack; revocation: () => EmergencyRevocation; marks: Map<number, RevocationMark> }> {
  const stack = new LocalStack({ catalogStore: (inner) => plan.catalogs(inner) });
  await stack.createKeyring('pii');
  const service = stack.recordService();
  for (let i = 0; i < M; i += 1) await service.put(`r${i}`, 'pii', Buffer.from(`value ${i}`));
  await stack.cacheStore.set('c0', Buffer.from('x'), 60, 'pii', 1);
  const cache: Pick<CacheStore, 'invalidateVersion'> = { invalidateVersion: (k, v) => plan.call('cache.invalidate', () => stack.cacheStore.invalidateVersion(k, v)) };
  const audit: AuditSink = { record: (e) => plan.call('audit.record', () => stack.audit.record(e)) };
  const marks = new Map<number, RevocationMark>();
  const ledger: RevocationLedger = {
    mark: (m) => plan.call('ledger.mark', async () => {
      if (!marks.has(m.version)) marks.set(m.version, m);
    }),
    revoked: async () => new Map(marks),
  };
  // A new EmergencyRevocation per attempt stands for a restarted process.
  const revocation = (): EmergencyRevocation => new EmergencyRevocation({
    keyrings: stack.keyrings,
    provider: { invalidate: (k?: string) => plan.call('provider.invalidate', async () => stack.provider.invalidate(k)) },
    cache,
    sweeper: new Sweeper({ records: plan.records(stack.records), envelopes: plan.envelopes(stack.envelopes), versions: stack.provider }),
    checkpoints: plan.checkpoints(stack.checkpoints),
    records: plan.records(stack.records),
    audit,
    ledger,
    clock: () => stack.now,
  });
  return { stack, revocation, marks };
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
          const { stack, revocation, marks } = await prepared(plan);
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
          // Restarted runs, each after the catalog cache lifetime: a crash before the catalog
          // write makes the restarted run the revocation, whose count is final only at the next.
          let result = await run(revocation());
          for (let again = 0; again < 2 && !result.complete; again += 1) {
            stack.now = new Date(stack.now.getTime() + DEFAULT_CATALOG_TTL_MS + 1000);
            result = await run(revocation());
          }
          // Assess
          expect(result).toMatchObject({ complete: true, activeVersion: 2, remaining: 0 });
          const catalog = await stack.keyrings.get('pii');
          expect(catalog.versions.map((v) => [v.version, v.state === 'active'])).toEqual([[1, false], [2, true]]);
          expect(['revoked', 'disabled']).toContain(catalog.versions[0]!.state);
          expect(await stack.records.countByVersion('pii')).toEqual(new Map([[2, M]]));
          expect(await stack.records.countByOrigin('pii')).toEqual(new Map([[2, M]]));
          expect([...marks.keys()]).toEqual([1]);
          const service = stack.recordService();
          for (let i = 0; i < M; i += 1) expect((await service.get(`r${i}`)).plaintext.toString()).toBe(`value ${i}`);
          stack.close();
        }
      }
      expect(points.size).toBeGreaterThanOrEqual(20);
      // Hundreds of full revocations: a loaded 2-core machine needs more than jest's default.
    }, 300_000);
  });
});
