import { TestHome, T0, at, expectFailure } from './support/test-home';

interface VersionRow { version: number; state: string; since: string; records: number; cacheEntries: number }
interface StatusJson { home: string; cache: string; keyrings: Array<{ keyring: string; generation: number; frozen?: { reason: string; by: string }; versions: VersionRow[] }> }
interface TickJson { at: string; applied: number; failed: number; keyrings: Array<{ keyring: string; applied: Array<{ kind: string; version: number; demoted?: number }>; paused?: string }> }

const NOW = new Date(T0).toISOString();

async function versions(home: TestHome, keyring: string): Promise<Array<[number, string]>> {
  const s = await home.json<StatusJson>(['status', keyring, '--json', '--all']);
  return (s.keyrings[0]?.versions ?? []).map((v) => [v.version, v.state]);
}

describe('rekey CLI lifecycle commands (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m', '--retention', '30d'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('rotate', () => {
    it('adds the next version as pending, and a second rotate reuses it', async () => {
      // Act
      const first = await home.ok(['rotate', 'pii', '--reason', 'quarterly'], { now: at(1) });
      const second = await home.ok(['rotate', 'pii'], { now: at(1, 1) });

      // Assess
      expect(first.stderr).toBe(`created version 2 of pii (pending)\nrekey: acted on local home ${home.dir}\n`);
      expect(second.stderr).toBe(`already pending: version 2 of pii (pending)\nrekey: acted on local home ${home.dir}\n`);
      expect(await versions(home, 'pii')).toEqual([[1, 'active'], [2, 'pending']]);
      expect(home.auditEvents().filter((e) => e.action === 'version.created')).toEqual([
        expect.objectContaining({ version: 2, reason: 'quarterly', at: at(1) }),
      ]);
    });

    it('promotes the pending version at the first tick after the propagation window', async () => {
      // Prepare
      await home.ok(['rotate', 'pii'], { now: at(1) });

      // Act
      const early = await home.ok(['tick', '--at', at(1, 9)]);
      const due = await home.ok(['tick', '--at', at(1, 11)]);

      // Assess
      expect(early.stdout.toString()).toBe('pii: nothing due\n');
      expect(due.stdout.toString()).toBe('pii: promote v2\n');
      expect(await versions(home, 'pii')).toEqual([[1, 'rotating'], [2, 'active']]);
    });
  });

  describe('tick', () => {
    it('walks the whole policy: create-pending, promote, deprecate, disable, destroy (opted in, with escrow verified)', async () => {
      // Prepare: destruction is opt-in (issue 11); pii2 opts in, pii keeps the default
      await home.ok(['keyring', 'create', 'ops', '--rotate-every', '90d'], { now: NOW });
      await home.ok(['keyring', 'create', 'pii2', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m', '--retention', '30d', '--destroy-after-retention'], { now: NOW });
      await home.ok(['tick', '--keyring', 'pii2', '--at', at(30, 1)]);
      await home.ok(['tick', '--keyring', 'pii2', '--at', at(30, 12)]);
      await home.ok(['tick', '--keyring', 'pii2', '--at', at(37, 13)]);
      await home.ok(['escrow', 'archive', 'pii2'], { now: at(37, 14) });
      await home.ok(['escrow', 'verify', 'pii2'], { now: at(37, 14) });

      // Act
      const t1 = await home.json<TickJson>(['tick', '--keyring', 'pii', '--json', '--at', at(30, 1)]);
      const t2 = await home.json<TickJson>(['tick', '--keyring', 'pii', '--json', '--at', at(30, 12)]);
      const t3 = await home.json<TickJson>(['tick', '--keyring', 'pii', '--json', '--at', at(37, 13)]);
      await home.ok(['escrow', 'archive', 'pii'], { now: at(37, 14) });
      await home.ok(['escrow', 'verify', 'pii'], { now: at(37, 14) });
      const t4 = await home.json<TickJson>(['tick', '--keyring', 'pii', '--json', '--at', at(67, 20)]);
      const t4OptedIn = await home.json<TickJson>(['tick', '--keyring', 'pii2', '--json', '--at', at(67, 20)]);

      // Assess
      const kinds = (t: TickJson) => t.keyrings.flatMap((k) => k.applied.map((a) => `${a.kind} v${a.version}`));
      expect([t1, t2, t3, t4].map((t) => t.keyrings.map((k) => k.keyring))).toEqual([['pii'], ['pii'], ['pii'], ['pii']]);
      expect(kinds(t1)).toEqual(['create-pending v2']);
      expect(kinds(t2)).toEqual(['promote v2']);
      // A promote names the version it demoted; no transition carries key material.
      expect(t2.keyrings[0]?.applied).toEqual([{ kind: 'promote', version: 2, demoted: 1 }]);
      expect(t1.keyrings[0]?.applied).toEqual([{ kind: 'create-pending', version: 2 }]);
      expect(kinds(t3)).toEqual(['deprecate v1', 'disable v1']);
      // Day 67 is also past v2's own 30 days, so the next rotation starts in the same tick; v1 is
      // destroyed only where the keyring opted in.
      expect(kinds(t4)).toEqual(['create-pending v3']);
      expect(kinds(t4OptedIn)).toEqual(['create-pending v3', 'destroy v1']);
      expect(t1.at).toBe(at(30, 1));
      expect(await versions(home, 'pii')).toEqual([[1, 'disabled'], [2, 'active'], [3, 'pending']]);
      expect(await versions(home, 'pii2')).toEqual([[1, 'destroyed'], [2, 'active'], [3, 'pending']]);
      expect(await versions(home, 'ops')).toEqual([[1, 'active']]);
    });

    it('is safe to run twice: the second tick at the same time applies nothing', async () => {
      // Prepare
      await home.ok(['tick', '--at', at(30, 1)]);
      const before = await home.snapshot();

      // Act
      const again = await home.json<TickJson>(['tick', '--json', '--at', at(30, 1)]);

      // Assess
      expect(again.applied).toBe(0);
      expect(await home.snapshot()).toBe(before);
    });

    it('uses the global --now when --at is not given', async () => {
      // Act
      const r = await home.ok(['tick'], { now: at(30, 1) });

      // Assess
      expect(r.stdout.toString()).toBe('pii: create-pending v2\n');
      expect(home.auditEvents().at(-1)).toMatchObject({ action: 'version.created', at: at(30, 1) });
    });
  });

  describe('status', () => {
    it('prints the table with one row and a bar proportional to the records of each version', async () => {
      // Prepare
      for (let i = 0; i < 6; i += 1) await home.ok(['records', 'put', `r${i}`, '--keyring', 'pii'], { stdin: Buffer.from(`v${i}`), now: NOW });
      await home.ok(['tick', '--at', at(30, 1)]);
      await home.ok(['tick', '--at', at(30, 12)]);
      for (const id of ['r0', 'r1']) await home.ok(['records', 'get', id], { now: at(30, 13) });

      // Act
      const table = (await home.ok(['status'], { now: at(30, 13) })).stdout.toString();
      const data = await home.json<StatusJson>(['status', '--json']);

      // Assess
      const rows = data.keyrings[0]?.versions ?? [];
      expect(rows.map((v) => [v.version, v.state, v.records])).toEqual([[1, 'rotating', 4], [2, 'active', 2]]);
      expect(table).toContain('keyring pii (generation 3)\n  policy: rotate every 30d, grace 7d, propagation 10m, retention 30d, quiet 7d,\n    destroy after retention: no\n');
      // Each retired version says when its key was last used (the active version's uses are not
      // weighed, so not recorded) and why it is (not) moving on.
      expect(rows.map((v) => (v as VersionRow & { lastUsedAt?: string }).lastUsedAt)).toEqual([at(30, 13), undefined]);
      const short = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
      expect(table).toContain(`next: deprecate in 6d 23h (${short(at(37, 12))})`);
      const lines = table.split('\n');
      for (const v of rows) {
        const line = lines.find((l) => new RegExp(`^\\s+${v.version}\\s+${v.state}\\s`).test(l));
        const hashes = (line ?? '').match(/#+$/)?.[0].length ?? 0;
        expect({ version: v.version, hashes }).toEqual({ version: v.version, hashes: Math.round((v.records / 6) * 20) });
        expect(line).toContain(v.since.slice(0, 16).replace('T', ' '));
      }
      expect(data).toMatchObject({ cache: 'memory' });
      expect(data.home).toBe(home.dir);
    });

    it('shows only the named keyring, and exits 4 for an unknown one', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'ops'], { now: NOW });

      // Act
      const one = await home.json<StatusJson>(['status', 'ops', '--json']);
      const unknown = await home.run(['status', 'nope']);

      // Assess
      expect(one.keyrings.map((k) => k.keyring)).toEqual(['ops']);
      expectFailure(unknown, 4, /unknown keyring 'nope'/);
    });
  });

  describe('freeze / unfreeze', () => {
    it('pauses the tick and manual rotation while frozen, and resumes after unfreeze', async () => {
      // Prepare
      await home.ok(['freeze', 'pii', '--reason', 'INC-7 investigating'], { now: at(29) });

      // Act
      const paused = await home.ok(['tick', '--at', at(30, 1)]);
      const rotate = await home.run(['rotate', 'pii'], { now: at(30, 2) });
      const table = (await home.ok(['status', 'pii'])).stdout.toString();
      const frozenStatus = await home.json<StatusJson>(['status', 'pii', '--json']);
      await home.ok(['unfreeze', 'pii'], { now: at(30, 3) });
      const resumed = await home.ok(['tick', '--at', at(30, 4)]);

      // Assess
      expect(paused.stdout.toString()).toBe('pii: paused (frozen)\n');
      expectFailure(rotate, 5, /frozen/);
      expect(table).toMatch(/FROZEN since .* INC-7 investigating/);
      expect(frozenStatus.keyrings[0]?.frozen).toMatchObject({ reason: 'INC-7 investigating' });
      expect(resumed.stdout.toString()).toBe('pii: create-pending v2\n');
      expect(home.auditEvents().map((e) => e.action)).toEqual(expect.arrayContaining(['keyring.frozen', 'keyring.unfrozen']));
    });

    it('still lets an emergency revocation through while frozen', async () => {
      // Prepare
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      await home.ok(['freeze', 'pii', '--reason', 'INC-8'], { now: at(1) });

      // Act
      // The first run revokes and re-encrypts, but cannot call itself complete until one catalog
      // cache lifetime (60 s) has passed: a writer may still encrypt under v1 from its cached catalog.
      const first = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'INC-8 key leaked', '--yes', '--json'], { now: at(1) });
      const r = await home.ok(['revoke', 'pii', '--version', '1', '--reason', 'INC-8 key leaked', '--json'], { now: at(1, 2) });

      // Assess
      expect(first.code).toBe(5);
      expect(first.stderr).toMatch(/^rekey: acted on local home \S+\nrekey: revocation of pii v1 is not complete: writers with a cached catalog may write under v1 until 2030-01-02T00:01:00\.000Z; rerun after that to re-count\n$/);
      expect(JSON.parse(first.stdout.toString())).toMatchObject({ version: 1, activeVersion: 2, remaining: 0, pending: 'settling', settlesAt: '2030-01-02T00:01:00.000Z' });
      expect(JSON.parse(r.stdout.toString())).toMatchObject({ version: 1, activeVersion: 2, remaining: 0 });
      expect(JSON.parse(r.stdout.toString())).not.toHaveProperty('pending');
      const s = await home.json<StatusJson>(['status', 'pii', '--json']);
      expect(s.keyrings[0]?.frozen).toBeDefined();
      expect(s.keyrings[0]?.versions.map((v) => [v.version, v.state, v.records])).toEqual([[1, expect.stringMatching(/^(revoked|disabled)$/), 0], [2, 'active', 1]]);
      expect((await home.ok(['records', 'get', 'a'], { now: at(1) })).stdout.toString()).toBe('alpha');
    });

    it('treats unfreeze of a keyring that is not frozen as a no-op, and refuses an unknown keyring', async () => {
      // Prepare
      const before = await home.snapshot();

      // Act
      const unfreeze = await home.run(['unfreeze', 'pii']);
      const unknown = await home.run(['freeze', 'nope', '--reason', 'x']);
      const noReason = await home.run(['freeze', 'pii']);

      // Assess
      expect(unfreeze.code).toBe(0);
      expectFailure(unknown, 4, /unknown keyring/);
      expectFailure(noReason, 2, /^rekey: required option '--reason/);
      expect(await home.snapshot()).toBe(before);
    });
  });
});
