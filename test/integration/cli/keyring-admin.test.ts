import { TestHome, T0, at, expectFailure } from './support/test-home';

interface PolicyJson { rotateEvery: string; grace: string; propagation: string; retention: string; quiet: string; destroyAfterRetention: boolean }
interface UpdateJson { keyring: string; changed: boolean; changes: Array<{ setting: string; from: string | boolean; to: string | boolean }>; policy: PolicyJson; nextRotationDueAt: string | null }
interface ListJson { keyrings: Array<{ keyring: string; activeVersion: number | null; frozen: boolean }> }

const NOW = new Date(T0).toISOString();
const DAY = 86_400_000;

/** The first stderr line (main may add an "acted on" line after it). */
function firstLine(stderr: string): string {
  return stderr.split('\n')[0] ?? '';
}

async function policyOf(home: TestHome, keyring: string): Promise<PolicyJson | undefined> {
  const s = await home.json<{ keyrings: Array<{ keyring: string; policy: PolicyJson }> }>(['status', keyring, '--json']);
  return s.keyrings[0]?.policy;
}

describe('rekey keyring create / update / delete (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('keyring update', () => {
    it('changes only the settings given, audits old and new values and says when the next rotation is due', async () => {
      // Act
      const r = await home.ok(['keyring', 'update', 'pii', '--rotate-every', '14d', '--grace', '2d'], { now: at(1) });

      // Assess
      expect(firstLine(r.stderr)).toBe(`updated pii: --rotate-every 30d -> 14d, --grace 7d -> 2d; next rotation now due ${new Date(T0 + 14 * DAY).toISOString()}`);
      expect(await policyOf(home, 'pii')).toEqual({ rotateEvery: '14d', grace: '2d', propagation: '10m', retention: '30d', quiet: '7d', destroyAfterRetention: false });
      expect(home.auditEvents().filter((e) => e.action === 'keyring.policy-updated')).toEqual([
        expect.objectContaining({
          keyring: 'pii',
          at: at(1),
          details: expect.objectContaining({ rotateEverySeconds: 14 * 86_400, previousRotateEverySeconds: 30 * 86_400, graceSeconds: 2 * 86_400, previousGraceSeconds: 7 * 86_400 }) as unknown,
        }),
      ]);
    });

    it('prints a stable --json object and writes nothing when the policy already says so', async () => {
      // Act
      const same = await home.json<UpdateJson>(['keyring', 'update', 'pii', '--grace', '7d', '--json'], { now: at(1) });
      const opted = await home.json<UpdateJson>(['keyring', 'update', 'pii', '--destroy-after-retention', '--json'], { now: at(1) });
      const back = await home.json<UpdateJson>(['keyring', 'update', 'pii', '--no-destroy-after-retention', '--json'], { now: at(1) });

      // Assess
      expect(same).toEqual({ keyring: 'pii', changed: false, changes: [], policy: expect.objectContaining({ grace: '7d' }) as unknown, nextRotationDueAt: new Date(T0 + 30 * DAY).toISOString() });
      expect(opted.changes).toEqual([{ setting: 'destroyAfterRetention', from: false, to: true }]);
      expect(back.changes).toEqual([{ setting: 'destroyAfterRetention', from: true, to: false }]);
      expect(home.auditEvents().filter((e) => e.action === 'keyring.policy-updated')).toHaveLength(2);
    });

    it('says the next rotation is overdue when the new period has already run out', async () => {
      // Act
      const r = await home.ok(['keyring', 'update', 'pii', '--rotate-every', '7d'], { now: at(10) });

      // Assess
      expect(firstLine(r.stderr)).toBe(`updated pii: --rotate-every 30d -> 7d; next rotation now due ${new Date(T0 + 7 * DAY).toISOString()} (overdue: the next tick rotates)`);
    });

    it('refuses a grace period longer than the rotation period, naming both flags, and changes nothing', async () => {
      // Act
      const longer = await home.run(['keyring', 'update', 'pii', '--grace', '30d', '--rotate-every', '7d'], { now: at(1) });
      const current = await home.run(['keyring', 'update', 'pii', '--rotate-every', '5d'], { now: at(1) });

      // Assess
      expectFailure(
        longer,
        2,
        /^rekey: --grace 30d is longer than --rotate-every 7d: a superseded version would still be in its grace period when the next rotation comes; shorten --grace or lengthen --rotate-every$/,
      );
      expectFailure(current, 2, /^rekey: the current --grace 7d is longer than --rotate-every 5d: .*; shorten --grace or lengthen --rotate-every$/);
      expect(await policyOf(home, 'pii')).toMatchObject({ rotateEvery: '30d', grace: '7d' });
      expect(home.auditEvents().filter((e) => e.action === 'keyring.policy-updated')).toHaveLength(0);
    });

    it.each([
      [['--grace', '3x'], /--grace/],
      [['--rotate-every', '5m', '--propagation', '10m', '--grace', '1m'], /--rotate-every must be longer than --propagation/],
      [[], /give at least one of --rotate-every/],
    ])('refuses %j with exit 2 naming the flag, never the stored field', async (flags, message) => {
      // Act
      const r = await home.run(['keyring', 'update', 'pii', ...flags], { now: at(1) });

      // Assess
      expectFailure(r, 2, message);
      expect(r.stderr).not.toMatch(/Seconds/);
    });

    it('refuses an unknown keyring with exit 4', async () => {
      // Act
      const r = await home.run(['keyring', 'update', 'nope', '--grace', '1d']);

      // Assess
      expectFailure(r, 4, /nope/);
    });
  });

  describe('keyring create', () => {
    it('refuses a rotation period shorter than the default grace period, and says it is the default', async () => {
      // Act
      const r = await home.run(['keyring', 'create', 'ops', '--rotate-every', '1d'], { now: NOW });

      // Assess
      expectFailure(r, 2, /^rekey: the default --grace 7d is longer than --rotate-every 1d: .*shorten --grace or lengthen --rotate-every$/);
      expect((await home.json<ListJson>(['keyring', 'list', '--json'])).keyrings.map((k) => k.keyring)).toEqual(['pii']);
    });

    it('prints the keyring as --json, and keyring list and sources print JSON too', async () => {
      // Act
      const created = await home.json<Record<string, unknown>>(['keyring', 'create', 'ops', '--rotate-every', '1d', '--grace', '1d', '--json'], { now: NOW });
      const sources = await home.json<Record<string, unknown>>(['keyring', 'sources', 'ops', '--unmanaged', 'files', '--json'], { now: NOW });
      const list = await home.json<ListJson>(['keyring', 'list', '--json']);

      // Assess
      expect(created).toEqual({ keyring: 'ops', activeVersion: 1, policy: { rotateEvery: '1d', grace: '1d', propagation: '10m', retention: '30d', quiet: '7d', destroyAfterRetention: false }, unmanaged: [], home: home.dir });
      expect(sources).toEqual({ keyring: 'ops', changed: true, unmanaged: ['files'] });
      expect(list).toEqual({ keyrings: [{ keyring: 'ops', activeVersion: 1, frozen: false }, { keyring: 'pii', activeVersion: 1, frozen: false }] });
    });
  });

  describe('keyring delete', () => {
    it('asks for --yes without a terminal and changes nothing', async () => {
      // Act
      const r = await home.run(['keyring', 'delete', 'pii']);

      // Assess
      expectFailure(r, 2, /^rekey: delete keyring pii in local home .* cannot be undone: confirm with --yes/);
      expect((await home.json<ListJson>(['keyring', 'list', '--json'])).keyrings).toHaveLength(1);
    });

    it('starts the deletion: writers are refused, the name is taken, and it exits 5 saying when to rerun', async () => {
      // Act
      const started = await home.run(['keyring', 'delete', 'pii', '--yes', '--json', '--reason', 'test keyring'], { now: at(1) });
      const put = await home.run(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('x'), now: at(1) });
      const recreate = await home.run(['keyring', 'create', 'pii'], { now: at(1) });
      const early = await home.run(['keyring', 'delete', 'pii'], { now: at(1, 0.5) });

      // Assess
      const settlesAt = at(1, 1);
      expect(started.code).toBe(5);
      expect(JSON.parse(started.stdout.toString('utf8'))).toEqual({
        keyring: 'pii',
        state: 'deleting',
        deleted: false,
        deletedAt: at(1),
        deletedBy: expect.stringMatching(/^cli:/) as unknown,
        settlesAt,
        finishedAt: null,
      });
      expect(started.stderr).toContain(`rekey: deleting keyring pii: writers with a cached catalog may still write until ${settlesAt}; rerun 'rekey keyring delete pii' after that to finish\n`);
      expectFailure(put, 5, new RegExp(`^rekey: keyring 'pii' is being deleted: rerun 'rekey keyring delete pii' to restore it if records were written under it, or after ${settlesAt.replace(/\./g, '\\.')} to finish the deletion$`));
      expectFailure(recreate, 5, /keyring 'pii' is being deleted/);
      // A rerun before the settle window asks nothing (no --yes, no terminal) and changes nothing.
      expectFailure(early, 5, new RegExp(`^rekey: deleting keyring pii: writers with a cached catalog may still write until ${settlesAt.replace(/\./g, '\\.')}`));
      expect((await home.json<ListJson>(['keyring', 'list', '--json'])).keyrings).toEqual([]);
      expect(home.auditEvents().filter((e) => /^keyring\.(delete|deleted|restored)/.test(String(e.action)))).toEqual([
        expect.objectContaining({ action: 'keyring.delete-started', keyring: 'pii', at: at(1), reason: 'test keyring' }),
      ]);
    });

    it('a rerun after the settle window with no record makes it final: audited, its name never reused, a further rerun says so', async () => {
      // Prepare
      await home.run(['keyring', 'delete', 'pii', '--yes', '--reason', 'test keyring'], { now: at(1) });

      // Act
      const finished = await home.json<Record<string, unknown>>(['keyring', 'delete', 'pii', '--json'], { now: at(1, 1) });
      const again = await home.ok(['keyring', 'delete', 'pii'], { now: at(2) });
      const recreate = await home.run(['keyring', 'create', 'pii', '--rotate-every', '30d'], { now: at(2) });
      const status = await home.run(['status', 'pii']);

      // Assess
      expect(finished).toEqual({ keyring: 'pii', state: 'deleted', deleted: true, deletedAt: at(1), deletedBy: expect.stringMatching(/^cli:/) as unknown, settlesAt: at(1, 1), finishedAt: at(1, 1) });
      expect(firstLine(again.stderr)).toMatch(new RegExp(`^already deleted: keyring pii on ${at(1, 1).replace(/\./g, '\\.')} by cli:`));
      expectFailure(recreate, 5, new RegExp(`keyring 'pii' was deleted on ${at(1).replace(/\./g, '\\.')}; its name is never reused: choose another name`));
      expectFailure(status, 4, /pii/);
      expect((await home.json<ListJson>(['keyring', 'list', '--json'])).keyrings).toEqual([]);
      expect(home.auditEvents().filter((e) => e.action === 'keyring.deleted')).toEqual([expect.objectContaining({ keyring: 'pii', at: at(1, 1), reason: 'test keyring' })]);
    });

    it('follows REKEY_CATALOG_TTL_MS for the settle window', async () => {
      // Act
      const r = await home.run(['keyring', 'delete', 'pii', '--yes', '--json'], { now: at(1), env: { REKEY_CATALOG_TTL_MS: '5000' } });

      // Assess
      expect(JSON.parse(r.stdout.toString('utf8'))).toMatchObject({ state: 'deleting', settlesAt: new Date(Date.parse(at(1)) + 5000).toISOString() });
    });

    it('refuses while records are under any version, counting them', async () => {
      // Prepare
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('x'), now: NOW });
      await home.ok(['records', 'put', 'b', '--keyring', 'pii'], { stdin: Buffer.from('y'), now: NOW });

      // Act
      const r = await home.run(['keyring', 'delete', 'pii', '--yes']);

      // Assess
      expectFailure(r, 5, /^rekey: cannot delete keyring pii: 2 record\(s\) in the record store are under v1 of pii: delete them first .*; nothing was changed$/);
      expect((await home.json<ListJson>(['keyring', 'list', '--json'])).keyrings).toHaveLength(1);
    });

    it('refuses while unmanaged holders are declared, saying how to declare none', async () => {
      // Prepare
      await home.ok(['keyring', 'sources', 'pii', '--unmanaged', 'files,backups']);

      // Act
      const r = await home.run(['keyring', 'delete', 'pii', '--yes']);

      // Assess
      expectFailure(r, 5, /unmanaged holders are declared \(backups, files\): rekey cannot count them; when they hold no envelope of pii, run 'rekey keyring sources pii --none'/);
    });

    it('refuses while a revocation is in progress', async () => {
      // Prepare: the revocation leaves v1 revoked until the lifecycle disables it
      await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-9', '--yes'], { now: at(1) });

      // Act
      const r = await home.run(['keyring', 'delete', 'pii', '--yes'], { now: at(1, 1) });

      // Assess
      expectFailure(r, 5, /a revocation is in progress \(v1 revoked, not yet disabled\)/);
    });
  });
});
