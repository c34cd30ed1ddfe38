import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { openLocal } from '../../../shared/compose/local/local-services';
import { RedisCacheStore, createRedisClient } from '../../../shared/adapters/redis';
import { EncryptedCache } from '../../../shared/cache';
import { EnvelopeClient } from '../../../shared/envelope';
import { SingleKeyProvider } from '../../../shared/escrow';
import { TestHome, T0, at, expectFailure } from './support/test-home';

interface StatusJson { cache: string; keyrings: Array<{ keyring: string; versions: Array<{ version: number; state: string; records: number; cacheEntries: number }> }> }
interface RevokeJson { version: number; activeVersion: number; revokedNow: boolean; cacheEntriesPurged: number; remaining: number; state: string; complete: boolean; sweep?: { done: number; failedCount: number } }
interface SweepJson { version: number; mode: string; done: number; failedCount: number; failed: Array<{ id: string; reason: string }>; remaining: number }

const NOW = new Date(T0).toISOString();

async function distribution(home: TestHome, keyring = 'pii'): Promise<Array<[number, string, number]>> {
  const s = await home.json<StatusJson>(['status', keyring, '--json']);
  return (s.keyrings[0]?.versions ?? []).map((v) => [v.version, v.state, v.records]);
}

describe('rekey CLI revoke, cache, escrow and audit (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
  });
  afterEach(() => {
    home.remove();
  });

  describe('revoke', () => {
    it('runs the emergency flow: fresh active version, old refused, records re-encrypted, complete a cache lifetime later, disabled after the quiet period', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      await home.ok(['records', 'put', 'b', '--keyring', 'pii', '--context', 'tenant=acme', '--store-context'], { stdin: Buffer.from('beta'), now: NOW });
      const saved = (await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('a stale backup copy'), now: NOW })).stdout;

      // Act
      const first = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-1 key in a log', '--yes', '--json'], { now: at(2) });
      const staleRead = await home.run(['decrypt'], { stdin: saved, now: at(2) });
      const fresh = (await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('new'), now: at(2) })).stdout;
      // One catalog cache lifetime (60 s) later no writer can still hold a catalog where v1 is active.
      const r = await home.json<RevokeJson>(['revoke', 'pii', '--version', '1', '--reason', 'SEC-1 key in a log', '--json'], { now: at(2, 1) });
      const settled = await distribution(home);
      // The encrypt above declared unmanaged 'files' data: v1 is disabled only after 7 days without use
      // (its last use: the re-encryption's unwraps at the revocation).
      const early = await home.ok(['tick', '--keyring', 'pii', '--json', '--at', at(8, 1439)]);
      const beforeQuiet = await distribution(home);
      await home.ok(['tick', '--keyring', 'pii', '--at', at(9)]);

      // Assess
      // The first run did everything but could not yet count for good: a writer that read the
      // catalog up to a minute before the revocation may still encrypt under v1.
      expect(first.code).toBe(5);
      expect(first.stderr).toBe(`rekey: acted on local home ${home.dir}\n` + 'rekey: revocation of pii v1 is not complete: writers with a cached catalog may write under v1 until 2030-01-03T00:01:00.000Z; rerun after that to re-count\n');
      expect(JSON.parse(first.stdout.toString())).toMatchObject({ version: 1, activeVersion: 2, revokedNow: true, remaining: 0, state: 'revoked', complete: false, pending: 'settling', settlesAt: '2030-01-03T00:01:00.000Z', sweep: { done: 2, failedCount: 0 } });
      expect(r).toMatchObject({ version: 1, activeVersion: 2, revokedNow: false, remaining: 0, state: 'revoked', complete: true, sweep: { done: 0, failedCount: 0 } });
      expect(r).not.toHaveProperty('pending');
      expect(settled).toEqual([[1, 'revoked', 0], [2, 'active', 2]]);
      expect(early.stdout.toString()).not.toContain('disable');
      expect(beforeQuiet).toEqual([[1, 'revoked', 0], [2, 'active', 2]]);
      expectFailure(staleRead, 3, /version 1 of keyring 'pii' is revoked/);
      expect((await home.json<{ version: number }>(['inspect'], { stdin: fresh })).version).toBe(2);
      expect(await distribution(home)).toEqual([[1, 'disabled', 0], [2, 'active', 2]]);
      expect((await home.ok(['records', 'get', 'a'], { now: at(2) })).stdout.toString()).toBe('alpha');
      expect((await home.ok(['records', 'get', 'b', '--context', 'tenant=acme'], { now: at(2) })).stdout.toString()).toBe('beta');
      const actions = home.auditEvents().filter((e) => String(e.action).startsWith('revocation.')).map((e) => e.action);
      expect(actions).toEqual([
        // First run: everything but the final count.
        'revocation.revoked', 'revocation.keys-invalidated', 'revocation.cache-purged', 'revocation.swept', 'revocation.verified', 'revocation.incomplete',
        // Re-run a minute later: no new version, re-count, complete.
        'revocation.keys-invalidated', 'revocation.cache-purged', 'revocation.swept', 'revocation.verified', 'revocation.completed',
      ]);
    });

    it('leaves the version revoked while a record needs its context, and finishes once --context supplies it', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      await home.ok(['records', 'put', 'b', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: Buffer.from('beta'), now: NOW });

      // Act
      const first = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-2', '--yes'], { now: at(2) });
      const blocked = await home.run(['records', 'get', 'b', '--context', 'tenant=acme'], { now: at(2) });
      const inspectFailures = await home.run(['sweep', 'pii', '--json'], { now: at(2) });
      const supplied = await home.json<SweepJson[]>(['sweep', 'pii', '--version', '1', '--context', 'tenant=acme', '--json'], { now: at(2) });
      const early = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-2'], { now: at(2) });
      const finish = await home.json<RevokeJson>(['revoke', 'pii', '--version', '1', '--reason', 'SEC-2', '--json'], { now: at(2, 1) });

      // Assess
      expect(first.stdout.toString()).toBe('revoked pii v1; active is now v2; cache entries purged: 0; re-encrypted: 1; remaining: 1; v1 is revoked (rerun to finish)\n');
      expect(first.code).toBe(5);
      // Counted by origin: a record whose data key v1 wrapped, whichever version its header names now.
      expect(first.stderr).toBe(`rekey: acted on local home ${home.dir}\n` + 'rekey: revocation of pii v1 is not complete: 1 record(s) with a data key v1 wrapped remain (1 under v1 itself); rerun (with --context if they need one)\n');
      expectFailure(blocked, 3, /version 1 of keyring 'pii' is revoked/);
      expect(inspectFailures.code).toBe(7);
      expect(inspectFailures.stderr).toContain("rekey: 1 record(s) could not be moved ('rekey sweep pii --json' lists their ids and reasons); fix them (--context for bound records) and rerun to resume\n");
      expect(JSON.parse(inspectFailures.stdout.toString())).toEqual([
        expect.objectContaining({ version: 1, mode: 'reencrypt', done: 0, failedCount: 1, failed: [{ id: 'b', reason: 'decrypt-failed' }], remaining: 1 }),
      ]);
      expect(supplied).toEqual([expect.objectContaining({ version: 1, mode: 'reencrypt', done: 1, failedCount: 0, remaining: 0 })]);
      // Nothing remains, but the count is final only a catalog cache lifetime after the revocation.
      expect(early.code).toBe(5);
      expect(early.stdout.toString()).toBe('revoked pii v1; active is now v2; cache entries purged: 0; re-encrypted: 0; remaining: 0; v1 is revoked (rerun to finish)\n');
      expect(early.stderr).toBe(`rekey: acted on local home ${home.dir}\n` + 'rekey: revocation of pii v1 is not complete: writers with a cached catalog may write under v1 until 2030-01-03T00:01:00.000Z; rerun after that to re-count\n');
      // Complete; v1 stays revoked (refused) until its key has gone unused for the quiet period.
      expect(finish).toMatchObject({ revokedNow: false, activeVersion: 2, remaining: 0, state: 'revoked', complete: true });
      expect((await home.ok(['records', 'get', 'b', '--context', 'tenant=acme'], { now: at(2, 1) })).stdout.toString()).toBe('beta');
      expect(await distribution(home)).toEqual([[1, 'revoked', 0], [2, 'active', 2]]);
    });

    it('refuses bad revocations with their exit codes and changes nothing', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      const before = await home.snapshot();

      // Act
      const results = [
        [await home.run(['revoke', 'pii', '--version', '9', '--reason', 'x']), 4],
        [await home.run(['revoke', 'nope', '--version', '1', '--reason', 'x']), 4],
        [await home.run(['revoke', 'pii', '--version', 'one', '--reason', 'x']), 2],
        [await home.run(['revoke', 'pii', '--reason', 'x']), 2],
        [await home.run(['revoke', 'pii', '--version', '1']), 2],
      ] as const;

      // Assess
      for (const [r, code] of results) expectFailure(r, code);
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('cache stats', () => {
    it('counts encrypted cache entries per version in a shared Redis, and revocation purges them', async () => {
      // Prepare
      const redisUrl = process.env.REKEY_TEST_REDIS_URL as string;
      const keyring = `cli-${randomBytes(5).toString('hex')}`;
      const env = { REKEY_REDIS_URL: redisUrl };
      await home.ok(['keyring', 'create', keyring], { now: NOW, env });
      // Seeded through a store with a generous command deadline: the default 100 ms degrades to a
      // silent miss on a loaded test machine, and the point here is the CLI's view, not Redis latency.
      const rk = await openLocal({ home: home.dir, clock: () => new Date(T0) });
      const client = await createRedisClient({ url: redisUrl });
      await new Promise<void>((resolve) => (client.status === 'ready' ? resolve() : client.once('ready', () => resolve())));
      const stored: boolean[] = [];
      try {
        const cache = new EncryptedCache({ store: new RedisCacheStore(client, { commandTimeoutMs: 5000 }), envelopes: rk.envelopes, versions: rk.provider });
        for (let i = 0; i < 5; i += 1) stored.push(await cache.set(`session:${i}`, keyring, randomBytes(100), { ttlSeconds: 3600 }));
      } finally {
        client.disconnect();
        await rk.close();
      }
      expect(stored).toEqual([true, true, true, true, true]);

      // Act
      const stats = await home.json<{ backend: string; keyrings: Record<string, Record<string, number>> }>(['cache', 'stats', keyring, '--json'], { env });
      const text = await home.ok(['cache', 'stats', keyring], { env });
      const status = await home.json<StatusJson>(['status', keyring, '--json'], { env });
      const revoking = await home.run(['revoke', keyring, '--version', '1', '--reason', 'drill', '--yes', '--json'], { now: at(1), env });
      const revoked = JSON.parse(revoking.stdout.toString()) as RevokeJson;
      const after = await home.json<{ keyrings: Record<string, Record<string, number>> }>(['cache', 'stats', keyring, '--json'], { env });

      // Assess
      expect(stats).toEqual({ backend: 'redis', available: true, keyrings: { [keyring]: { v1: 5 } } });
      expect(text.stdout.toString()).toBe(`cache backend: redis\n${keyring}: v1=5\n`);
      expect(status.cache).toBe('redis');
      expect(status.keyrings[0]?.versions[0]?.cacheEntries).toBe(5);
      // Purged at once; the revocation itself settles a catalog cache lifetime later (exit 5 until then).
      expect(revoking.code).toBe(5);
      expect(revoked).toMatchObject({ cacheEntriesPurged: 5, complete: false, pending: 'settling' });
      expect(after.keyrings[keyring]).toEqual({});
    });

    it('reports the in-process backend and no entries without Redis', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });

      // Act
      const r = await home.ok(['cache', 'stats']);

      // Assess
      expect(r.stdout.toString()).toBe('cache backend: memory\npii: no entries\n');
    });
  });

  describe('escrow archive / verify / restore', () => {
    it('archives once, passes the drill, and restores a key that opens a backup envelope', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      const backup = (await home.ok(['encrypt', '--keyring', 'pii', '--context', 'k=v'], { stdin: Buffer.from('from a backup tape'), now: NOW })).stdout;
      const keyPath = home.path('pii-v1.key');

      // Act
      const archive = await home.ok(['escrow', 'archive'], { now: NOW });
      const again = await home.ok(['escrow', 'archive', 'pii'], { now: NOW });
      const verify = await home.ok(['escrow', 'verify'], { now: NOW });
      const report = await home.json<{ ok: boolean; results: Array<{ keyring: string; version: number; ok: boolean }> }>(['escrow', 'verify', 'pii', '--json'], { now: NOW });
      const restore = await home.ok(['escrow', 'restore', 'pii', '--version', '1', '--out', keyPath], { now: NOW });

      // Assess
      expect(archive.stdout.toString()).toBe('pii v1: archived\n');
      expect(again.stdout.toString()).toBe('pii v1: already archived\n');
      expect(verify.stdout.toString()).toBe('pii v1: ok\n');
      expect(report).toMatchObject({ ok: true, results: [{ keyring: 'pii', version: 1, ok: true }] });
      expect(restore.stdout.length).toBe(0);
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyPath);
      expect(key.length).toBe(32);
      const opened = await new EnvelopeClient(new SingleKeyProvider('pii', 1, key)).decrypt(backup, { context: { k: 'v' } });
      expect(opened.plaintext.toString()).toBe('from a backup tape');
    });

    it('never overwrites an existing file, and refuses versions that were not archived', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      await home.ok(['escrow', 'archive'], { now: NOW });
      const keyPath = home.path('existing.key');
      writeFileSync(keyPath, 'precious', { mode: 0o600 });
      await home.ok(['rotate', 'pii'], { now: at(1) });
      const before = await home.snapshot();

      // Act
      const overwrite = await home.run(['escrow', 'restore', 'pii', '--version', '1', '--out', keyPath]);
      const notArchived = await home.run(['escrow', 'restore', 'pii', '--version', '2', '--out', home.path('v2.key')]);
      const noOut = await home.run(['escrow', 'restore', 'pii', '--version', '1']);

      // Assess
      expectFailure(overwrite, 5, /EEXIST/);
      expect(readFileSync(keyPath, 'utf8')).toBe('precious');
      expectFailure(notArchived, 4);
      // Without --out, restore puts a version back into the catalog: v1 still holds its key.
      expectFailure(noOut, 5, /still has its key; nothing to restore/);
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('audit', () => {
    it('records every operation and never a secret: no plaintext, no key material', async () => {
      // Prepare
      const secret = Buffer.from(`top-secret-${randomBytes(8).toString('hex')}`);
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      await home.ok(['records', 'put', 'r1', '--keyring', 'pii', '--context', 'tenant=acme', '--store-context'], { stdin: secret, now: NOW });
      await home.ok(['encrypt', '--keyring', 'pii'], { stdin: secret, now: NOW });
      await home.ok(['rotate', 'pii', '--reason', 'test rotation'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      await home.ok(['freeze', 'pii', '--reason', 'INC-1'], { now: at(2) });
      await home.ok(['unfreeze', 'pii'], { now: at(2) });
      await home.ok(['escrow', 'archive'], { now: at(2) });
      await home.ok(['escrow', 'verify'], { now: at(2) });
      const settling = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-3', '--yes'], { now: at(3) });
      expect({ code: settling.code, stderr: settling.stderr }).toEqual({ code: 5, stderr: expect.stringMatching(/^rekey: acted on local home \S+\nrekey: revocation of pii v1 is not complete: writers with a cached catalog may write under v1 until \S+; rerun after that to re-count\n$/) });
      await home.ok(['revoke', 'pii', '--version', '1', '--reason', 'SEC-3'], { now: at(3, 1) });
      const keys = [1, 2, 3].map((v) => home.path(`k${v}.key`));
      await home.ok(['escrow', 'archive'], { now: at(3) });
      for (const [i, p] of keys.entries()) await home.ok(['escrow', 'restore', 'pii', '--version', String(i + 1), '--out', p]);

      // Act
      const all = (await home.ok(['audit', '--json'])).stdout.toString();
      const lastTwo = (await home.ok(['audit', '--keyring', 'pii', '--limit', '2', '--json'])).stdout.toString();
      const raw = readFileSync(`${home.dir}/audit.jsonl`);

      // Assess
      const actions = all.trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action);
      expect(actions).toEqual(
        expect.arrayContaining(['keyring.created', 'version.created', 'version.activated', 'keyring.frozen', 'keyring.unfrozen', 'version.revoked', 'revocation.completed']),
      );
      expect(actions.some((a) => a.startsWith('escrow') || a.includes('escrow'))).toBe(true);
      expect(lastTwo.trim().split('\n')).toEqual(all.trim().split('\n').slice(-2));
      const material = keys.map((p) => readFileSync(p));
      const master = readFileSync(`${home.dir}/master.key`);
      const needles = [secret, Buffer.from(secret.toString('base64')), ...[...material, master].flatMap((k) => [k, Buffer.from(k.toString('base64')), Buffer.from(k.toString('hex')), Buffer.from(k.toString('base64url'))])];
      for (const needle of needles) expect(raw.includes(needle)).toBe(false);
    });

    it('refuses a bad --limit with exit 2', async () => {
      // Act
      const r = await home.run(['audit', '--limit', 'all']);

      // Assess
      expectFailure(r, 2, /--limit must be a positive integer/);
    });
  });
});
