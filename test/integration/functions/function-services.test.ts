import { createCacheInvalidateHandler } from '../../../functions/cache-invalidate/handler';
import { createEscrowHandler } from '../../../functions/escrow/handler';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import { createReencryptHandler } from '../../../functions/reencrypt/handler';
import { createRevokeHandler } from '../../../functions/revoke/handler';
import { createRotateHandler } from '../../../functions/rotate/handler';
import type { HandlerDeps } from '../../../shared/lambda/create-handler';
import { createLogger } from '../../../shared/lambda/create-logger';
import type { FunctionServices } from '../../../shared/compose/aws/rekey-services';
import { buildCacheInvalidateServices } from '../../../shared/compose/aws/cache-invalidate-services';
import { buildEscrowServices } from '../../../shared/compose/aws/escrow-services';
import { buildGracePeriodServices } from '../../../shared/compose/aws/grace-period-services';
import { buildReencryptServices } from '../../../shared/compose/aws/reencrypt-services';
import { buildRevokeServices } from '../../../shared/compose/aws/revoke-services';
import { buildRotateServices } from '../../../shared/compose/aws/rotate-services';
import type { BuildAwsServicesOptions } from '../../../shared/compose/aws/aws-core';
import type { RekeyConfig } from '../../../shared/config/load-config';
import type { KeyringService } from '../../../shared/catalog/keyring-service';
import { createHarness, lambdaContext, putRecords, statesOf, uniqueName, type Harness } from './support/harness';

const POLICY = { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 120, retentionSeconds: 300 };

// The harness's full services prepare and inspect the deployment; the handler under test runs
// on the service set its Lambda function builds, over the same moto clients and clock.
describe('function service builders (the wiring each Lambda function runs on)', () => {
  let h: Harness;
  const opened: FunctionServices[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await h?.close();
  });

  function depsOf<V extends FunctionServices>(build: (config: RekeyConfig, options: BuildAwsServicesOptions) => V): { deps: HandlerDeps<V>; services: V } {
    const services = build(h.config, { clients: h.clients, clock: () => h.now(), logger: createLogger({ serviceName: 'rekey-test', logLevel: 'SILENT' }) });
    opened.push(services);
    return { services, deps: { services: () => services, logger: h.deps.logger, metrics: h.metrics } };
  }

  describe('buildRotateServices', () => {
    it('rotates a keyring, with only the keyrings besides the common services', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      const { deps, services } = depsOf(buildRotateServices);
      // Act
      const out = await createRotateHandler(deps)({ keyring: h.keyring, force: true, actor: 'cli:alice', reason: 'suspicion' }, lambdaContext());
      // Assess
      expect(out).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'created', version: 2 }] });
      expect(await statesOf(h)).toEqual([[1, 'active'], [2, 'pending']]);
      expect(Object.keys(services).sort()).toEqual(['clock', 'close', 'config', 'keyrings', 'kmsCalls']);
    });

    it('refuses to reconcile the lifecycle, since it cannot count cache references, and changes nothing', async () => {
      // Prepare
      h = await createHarness({ cache: true, policy: POLICY });
      const grace = createGracePeriodHandler(h.deps);
      for (const step of [3601, 61]) {
        h.advance(step);
        await grace({ keyring: h.keyring }, lambdaContext());
      }
      h.advance(121);
      const { services } = depsOf(buildRotateServices);
      const before = await h.snapshot();
      // Act
      // The rotate use case reads only get and rotate; the builder's keyrings are a whole KeyringService.
      const summary = await (services.keyrings as KeyringService).tick({ keyring: h.keyring, now: h.now() });
      // Assess
      expect(summary.keyrings[0]?.error).toMatchObject({ code: 'VALIDATION', retryable: false });
      expect(summary.keyrings[0]?.error?.message).toContain('the rotate function does not reconcile the lifecycle');
      expect(await h.snapshot()).toBe(before);
    });
  });

  describe('buildGracePeriodServices', () => {
    it('walks a rotation and publishes record and cache counts through the cache it connects to', async () => {
      // Prepare
      h = await createHarness({ cache: true, policy: POLICY });
      await putRecords(h, 1);
      await h.services.cache!.set(uniqueName('c'), Buffer.from('e'), 600, h.keyring, 1);
      const { deps } = depsOf(buildGracePeriodServices);
      const handler = createGracePeriodHandler(deps);
      const out: unknown[] = [];
      // Act
      for (const step of [3601, 61, 121]) {
        h.advance(step);
        out.push(await handler({ keyring: h.keyring }, lambdaContext()));
      }
      // Assess
      expect(await statesOf(h)).toEqual([[1, 'deprecated'], [2, 'active']]);
      expect(out.at(-1)).toMatchObject({ ok: true, results: [{ keyring: h.keyring, distribution: { records: { '1': 1 }, cacheEntries: { '1': 1 } } }] });
      expect(h.metrics.values('CacheEntriesByVersion', { keyring: h.keyring, version: 1 }).at(-1)).toBe(1);
    });
  });

  describe('buildReencryptServices', () => {
    it('re-wraps listed records to the active version', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      const keys = await putRecords(h, 2);
      const grace = createGracePeriodHandler(h.deps);
      for (const step of [3601, 61]) {
        h.advance(step);
        await grace({ keyring: h.keyring }, lambdaContext());
      }
      const { deps, services } = depsOf(buildReencryptServices);
      const event = { BatchInput: { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'rewrap' }, Items: keys.map((Key) => ({ Key })) };
      // Act
      const out = await createReencryptHandler(deps)(event, lambdaContext());
      // Assess
      expect(out).toMatchObject({ ok: true, counts: { done: 2, skipped: 0, failed: 0 } });
      const store = h.services.recordTargets[0]!.store;
      const record = (await store.get('rec-1'))!;
      expect(record.version).toBe(2);
      expect((await services.envelopes.decrypt(record.envelope)).plaintext.toString()).toBe('payload 1');
    });
  });

  describe('buildCacheInvalidateServices', () => {
    it('purges one version from the cache it connects to', async () => {
      // Prepare
      h = await createHarness({ cache: true });
      const key = uniqueName('x');
      await h.services.cache!.set(key, Buffer.from('e'), 600, h.keyring, 1);
      const { deps } = depsOf(buildCacheInvalidateServices);
      // Act
      const out = await createCacheInvalidateHandler(deps)({ keyring: h.keyring, version: 1, reason: 'revoked' }, lambdaContext());
      // Assess
      expect(out).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'done', dropped: { '1': 1 } }] });
      expect(await h.services.cache!.get(key)).toBeUndefined();
    });
  });

  describe('buildEscrowServices', () => {
    it('archives, then passes the restore drill and records it in the catalog', async () => {
      // Prepare
      h = await createHarness();
      const { deps } = depsOf(buildEscrowServices);
      const handler = createEscrowHandler(deps);
      // Act
      const archived = await handler({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      const drilled = await handler({ keyring: h.keyring, action: 'drill' }, lambdaContext());
      // Assess
      expect(archived).toMatchObject({ ok: true, results: [{ keyring: h.keyring, versions: [{ version: 1, created: true }] }] });
      expect(drilled).toMatchObject({ ok: true, results: [{ failures: 0, versions: [{ version: 1, ok: true }] }] });
      expect((await h.services.keyrings.get(h.keyring)).versions[0]!.escrowVerifiedAt).toBe(h.now().toISOString());
    });
  });

  describe('buildRevokeServices', () => {
    it('revokes, purges the cache, re-encrypts the records, and completes on the retry a catalog cache lifetime later', async () => {
      // Prepare
      h = await createHarness({ cache: true });
      await putRecords(h, 2);
      await h.services.cache!.set(uniqueName('c'), Buffer.from('e'), 600, h.keyring, 1);
      const { deps } = depsOf(buildRevokeServices);
      const event = { version: '0', id: uniqueName('evt'), source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: h.keyring, version: 1, reason: 'SEC-42' } };
      const handler = createRevokeHandler(deps);
      // Act
      // The first invocation does the work, then fails retryably: writers with a cached catalog
      // may still write under v1 for a minute (the invoker retries later).
      const first = handler(event, lambdaContext());
      await expect(first).rejects.toThrow(/^revocation of kr-\S+ v1 settles at \S+; retrying to re-count then$/);
      const afterFirst = await statesOf(h);
      const purged = await h.services.cache!.countByVersion(h.keyring);
      h.advance(61);
      const out = await handler(event, lambdaContext());
      // Assess
      expect(afterFirst).toEqual([[1, 'revoked'], [2, 'active']]);
      expect(purged.get(1) ?? 0).toBe(0);
      // Complete; v1 stays revoked (refused) until the quiet period lets the tick disable it.
      expect(out).toMatchObject({ ok: true, revokedNow: false, activeVersion: 2, cacheEntriesPurged: 0, sweep: { done: 0, failed: 0 }, remaining: 0, state: 'revoked', complete: true });
      expect(await statesOf(h)).toEqual([[1, 'revoked'], [2, 'active']]);
    });
  });
});
