/**
 * Review fixes of the operator's CLI: the acted-on line after any failure that already changed
 * something, revoke with Redis down (the revocation stands, exit 7, no driver text), confirmation
 * of `escrow restore` and `records delete`, `encrypt` declaring its files only once its input is
 * there, exit 7 for a failed drill, the documented `--json` views of revoke, sweep, escrow
 * archive and records put, import failure lines naming their item, and the header-only rewrap
 * body copied exactly as far as the length that was checked.
 */
import { chmodSync, closeSync, existsSync, openSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { envelopeBody } from '../../../cli/envelope-body';
import { openLocal } from '../../../shared/compose/local/local-services';
import { ConflictError } from '../../../shared/errors';
import { TestHome, T0, at, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();
const DAY = 86_400;

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('review fixes (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome('rekey-review-');
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('the acted-on line after a failure', () => {
    it('names the home when encrypt declared its files and then could not write the output (exit 5)', async () => {
      // Arrange
      writeFileSync(home.path('plain.txt'), 'hello');
      writeFileSync(home.path('taken.env'), 'already here');

      // Act
      const r = await home.run(['encrypt', 'pii', '--in', home.path('plain.txt'), '--out', home.path('taken.env')], { now: at(1) });

      // Assess: the catalog changed (files declared), so the home is named before the reason
      expect(r.code).toBe(5);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('rekey: '))[0]).toBe(`rekey: acted on local home ${home.dir}`);
      expect(home.auditEvents().some((e) => e['action'] === 'keyring.sources-updated' || String(e['action']).includes('sources'))).toBe(true);
      expect(readFileSync(home.path('taken.env'), 'utf8')).toBe('already here');
    });

    it('names no system for a refusal that wrote nothing (records delete without --yes)', async () => {
      // Arrange
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      const before = await home.snapshot();

      // Act
      const r = await home.run(['records', 'delete', 'a']);

      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain('acted on');
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('revoke with Redis down', () => {
    it('keeps the revocation, exits 7 with one line saying to rerun, and never shows driver text', async () => {
      // Arrange
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      const env = { REKEY_REDIS_URL: `redis://127.0.0.1:${await closedPort()}` };

      // Act
      const r = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-9', '--yes', '--json'], { now: at(1), env });
      const status = await home.json<{ keyrings: Array<{ versions: Array<{ version: number; state: string }> }> }>(['status', 'pii', '--json']);
      const rerun = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-9', '--json'], { now: at(1, 2) });

      // Assess
      expect(r.code).toBe(7);
      const lines = r.stderr.split('\n').filter((l) => l.length > 0);
      expect(lines.slice(-2)).toEqual([
        `rekey: acted on local home ${home.dir}`,
        "rekey: v1 of pii is revoked; purging its cache entries failed (Redis unavailable): rerun 'rekey revoke pii --version 1 --reason …' when Redis answers",
      ]);
      expect(r.stderr).not.toMatch(/Stream|enableOfflineQueue|writeable/);
      expect(JSON.parse(r.stdout.toString())).toMatchObject({ keyring: 'pii', version: 1, activeVersion: 2, revokedNow: true, cachePurgeFailed: true, complete: false });
      expect(status.keyrings[0]?.versions.find((v) => v.version === 1)?.state).toBe('revoked');
      expect(home.auditEvents().map((e) => e['action'])).toContain('revocation.cache-purge-failed');
      // A rerun with the cache answering purges and finishes what is left.
      expect(rerun.code).toBe(0);
      expect(JSON.parse(rerun.stdout.toString())).toMatchObject({ version: 1, revokedNow: false, cachePurgeFailed: false, complete: true });
    }, 30_000);
  });

  describe('confirmation of irreversible steps', () => {
    it('refuses records delete without a terminal or --yes, changing nothing, and deletes with --yes', async () => {
      // Arrange
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      const before = await home.snapshot();

      // Act
      const refused = await home.run(['records', 'delete', 'a']);
      const unchanged = await home.snapshot();
      const deleted = await home.run(['records', 'delete', 'a', '--yes']);
      const get = await home.run(['records', 'get', 'a']);

      // Assess
      expectFailure(refused, 2, /delete record a in local home .* cannot be undone: confirm with --yes/);
      expect(unchanged).toBe(before);
      expect(deleted.code).toBe(0);
      expectFailure(get, 4);
    });

    it('refuses escrow restore into the catalog without --yes, changing nothing, and restores with --yes', async () => {
      // Arrange: drill v1 destroyed after a verified escrow, as in the recovery runbook
      const rk = await openLocal({ home: home.dir, clock: () => new Date(at(0)) });
      try {
        await rk.keyrings.createKeyring(
          'drill',
          { rotateEverySeconds: 90 * DAY, graceSeconds: DAY, propagationSeconds: 600, retentionSeconds: DAY, quietSeconds: 7 * DAY, destroyAfterRetention: true },
          { actor: 'cli:test' },
        );
      } finally {
        await rk.close();
      }
      await home.ok(['escrow', 'archive', 'drill'], { now: at(0) });
      await home.ok(['rotate', 'drill'], { now: at(0, 1) });
      for (const [day, minute] of [[0, 20], [2, 0], [30, 0]] as const) await home.ok(['tick', '--keyring', 'drill', '--at', at(day, minute)]);
      await home.ok(['escrow', 'verify', 'drill'], { now: at(30, 1) });
      await home.ok(['tick', '--keyring', 'drill', '--at', at(32, 0)]);
      const before = await home.snapshot();

      // Act
      const refused = await home.run(['escrow', 'restore', 'drill', '--version', '1'], { now: at(33) });
      const unchanged = await home.snapshot();
      const restored = await home.run(['escrow', 'restore', 'drill', '--version', '1', '--yes'], { now: at(33) });

      // Assess
      expectFailure(refused, 2, /restore drill v1 from escrow in local home .* cannot be undone: confirm with --yes/);
      expect(unchanged).toBe(before);
      expect(restored.code).toBe(0);
      expect(restored.stdout.toString()).toBe('drill v1: restored from escrow (was destroyed); now deprecated, its data decrypts again\n');
    }, 30_000);
  });

  describe('encrypt declares its files only once the input is there', () => {
    it.each([
      ['one-shot, missing input', ['encrypt', 'pii', '--in', '/nonexistent/rekey-review-input'], 4],
      ['framed, missing input', ['encrypt', 'pii', '--framed', '--in', '/nonexistent/rekey-review-input'], 4],
    ])('changes nothing for %s', async (_name, argv, code) => {
      // Arrange
      const before = await home.snapshot();

      // Act
      const r = await home.run(argv as string[], { now: at(1) });

      // Assess
      expect(r.code).toBe(code);
      expect(r.stderr).not.toContain('acted on');
      expect(await home.snapshot()).toBe(before);
    });

    it('changes nothing for a one-shot input over the limit (refused by its size)', async () => {
      // Arrange: sparse, so the test writes no 64 MiB
      const big = home.path('big.bin');
      closeSync(openSync(big, 'w'));
      truncateSync(big, 64 * 1024 * 1024 + 1);
      const before = await home.snapshot();

      // Act
      const r = await home.run(['encrypt', 'pii', '--in', big, '--out', home.path('big.env')], { now: at(1) });

      // Assess
      expectFailure(r, 2, /use --framed/);
      expect(await home.snapshot()).toBe(before);
      expect(existsSync(home.path('big.env'))).toBe(false);
    });
  });

  describe('exit codes', () => {
    it('exits 7 (not 2) when the drill ran and a version failed it', async () => {
      // Arrange: v1's escrow record damaged on disk
      await home.ok(['escrow', 'archive', 'pii'], { now: NOW });
      const dir = join(home.dir, 'escrow', 'pii');
      const file = join(dir, readdirSync(dir).find((n) => n === '1.json') ?? '1.json');
      chmodSync(file, 0o600);
      const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      const damaged = Object.fromEntries(Object.entries(record).map(([k, v]) => [k, typeof v === 'string' && v.length > 40 ? `${v.slice(0, 10)}${v[10] === 'A' ? 'B' : 'A'}${v.slice(11)}` : v]));
      writeFileSync(file, JSON.stringify(damaged));

      // Act
      const r = await home.run(['escrow', 'verify', 'pii', '--json'], { now: at(1) });

      // Assess
      expect(r.code).toBe(7);
      expect(JSON.parse(r.stdout.toString())).toMatchObject({ ok: false, results: [expect.objectContaining({ keyring: 'pii', version: 1, ok: false })] });
      expect(r.stderr.trimEnd().split('\n').pop()).toBe('rekey: escrow drill failed for 1 of 1 version(s) (listed above); the others were proven');
    });
  });

  describe('--json views', () => {
    it('prints escrow archive and records put as documented objects', async () => {
      // Act
      const archive = await home.json<unknown>(['escrow', 'archive', 'pii', '--json'], { now: NOW });
      const again = await home.json<unknown>(['escrow', 'archive', '--json'], { now: NOW });
      const put = await home.json<unknown>(['records', 'put', 'u1', '--keyring', 'pii', '--json'], { stdin: Buffer.from('one'), now: NOW });

      // Assess
      expect(archive).toEqual([{ keyring: 'pii', status: 'done', archived: [1], alreadyArchived: [], skipped: [] }]);
      expect(again).toEqual([{ keyring: 'pii', status: 'done', archived: [], alreadyArchived: [], skipped: [{ version: 1, reason: 'escrowed' }] }]);
      expect(put).toEqual({ id: 'u1', keyring: 'pii', version: 1 });
    });

    it('prints revoke and sweep without run ids or limiter internals', async () => {
      // Arrange
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      await home.ok(['records', 'put', 'b', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: Buffer.from('beta'), now: NOW });

      // Act
      const revoke = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-3', '--yes', '--json'], { now: at(1) });
      const sweep = await home.run(['sweep', 'pii', '--version', '1', '--json'], { now: at(1) });

      // Assess
      const r = JSON.parse(revoke.stdout.toString()) as Record<string, unknown>;
      expect(Object.keys(r).sort()).toEqual(
        ['activeVersion', 'cacheEntriesPurged', 'cachePurgeFailed', 'complete', 'keyring', 'pending', 'remaining', 'revokedNow', 'settlesAt', 'state', 'sweep', 'underVersion', 'unmanaged', 'version'].sort(),
      );
      expect(Object.keys(r['sweep'] as object).sort()).toEqual(['alreadyComplete', 'done', 'failed', 'failedCount', 'keyring', 'mode', 'remaining', 'resumed', 'skipped', 'toVersion', 'version'].sort());
      expect(r).toMatchObject({ keyring: 'pii', version: 1, pending: 'records-remain', sweep: { done: 1, failedCount: 1, failed: [{ id: 'b', reason: expect.any(String) }] } });
      expect(sweep.code).toBe(7);
      const s = JSON.parse(sweep.stdout.toString()) as Array<Record<string, unknown>>;
      expect(s).toHaveLength(1);
      expect(Object.keys(s[0] ?? {})).not.toEqual(expect.arrayContaining(['sweepId']));
      for (const internal of ['sweepId', 'rateLimiter', 'switchedToReencrypt', 'aborted']) expect(s[0]).not.toHaveProperty(internal);
      expect(s[0]).toMatchObject({ keyring: 'pii', version: 1, mode: 'reencrypt', failedCount: 1, failed: [{ id: 'b', reason: expect.any(String) }], remaining: 1 });
    });
  });

  describe('records import failure lines', () => {
    it('names the item of each failure', async () => {
      // Arrange
      const input = Buffer.from('{"id":"u1","data":"one"}\nnot json\n{"id":"u3","data":"three"}\n');

      // Act
      const r = await home.run(['records', 'import', '-', '--keyring', 'pii'], { stdin: input, now: at(1) });

      // Assess
      expect(r.code).toBe(7);
      const failed = r.stderr.split('\n').filter((l) => l.startsWith('failed: '));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatch(/^failed: line 2: .+/);
      expect(failed[0]!.length).toBeLessThan(400);
    });
  });
});

describe('header-only rewrap body (cli/envelope-body.ts)', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome('rekey-review-body-');
  });
  afterEach(() => {
    home.remove();
  });

  it('copies exactly the bytes after the header, up to the checked length', async () => {
    // Arrange
    const file = home.path('e.bin');
    writeFileSync(file, Buffer.from('HEADERbody-bytes'));

    // Act
    const body = await collect(envelopeBody(file, 6, 16));

    // Assess
    expect(body.toString()).toBe('body-bytes');
  });

  it('fails when the file shrank after its head was checked', async () => {
    // Arrange
    const file = home.path('e.bin');
    writeFileSync(file, Buffer.from('HEADERbody'));

    // Act
    const copying = collect(envelopeBody(file, 6, 16));

    // Assess
    await expect(copying).rejects.toThrow(ConflictError);
    await expect(collect(envelopeBody(file, 6, 16))).rejects.toThrow(/e\.bin' changed while it was re-wrapped \(16 bytes when checked, 10 now\)/);
  });

  it('fails when the file grew after its head was checked, instead of copying the extra bytes', async () => {
    // Arrange
    const file = home.path('e.bin');
    writeFileSync(file, Buffer.from('HEADERbody-bytes-and-more'));

    // Act
    const copied: Buffer[] = [];
    let error: unknown;
    try {
      for await (const c of envelopeBody(file, 6, 16)) copied.push(c);
    } catch (err) {
      error = err;
    }

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(Buffer.concat(copied).toString()).toBe('body-bytes');
  });

  it('re-wraps an envelope file end to end through the bounded copy', async () => {
    // Arrange
    const rk = await openLocal({ home: home.dir, clock: () => new Date(T0) });
    try {
      await rk.keyrings.createKeyring('pii', { rotateEverySeconds: 30 * DAY }, { actor: 'cli:test' });
    } finally {
      await rk.close();
    }
    writeFileSync(home.path('plain.txt'), 'hello');
    await home.ok(['encrypt', 'pii', '--in', home.path('plain.txt'), '--out', home.path('e.env')], { now: NOW });

    // Act
    const r = await home.run(['rewrap', '--in', home.path('e.env'), '--out', home.path('again.env')], { now: NOW });

    // Assess: the whole body is copied (same length) and it decrypts to the same text
    expect(r.code).toBe(0);
    expect(readFileSync(home.path('again.env')).length).toBe(readFileSync(home.path('e.env')).length);
    expect((await home.ok(['decrypt', '--in', home.path('again.env')])).stdout.toString()).toBe('hello');
  });
});
