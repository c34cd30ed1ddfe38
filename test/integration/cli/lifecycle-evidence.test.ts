/**
 * Issue 11, "stranding data", reproduced through the CLI on a real home: a file written with
 * `rekey encrypt` (the README's first example), rotation, and ticks past grace and retention.
 * Before the fix v1 was disabled as soon as the record store counted zero, then destroyed after
 * retention, and the file was lost. Now: the keyring declares 'files' unmanaged, v1 is disabled
 * only after its key went quiet, can be re-enabled in one command, and is never destroyed by
 * default; with destruction opted in it goes only after every piece of evidence.
 */
import { writeFileSync } from 'node:fs';
import { TestHome, T0, at, expectFailure } from './support/test-home';

interface VersionRow { version: number; state: string; lastUsedAt?: string; next?: string; dueAt?: string; reasons: string[] }
interface StatusJson { keyrings: Array<{ keyring: string; unmanaged: string[]; policy: { quiet: string; destroyAfterRetention: boolean }; versions: VersionRow[] }> }
interface PlanJson { keyrings: Array<{ keyring: string; steps: Array<{ at: string; kind: string; version: number }>; versions: VersionRow[] }> }

const NOW = new Date(T0).toISOString();

async function version(home: TestHome, keyring: string, v: number, now: string): Promise<VersionRow | undefined> {
  const s = await home.json<StatusJson>(['status', keyring, '--json', '--all'], { now });
  return s.keyrings[0]?.versions.find((row) => row.version === v);
}

describe('rekey CLI lifecycle evidence (local mode)', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome();
  });
  afterEach(() => {
    home.remove();
  });

  describe('a file written with rekey encrypt', () => {
    it('keeps v1 readable while the file is used, disables it only after the quiet period, re-enables it, and never destroys it', async () => {
      // Prepare: the README's first example, then a rotation
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--retention', '30d'], { now: NOW });
      const plain = home.path('note.txt');
      const sealed = home.path('note.rkv');
      writeFileSync(plain, 'the file under v1');
      await home.ok(['encrypt', '--keyring', 'pii', '--in', plain, '--out', sealed], { now: NOW });
      await home.ok(['rotate', 'pii'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);

      // Act: the file is read on day 8 and day 14; ticks run throughout
      await home.ok(['decrypt', '--in', sealed], { now: at(8) });
      await home.ok(['tick', '--at', at(8, 12)]);
      const afterGrace = await version(home, 'pii', 1, at(8, 13));
      await home.ok(['decrypt', '--in', sealed], { now: at(14) });
      await home.ok(['tick', '--at', at(20, 59)]);
      const stillUsed = await version(home, 'pii', 1, at(21));
      await home.ok(['tick', '--at', at(21, 1)]);
      const quiet = await version(home, 'pii', 1, at(21, 2));
      const refused = await home.run(['decrypt', '--in', sealed], { now: at(21, 3) });
      const reenabled = await home.ok(['reenable', 'pii', '--version', '1', '--reason', 'the note is still needed'], { now: at(21, 4) });
      const readAgain = await home.ok(['decrypt', '--in', sealed], { now: at(21, 5) });
      await home.ok(['tick', '--at', at(400)]);
      const yearLater = await version(home, 'pii', 1, at(400, 1));

      // Assess
      const s = await home.json<StatusJson>(['status', 'pii', '--json'], { now: at(8, 13) });
      expect(s.keyrings[0]?.unmanaged).toEqual(['files']);
      expect(afterGrace).toMatchObject({ state: 'deprecated', lastUsedAt: at(8), next: 'disable', dueAt: at(15) });
      expect(afterGrace?.reasons).toContain("held: unmanaged data 'files'; disabled only after 7d without use");
      expect(afterGrace?.reasons).toContain('waiting: key used 13m ago, quiet period 7d');
      expect(stillUsed).toMatchObject({ state: 'deprecated', lastUsedAt: at(14), dueAt: at(21) });
      expect(quiet?.state).toBe('disabled');
      expectFailure(refused, 3, /version 1 of keyring 'pii' is disabled/);
      expect(reenabled.stderr).toBe(`re-enabled version 1 of pii (deprecated; it decrypts again)\nrekey: acted on local home ${home.dir}\n`);
      expect(readAgain.stdout.toString()).toBe('the file under v1');
      expect(yearLater?.state).toBe('disabled');
      expect(yearLater?.reasons).toEqual(['kept: destroy disabled by policy (destroyAfterRetention is off)']);
      const actions = home.auditEvents().map((e) => `${String(e['action'])}${e['version'] === undefined ? '' : ` v${String(e['version'])}`}`);
      expect(actions.filter((a) => a === 'keyring.sources-changed')).toHaveLength(1);
      expect(actions).toContain('version.reenabled v1');
      expect(actions).not.toContain('version.destroyed v1');
    });

    it('declares files unmanaged once, on the first encrypt only', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      // Act
      await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('a'), now: NOW });
      const afterFirst = home.auditEvents().length;
      await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('b'), now: at(1) });
      // Assess
      expect(home.auditEvents().filter((e) => e['action'] === 'keyring.sources-changed')).toEqual([
        expect.objectContaining({ keyring: 'pii', details: expect.objectContaining({ unmanaged: 'files', previous: '' }) }),
      ]);
      expect(home.auditEvents()).toHaveLength(afterFirst);
    });

    it('tells the operator, on a finished revocation, that the unmanaged copies were not counted', async () => {
      // Prepare: a file sealed under v1 declares 'files'; a record store holds nothing.
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('a'), now: NOW });
      // Act: the revocation, then its re-run after one catalog cache lifetime.
      await home.run(['revoke', 'pii', '--version', '1', '--reason', 'INC-7', '--yes'], { now: at(1) });
      const done = await home.ok(['revoke', 'pii', '--version', '1', '--reason', 'INC-7'], { now: at(1, 5) });
      const json = JSON.parse((await home.ok(['revoke', 'pii', '--version', '1', '--reason', 'INC-7', '--json'], { now: at(1, 6) })).stdout.toString()) as { complete: boolean; unmanaged: string[] };
      // Assess: complete for what rekey counts, and the one line about what it cannot.
      expect(done.stdout.toString()).toMatch(/^not counted: envelopes in files \(declared unmanaged\) whose data key v1 created: those still under v1 no longer decrypt; re-encrypt/m);
      expect(json).toMatchObject({ complete: true, unmanaged: ['files'] });
      expect(home.auditEvents().filter((e) => e['action'] === 'revocation.verified').at(-1)).toMatchObject({ details: expect.objectContaining({ unmanaged: 'files' }) });
    });
  });

  describe('destruction', () => {
    it('destroys only with the opt-in, after retention, a quiet key and a drill-verified escrow, at the instant plan announced', async () => {
      // Prepare: no data anywhere, quiet 1 day, retention 10 days, destruction opted in
      await home.ok(['keyring', 'create', 'ops', '--rotate-every', '30d', '--grace', '1d', '--retention', '10d', '--quiet', '1d', '--destroy-after-retention'], { now: NOW });
      await home.ok(['rotate', 'ops'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      await home.ok(['tick', '--at', at(3, 11)]);
      const disabled = await version(home, 'ops', 1, at(3, 12));

      // Act
      await home.ok(['tick', '--at', at(14)]);
      const noEscrow = await version(home, 'ops', 1, at(14, 1));
      await home.ok(['escrow', 'archive', 'ops'], { now: at(14, 2) });
      await home.ok(['escrow', 'verify', 'ops'], { now: at(14, 2) });
      const plan = await home.json<PlanJson>(['plan', 'ops', '--json'], { now: at(14, 3) });
      await home.ok(['tick', '--at', at(14, 4)]);
      const destroyed = await version(home, 'ops', 1, at(14, 5));

      // Assess
      expect(disabled?.state).toBe('disabled');
      expect(noEscrow).toMatchObject({ state: 'disabled', next: 'destroy' });
      expect(noEscrow?.reasons).toContain('waiting: no escrow copy verified by a drill');
      expect(noEscrow?.dueAt).toBeUndefined();
      expect(plan.keyrings[0]?.steps[0]).toEqual({ at: at(14, 3), kind: 'destroy', version: 1 });
      expect(destroyed?.state).toBe('destroyed');
    });
  });

  describe('plan', () => {
    it('prints each upcoming step with its instant and every version with its reason', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d'], { now: NOW });
      await home.ok(['records', 'put', 'r1', '--keyring', 'pii'], { stdin: Buffer.from('x'), now: NOW });
      await home.ok(['rotate', 'pii'], { now: at(1) });

      // Act
      const text = (await home.ok(['plan', 'pii'], { now: at(1, 1) })).stdout.toString();
      const data = await home.json<PlanJson>(['plan', 'pii', '--json'], { now: at(1, 1) });
      const before = await home.snapshot();
      await home.ok(['plan'], { now: at(1, 2) });

      // Assess: v1's record blocks its disable, so v1 stops at the deprecation; v2 (never used)
      // is disabled as it is deprecated, its quiet period having run alongside its grace period.
      expect(data.keyrings[0]?.steps.slice(0, 6)).toEqual([
        { at: at(1, 10), kind: 'promote', version: 2 },
        { at: at(8, 10), kind: 'deprecate', version: 1 },
        { at: at(31, 10), kind: 'create-pending', version: 3 },
        { at: at(31, 20), kind: 'promote', version: 3 },
        { at: at(38, 20), kind: 'deprecate', version: 2 },
        { at: at(38, 20), kind: 'disable', version: 2 },
      ]);
      // Times for people: minutes, UTC (the JSON keeps the full instants).
      const short = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
      expect(text).toContain(`keyring pii at ${short(at(1, 1))}`);
      expect(text).toContain(`  ${short(at(1, 10))}  promote v2  (in 9m)`);
      expect(data.keyrings[0]?.steps.some((step) => step.kind === 'disable' && step.version === 1)).toBe(false);
      expect(text).toContain('v1 active');
      expect(text).toContain('v2 pending');
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('reenable', () => {
    it('refuses a revoked version and a version that is not disabled, changing nothing', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      await home.run(['revoke', 'pii', '--version', '1', '--reason', 'INC-1', '--yes'], { now: at(1) });
      const before = await home.snapshot();

      // Act
      const revoked = await home.run(['reenable', 'pii', '--version', '1'], { now: at(2) });
      const active = await home.run(['reenable', 'pii', '--version', '2'], { now: at(2) });

      // Assess
      expectFailure(revoked, 5, /cannot re-enable version 1 of keyring 'pii': it was revoked/);
      expectFailure(active, 5, /cannot re-enable version 2 of keyring 'pii': it is active/);
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('keyring sources', () => {
    it('sets and clears the unmanaged sources, audited, and refuses a bad name', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii', '--unmanaged', 'backups'], { now: NOW });

      // Act
      const set = await home.ok(['keyring', 'sources', 'pii', '--unmanaged', 'files,backups'], { now: at(1) });
      const same = await home.ok(['keyring', 'sources', 'pii', '--unmanaged', 'backups,files'], { now: at(1) });
      const afterSet = await home.json<StatusJson>(['status', 'pii', '--json']);
      const bad = await home.run(['keyring', 'sources', 'pii', '--unmanaged', 'Files!'], { now: at(1) });
      const both = await home.run(['keyring', 'sources', 'pii', '--unmanaged', 'files', '--none'], { now: at(1) });
      await home.ok(['keyring', 'sources', 'pii', '--none'], { now: at(2) });
      const afterNone = await home.json<StatusJson>(['status', 'pii', '--json']);

      // Assess
      expect(set.stderr).toBe(`declared unmanaged sources of pii: backups, files\nrekey: acted on local home ${home.dir}\n`);
      expect(same.stderr).toBe(`unchanged: unmanaged sources of pii: backups, files\nrekey: acted on local home ${home.dir}\n`);
      expect(afterSet.keyrings[0]?.unmanaged).toEqual(['backups', 'files']);
      expectFailure(bad, 2, /invalid unmanaged source 'Files!'/);
      expectFailure(both, 2, /exactly one of --unmanaged <names> or --none/);
      expect(afterNone.keyrings[0]?.unmanaged).toEqual([]);
      const changes = home.auditEvents().filter((e) => e['action'] === 'keyring.sources-changed');
      expect(changes.map((e) => (e['details'] as Record<string, unknown>)['unmanaged'])).toEqual(['backups,files', '']);
      expect(home.auditEvents()[0]).toMatchObject({ action: 'keyring.created', details: expect.objectContaining({ unmanaged: 'backups' }) });
    });
  });

  describe('decrypt of a revoked version', () => {
    it('is refused and audited as decrypt.denied once per process, with a count and no key material', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      const sealed = (await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('secret words'), now: NOW })).stdout;
      await home.run(['revoke', 'pii', '--version', '1', '--reason', 'INC-2', '--yes'], { now: at(1) });

      // Act
      const refused = await home.run(['decrypt'], { stdin: sealed, now: at(2) });

      // Assess
      expectFailure(refused, 3, /version 1 of keyring 'pii' is revoked/);
      const denied = home.auditEvents().filter((e) => e['action'] === 'decrypt.denied');
      expect(denied).toEqual([expect.objectContaining({ keyring: 'pii', version: 1, at: at(2), details: expect.objectContaining({ count: 1 }) })]);
      expect(JSON.stringify(denied)).not.toContain('secret words');
    });
  });
});
