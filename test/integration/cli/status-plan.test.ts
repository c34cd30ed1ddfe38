/**
 * Issue 12, "shows what happens next": `status` gives each version its next transition and its
 * time, flags OVERDUE and STUCK, keeps the revocation facts after the version moves on, hides
 * destroyed versions unless --all, says how files made by `rekey encrypt` are protected, and
 * fits 80 columns; `plan` names what blocks each step with its figure and changes nothing.
 */
import { TestHome, T0, at } from './support/test-home';

interface Hold { kind: string; clearsWithTime: boolean; until?: string; count?: number; text: string }
interface VersionRow {
  version: number;
  state: string;
  cacheEntries: number | null;
  next?: string;
  dueAt?: string;
  overdue: boolean;
  stuck: boolean;
  holds: Hold[];
  revoked?: { at: string; reason: string; by?: string };
}
interface StatusJson { keyrings: Array<{ keyring: string; protection: string[]; cacheCounted: boolean; hiddenDestroyed: number; versions: VersionRow[] }> }
interface PlanJson {
  keyrings: Array<{ keyring: string; steps: Array<{ at: string; kind: string; version: number }>; blocked: Array<{ kind: string; version: number; stuck: boolean; holds: Hold[] }>; versions: VersionRow[] }>;
}

const NOW = new Date(T0).toISOString();
const LONG_REASON = `INC-4711 ${'investigating a suspected exposure of the payroll export pipeline '.repeat(3)}${'x'.repeat(120)}`;

describe('rekey status and plan: what happens next (local mode)', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome();
  });
  afterEach(() => {
    home.remove();
  });

  describe('status', () => {
    it('fits 80 columns with long reasons, and says how files made by rekey encrypt are protected', async () => {
      // Arrange: a file sealed under v1, a rotation in grace, a long freeze reason
      await home.ok(['keyring', 'create', 'payroll-exports-eu-west', '--rotate-every', '30d', '--grace', '7d'], { now: NOW });
      await home.ok(['encrypt', '--keyring', 'payroll-exports-eu-west'], { stdin: Buffer.from('a'), now: NOW });
      for (let i = 0; i < 3; i += 1) await home.ok(['records', 'put', `r${i}`, '--keyring', 'payroll-exports-eu-west'], { stdin: Buffer.from('x'), now: NOW });
      await home.ok(['rotate', 'payroll-exports-eu-west'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      await home.ok(['freeze', 'payroll-exports-eu-west', '--reason', LONG_REASON], { now: at(2) });

      // Act
      const text = (await home.ok(['status'], { now: at(2, 1) })).stdout.toString();
      const data = await home.json<StatusJson>(['status', '--json'], { now: at(2, 1) });

      // Assess
      const lines = text.split('\n');
      expect(lines.filter((l) => l.length > 80)).toEqual([]);
      expect(text.replace(/\s+/g, ' ')).toContain(LONG_REASON.slice(0, 60));
      expect(data.keyrings[0]?.protection[0]).toBe(
        "files: envelopes made by 'rekey encrypt' live outside the record store, so rekey cannot count them. After a rotation the old version is disabled once its grace period has passed and its key has gone unused for 7d; such files then fail to decrypt until 'rekey reenable'. Re-wrap them with 'rekey rewrap' before then.",
      );
      expect(text.replace(/\s+/g, ' ')).toContain("files: envelopes made by 'rekey encrypt' live outside the record store");
      expect(text).toMatch(/^ {2}FROZEN since 2030-01-03 00:00Z by /m);
      expect(lines.some((l) => /^\s+1\s+rotating\s+2030-01-02 00:11Z\s+3\s+0\s+#{20}$/.test(l))).toBe(true);
      expect(text).toContain('       next: deprecate paused (keyring frozen)\n');
    });

    it('gives the next transition and its time, and flags OVERDUE when no tick applied a due step', async () => {
      // Arrange
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
      await home.ok(['rotate', 'pii'], { now: at(1) });

      // Act: before the promotion is due, then three hours after it was (no tick ran)
      const early = await home.json<StatusJson>(['status', 'pii', '--json'], { now: at(1, 1) });
      const earlyText = (await home.ok(['status', 'pii'], { now: at(1, 1) })).stdout.toString();
      const late = await home.json<StatusJson>(['status', 'pii', '--json'], { now: at(1, 190) });
      const lateText = (await home.ok(['status', 'pii'], { now: at(1, 190) })).stdout.toString();

      // Assess
      expect(early.keyrings[0]?.versions[1]).toMatchObject({ version: 2, state: 'pending', next: 'promote', dueAt: at(1, 10), overdue: false, stuck: false });
      expect(earlyText).toContain('next: promote in 9m (2030-01-02 00:10Z)');
      expect(late.keyrings[0]?.versions[1]).toMatchObject({ version: 2, next: 'promote', overdue: true });
      expect(lateText).toContain('next: promote due now, OVERDUE by 3h (no tick applied it)');
    });

    it('flags STUCK a version whose records keep it from being disabled, naming the figure', async () => {
      // Arrange: a record under v1, v1 deprecated after its grace
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '1d', '--quiet', '0s'], { now: NOW });
      await home.ok(['records', 'put', 'r1', '--keyring', 'pii'], { stdin: Buffer.from('x'), now: NOW });
      await home.ok(['rotate', 'pii'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      await home.ok(['tick', '--at', at(2, 12)]);

      // Act
      const data = await home.json<StatusJson>(['status', 'pii', '--json'], { now: at(3) });
      const text = (await home.ok(['status', 'pii'], { now: at(3) })).stdout.toString();

      // Assess
      const v1 = data.keyrings[0]?.versions[0];
      expect(v1).toMatchObject({ version: 1, state: 'deprecated', next: 'disable', stuck: true, overdue: false });
      expect(v1?.dueAt).toBeUndefined();
      expect(v1?.holds).toContainEqual({ kind: 'references', clearsWithTime: false, count: 1, text: 'blocked: 1 record still under v1' });
      expect(text).toContain('next: disable blocked, STUCK');
      expect(text).toContain('blocked: 1 record still under v1');
    });

    it('keeps when, why and by whom a version was revoked after it is disabled', async () => {
      // Arrange
      await home.ok(['keyring', 'create', 'pii', '--quiet', '1d'], { now: NOW });
      await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-42 key in a public gist', '--yes'], { now: at(1) });
      await home.ok(['tick', '--at', at(3)]);

      // Act
      const data = await home.json<StatusJson>(['status', 'pii', '--json'], { now: at(3, 1) });
      const text = (await home.ok(['status', 'pii'], { now: at(3, 1) })).stdout.toString();

      // Assess
      const v1 = data.keyrings[0]?.versions[0];
      expect(v1).toMatchObject({ version: 1, state: 'disabled', revoked: { at: at(1), reason: 'SEC-42 key in a public gist', by: expect.stringMatching(/^cli:/) } });
      expect(text).toMatch(/^ {7}revoked 2030-01-02 00:00Z by cli:\S+: SEC-42 key in a public gist$/m);
    });

    it('hides destroyed versions unless --all, and says so', async () => {
      // Arrange: destruction opted in, escrow verified, quiet and retention passed
      await home.ok(['keyring', 'create', 'ops', '--rotate-every', '30d', '--grace', '1d', '--retention', '10d', '--quiet', '1d', '--destroy-after-retention'], { now: NOW });
      await home.ok(['rotate', 'ops'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      await home.ok(['tick', '--at', at(3, 11)]);
      await home.ok(['escrow', 'archive', 'ops'], { now: at(14, 2) });
      await home.ok(['escrow', 'verify', 'ops'], { now: at(14, 2) });
      await home.ok(['tick', '--at', at(14, 4)]);

      // Act
      const hidden = await home.json<StatusJson>(['status', 'ops', '--json'], { now: at(14, 5) });
      const text = (await home.ok(['status', 'ops'], { now: at(14, 5) })).stdout.toString();
      const all = await home.json<StatusJson>(['status', 'ops', '--json', '--all'], { now: at(14, 5) });
      const allText = (await home.ok(['status', 'ops', '--all'], { now: at(14, 5) })).stdout.toString();

      // Assess
      expect(hidden.keyrings[0]?.versions.map((v) => v.version)).toEqual([2]);
      expect(hidden.keyrings[0]?.hiddenDestroyed).toBe(1);
      expect(text).toContain('(1 destroyed version hidden; --all shows it)');
      expect(all.keyrings[0]?.versions.map((v) => [v.version, v.state])).toEqual([[1, 'destroyed'], [2, 'active']]);
      expect(allText).not.toContain('hidden');
    });
  });

  describe('plan', () => {
    it('names what blocks each step with its figure, and changes neither the catalog nor the audit trail', async () => {
      // Arrange: two records under v1, a file (unmanaged), v1 deprecated and its key used 2h ago
      // (reading 'a' moves it to v2, so one record stays under v1)
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '1d'], { now: NOW });
      for (const id of ['a', 'b']) await home.ok(['records', 'put', id, '--keyring', 'pii'], { stdin: Buffer.from(id), now: NOW });
      await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('f'), now: NOW });
      await home.ok(['rotate', 'pii'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      await home.ok(['tick', '--at', at(2, 12)]);
      await home.ok(['records', 'get', 'a'], { now: at(3) });
      const before = await home.snapshot();

      // Act
      const data = await home.json<PlanJson>(['plan', 'pii', '--json'], { now: at(3, 120) });
      const text = (await home.ok(['plan', 'pii'], { now: at(3, 120) })).stdout.toString();

      // Assess
      const blocked = data.keyrings[0]?.blocked.find((b) => b.version === 1);
      expect(blocked).toMatchObject({ kind: 'disable', stuck: true });
      expect(blocked?.holds.map((h) => h.text)).toEqual([
        'blocked: 1 record still under v1',
        'waiting: key used 2h ago; quiet period 7d until 2030-01-11 00:00Z',
        "held: unmanaged data 'files' not counted; disabled only after 7d without key use",
      ]);
      expect(text).toContain('disable v1: no time can be promised (STUCK: time alone will not clear it)');
      expect(text).toContain('      blocked: 1 record still under v1');
      expect(text).toContain('  v1 deprecated (last used 2030-01-04 00:00Z)  STUCK\n      disable blocked (see above)\n');
      expect(data.keyrings[0]?.steps[0]).toEqual({ at: at(31, 11), kind: 'create-pending', version: 3 });
      expect(await home.snapshot()).toBe(before);
    });

    it('names a freeze as what pauses every step', async () => {
      // Arrange
      await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d'], { now: NOW });
      await home.ok(['freeze', 'pii', '--reason', 'INC-9'], { now: at(1) });

      // Act
      const data = await home.json<PlanJson>(['plan', 'pii', '--json'], { now: at(40) });

      // Assess
      expect(data.keyrings[0]?.steps).toEqual([]);
      expect(data.keyrings[0]?.blocked).toEqual([
        { kind: 'rotate', version: 1, stuck: true, holds: [expect.objectContaining({ kind: 'frozen', clearsWithTime: false, text: expect.stringMatching(/^paused: keyring frozen \('rekey unfreeze' resumes\) since 2030-01-02 00:00Z by cli:\S+: INC-9$/) })] },
      ]);
    });
  });
});
