/**
 * What one grace-period tick costs, counted on the wire (moto S3 + CloudWatch + EventBridge,
 * redis-server for the cache): catalog reads (GetObject on the catalog bucket), catalog
 * compare-and-swap writes (PutObject there), listings of the record store (ListObjectsV2 on the
 * data bucket) and cache counts per version. One keyring with five versions, a tripped breaker
 * that resets, a promotion and a disable in the same tick.
 */
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { HandlerExecutionContext, InitializeHandler, MetadataBearer } from '@smithy/types';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import type { Catalog } from '../../../shared/catalog/model';
import { createHarness, lambdaContext, putRecords, statesOf, uniqueName, type Harness } from './support/harness';

const states = (catalog: Catalog): Array<[number, string]> => catalog.versions.map((v) => [v.version, v.state]);

// No quiet period and destruction opted in: these tests count the tick's I/O, so every
// transition the fixture needs is due at once (the evidence rules have their own tests).
const POLICY = { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 120, retentionSeconds: 300, quietSeconds: 0, destroyAfterRetention: true };

type Handler = InitializeHandler<object, MetadataBearer>;
interface Stackable {
  readonly middlewareStack: { add(middleware: (next: Handler, context: HandlerExecutionContext) => Handler, options: { step: 'initialize'; name: string }): void };
}

/** Counts of `<bucket kind>:<command>` and the audit events sent while counting is on. */
class WireCounter {
  public on = false;
  public readonly calls = new Map<string, number>();
  public readonly audit: Array<{ action: string; actor: string; version?: number }> = [];
  public catalogPuts: Array<{ ifMatch: boolean }> = [];
  /** Fails every listing of the record store (the reference count) while set. */
  public recordsDown = false;
  /** Runs once, uncounted, when the breaker first asks CloudWatch: a concurrent writer. */
  public onBreakerFacts: (() => Promise<void>) | undefined;

  public constructor(h: Harness) {
    const kindOf = (bucket: unknown): string => Object.entries(h.buckets).find(([, name]) => name === bucket)?.[0] ?? 'other';
    (h.clients.s3 as unknown as Stackable).middlewareStack.add(
      (next, context) => async (args) => {
        if (this.on) {
          const input = args.input as { Bucket?: string; Key?: string; Prefix?: string; IfMatch?: string };
          // The key-use log (S3KeyUseLog) and the record census (S3RecordCensus) live in the
          // catalog bucket, under key-use/ and census/: counted apart.
          const where = input.Key ?? input.Prefix ?? '';
          const apart = ['key-use/', 'census/'].find((p) => where.startsWith(p));
          const kind = kindOf(input.Bucket) === 'catalog' && apart !== undefined ? apart.slice(0, -1) : kindOf(input.Bucket);
          const key = `${kind}:${String(context.commandName)}`;
          this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
          if (key === 'catalog:PutObjectCommand') this.catalogPuts.push({ ifMatch: input.IfMatch !== undefined });
          if (this.recordsDown && key === 'data:ListObjectsV2Command') throw Object.assign(new Error('injected'), { name: 'ServiceUnavailable', $fault: 'server' });
        }
        return next(args);
      },
      { step: 'initialize', name: `count-${uniqueName('s3')}` },
    );
    (h.clients.eventBridge as unknown as Stackable).middlewareStack.add(
      (next) => async (args) => {
        if (this.on) {
          for (const entry of (args.input as { Entries?: Array<{ Detail?: string }> }).Entries ?? []) {
            const detail = JSON.parse(entry.Detail ?? '{}') as { action: string; actor: string; version?: number };
            this.audit.push({ action: detail.action, actor: detail.actor, ...(detail.version === undefined ? {} : { version: detail.version }) });
          }
        }
        return next(args);
      },
      { step: 'initialize', name: `count-${uniqueName('events')}` },
    );
    (h.clients.cloudWatch as unknown as Stackable).middlewareStack.add(
      (next) => async (args) => {
        const interfere = this.onBreakerFacts;
        this.onBreakerFacts = undefined;
        if (interfere !== undefined) {
          const was = this.on;
          this.on = false;
          await interfere();
          this.on = was;
        }
        return next(args);
      },
      { step: 'initialize', name: `interfere-${uniqueName('cw')}` },
    );
  }

  public count(key: string): number {
    return this.calls.get(key) ?? 0;
  }
}

async function putDecryptStats(h: Harness, version: number, failures: number, attempts: number): Promise<void> {
  const at = new Date(h.now().getTime() - 60_000);
  const dims = [
    { Name: 'keyring', Value: h.keyring },
    { Name: 'version', Value: String(version) },
  ];
  await h.clients.cloudWatch.send(
    new PutMetricDataCommand({
      Namespace: 'Rekey',
      MetricData: [
        { MetricName: 'DecryptFailures', Dimensions: dims, Value: failures, Unit: 'Count', Timestamp: at },
        { MetricName: 'DecryptAttempts', Dimensions: dims, Value: attempts, Unit: 'Count', Timestamp: at },
      ],
    }),
  );
}

/**
 * v1 disabled past retention (drill stamp, no escrow record), v2 revoked with two records,
 * v3 revoked with none, v4 active with a cache entry, v5 pending past propagation; the breaker
 * tripped while decrypts now succeed.
 */
async function fiveVersions(h: Harness): Promise<void> {
  const { keyrings } = h.services;
  const actor = { actor: 'test:setup', reason: 'io test' };
  await keyrings.revoke(h.keyring, 1, { ...actor, now: h.now() });
  await keyrings.tick({ keyring: h.keyring, now: h.now() });
  h.advance(301);
  await keyrings.recordEscrow(h.keyring, 1, { verifiedAt: h.now(), now: h.now() });
  await putRecords(h, 2);
  await keyrings.revoke(h.keyring, 2, { ...actor, now: h.now() });
  await keyrings.revoke(h.keyring, 3, { ...actor, now: h.now() });
  await keyrings.rotate(h.keyring, { ...actor, now: h.now() });
  await keyrings.tripBreaker(h.keyring, 'decrypt failures during rotation', { now: h.now() });
  await h.services.cache!.set(uniqueName('c'), Buffer.from('e'), 600, h.keyring, 4);
  await putDecryptStats(h, 4, 0, 500);
  h.advance(61);
}

describe('grace-period tick I/O (moto S3 + CloudWatch + EventBridge, redis-server)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('reads the catalog once, writes it once, and counts each store once for every version and the distribution', async () => {
    // Prepare
    h = await createHarness({ cache: true, policy: POLICY });
    await fiveVersions(h);
    expect(await statesOf(h)).toEqual([[1, 'disabled'], [2, 'revoked'], [3, 'revoked'], [4, 'active'], [5, 'pending']]);
    const wire = new WireCounter(h);
    const cacheCounts = jest.spyOn(h.services.cache!, 'countByVersion');
    const handler = createGracePeriodHandler(h.deps);
    // Act
    wire.on = true;
    const out = await handler({ keyring: h.keyring }, lambdaContext());
    wire.on = false;
    // Assess
    expect(out).toMatchObject({
      ok: true,
      results: [
        {
          keyring: h.keyring,
          breaker: 'reset',
          applied: [
            { kind: 'promote', version: 5 },
            { kind: 'disable', version: 3 },
          ],
          distribution: { records: { '2': 2 }, cacheEntries: { '4': 1 } },
        },
      ],
    });
    expect(await statesOf(h)).toEqual([[1, 'disabled'], [2, 'revoked'], [3, 'disabled'], [4, 'rotating'], [5, 'active']]);
    expect((await h.services.keyrings.get(h.keyring)).breaker).toBeUndefined();
    expect(wire.audit).toEqual([
      { action: 'breaker.reset', actor: 'breaker' },
      { action: 'version.activated', actor: 'scheduler', version: 5 },
      { action: 'version.disabled', actor: 'scheduler', version: 3 },
    ]);
    expect(h.metrics.values('RecordsByVersion', { keyring: h.keyring, version: 2 }).at(-1)).toBe(2);
    expect(h.metrics.values('CacheEntriesByVersion', { keyring: h.keyring, version: 4 }).at(-1)).toBe(1);
    expect(h.metrics.values('BreakerTripped', { keyring: h.keyring }).at(-1)).toBe(0);
    const counts = {
      catalogReads: wire.count('catalog:GetObjectCommand'),
      catalogWrites: wire.count('catalog:PutObjectCommand'),
      recordListings: wire.count('data:ListObjectsV2Command'),
      cacheCounts: cacheCounts.mock.calls.length,
    };
    expect(counts).toEqual({ catalogReads: 1, catalogWrites: 1, recordListings: 1, cacheCounts: 1 });
    // No census yet (no sweep ran): one GET finds none and the target is counted by listing.
    expect(wire.count('census:GetObjectCommand')).toBe(1);
    expect(wire.catalogPuts).toEqual([{ ifMatch: true }]);
  });

  it('re-reads and re-plans after a concurrent write wins the compare-and-swap, counting again for the new read', async () => {
    // Prepare
    h = await createHarness({ cache: true, policy: POLICY });
    await fiveVersions(h);
    const wire = new WireCounter(h);
    const cacheCounts = jest.spyOn(h.services.cache!, 'countByVersion');
    const stamp = h.now();
    wire.onBreakerFacts = async () => {
      await h.services.keyrings.recordEscrow(h.keyring, 4, { escrowedAt: stamp, now: stamp });
    };
    const handler = createGracePeriodHandler(h.deps);
    // Act
    wire.on = true;
    const out = await handler({ keyring: h.keyring }, lambdaContext());
    wire.on = false;
    // Assess
    expect(out).toMatchObject({ ok: true, results: [{ breaker: 'reset', applied: [{ kind: 'promote', version: 5 }, { kind: 'disable', version: 3 }] }] });
    const stored = await h.services.keyrings.get(h.keyring);
    expect(stored.versions.find((v) => v.version === 4)?.escrowedAt).toBe(stamp.toISOString());
    expect(states(stored)).toEqual([[1, 'disabled'], [2, 'revoked'], [3, 'disabled'], [4, 'rotating'], [5, 'active']]);
    expect(wire.audit.map((e) => e.action)).toEqual(['breaker.reset', 'version.activated', 'version.disabled']);
    expect({
      catalogReads: wire.count('catalog:GetObjectCommand'),
      catalogWrites: wire.count('catalog:PutObjectCommand'),
      recordListings: wire.count('data:ListObjectsV2Command'),
      cacheCounts: cacheCounts.mock.calls.length,
    }).toEqual({ catalogReads: 2, catalogWrites: 2, recordListings: 2, cacheCounts: 2 });
  });

  it('reads each catalog once when it reconciles every keyring', async () => {
    // Prepare
    h = await createHarness({ cache: true, policy: POLICY });
    await fiveVersions(h);
    const wire = new WireCounter(h);
    // Act
    wire.on = true;
    const out = await createGracePeriodHandler(h.deps)({}, lambdaContext());
    wire.on = false;
    // Assess
    expect(out).toMatchObject({ ok: true, results: [{ keyring: h.keyring, breaker: 'reset' }] });
    expect([wire.count('catalog:ListObjectsV2Command'), wire.count('catalog:GetObjectCommand'), wire.count('catalog:PutObjectCommand')]).toEqual([1, 1, 1]);
  });

  it('writes nothing, not even the breaker reset, when a disable waits on counts it cannot get', async () => {
    // Prepare
    h = await createHarness({ cache: true, policy: POLICY });
    await fiveVersions(h);
    const wire = new WireCounter(h);
    const before = await h.snapshot();
    wire.recordsDown = true;
    // Act
    wire.on = true;
    const out = createGracePeriodHandler(h.deps)({ keyring: h.keyring }, lambdaContext());
    // Assess
    await expect(out).rejects.toThrow();
    wire.on = false;
    expect(wire.count('catalog:PutObjectCommand')).toBe(0);
    expect(await h.snapshot()).toBe(before);
    expect(await statesOf(h)).toEqual([[1, 'disabled'], [2, 'revoked'], [3, 'revoked'], [4, 'active'], [5, 'pending']]);
  });

  it('trips the breaker even while the record store cannot be counted: a trip needs no reference', async () => {
    // Prepare
    h = await createHarness({ cache: true, policy: POLICY });
    const handler = createGracePeriodHandler(h.deps);
    h.advance(3601);
    await handler({ keyring: h.keyring }, lambdaContext());
    await putDecryptStats(h, 1, 40, 100);
    h.advance(61);
    const wire = new WireCounter(h);
    wire.recordsDown = true;
    // Act
    wire.on = true;
    const out = await handler({ keyring: h.keyring }, lambdaContext());
    wire.on = false;
    // Assess
    expect(out).toMatchObject({ ok: true, results: [{ keyring: h.keyring, breaker: 'trip', paused: 'breaker', applied: [] }] });
    expect((out as unknown as { results: Array<{ distribution?: unknown }> }).results[0]?.distribution).toBeUndefined();
    expect((await h.services.keyrings.get(h.keyring)).breaker?.reason).toMatch(/above 10.00%/);
    expect(wire.count('catalog:PutObjectCommand')).toBe(1);
    expect(h.metrics.values('BreakerTripped', { keyring: h.keyring }).at(-1)).toBe(1);
  });
});
