import { TestHome, T0, at, expectFailure } from './support/test-home';

interface TickJson { at: string; applied: number; failed: number; keyrings: Array<{ keyring: string; applied: Array<{ kind: string; version: number }>; error?: { message: string } }> }

const NOW = new Date(T0).toISOString();

function firstLine(stderr: string): string {
  return stderr.split('\n')[0] ?? '';
}

async function stateOf(home: TestHome, keyring: string, version: number): Promise<string | undefined> {
  const s = await home.json<{ keyrings: Array<{ versions: Array<{ version: number; state: string }> }> }>(['status', keyring, '--json', '--all']);
  return s.keyrings[0]?.versions.find((v) => v.version === version)?.state;
}

describe('rekey lifecycle commands: confirmations, repeats and simulated times (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('freeze / unfreeze', () => {
    it('keeps the first freeze and its reason when frozen again, and says so', async () => {
      // Prepare
      await home.ok(['freeze', 'pii', '--reason', 'INC-1 first'], { now: at(1) });

      // Act
      const again = await home.ok(['freeze', 'pii', '--reason', 'INC-2 second'], { now: at(2) });
      const json = await home.json<Record<string, unknown>>(['freeze', 'pii', '--reason', 'INC-3', '--json'], { now: at(3) });

      // Assess
      expect(firstLine(again.stderr)).toMatch(new RegExp(`^pii already frozen since ${at(1).replace(/\./g, '\\.')} by cli:\\S+: INC-1 first; kept it$`));
      expect(json).toEqual({ keyring: 'pii', frozen: true, changed: false, reason: 'INC-1 first', since: at(1), by: expect.stringMatching(/^cli:/) as unknown });
      expect(home.auditEvents().filter((e) => e.action === 'keyring.frozen')).toHaveLength(1);
    });

    it('says a keyring that is not frozen is not frozen, with exit 0', async () => {
      // Act
      const r = await home.ok(['unfreeze', 'pii']);
      const json = await home.json<Record<string, unknown>>(['unfreeze', 'pii', '--json']);

      // Assess
      expect(firstLine(r.stderr)).toBe('pii is not frozen; nothing to do');
      expect(json).toEqual({ keyring: 'pii', frozen: false, changed: false });
      expect(home.auditEvents().filter((e) => e.action === 'keyring.unfrozen')).toHaveLength(0);
    });
  });

  describe('revoke', () => {
    it('refuses without a terminal and without --yes, and nothing is revoked', async () => {
      // Act
      const r = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-1'], { now: at(1) });

      // Assess
      expectFailure(r, 2, /^rekey: revoke pii v1 in local home .* cannot be undone: confirm with --yes .*nothing was changed$/);
      expect(await stateOf(home, 'pii', 1)).toBe('active');
      expect(home.auditEvents().filter((e) => e.action === 'version.revoked')).toHaveLength(0);
    });

    it('asks nothing again when a rerun finishes a revocation already started', async () => {
      // Prepare: the first run revokes; it cannot finish before the settle window has passed
      const first = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-2', '--yes'], { now: at(1) });

      // Act
      const rerun = await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-2'], { now: at(1, 2) });

      // Assess
      expect(first.code).toBe(5);
      expect(rerun.code).toBe(0);
      expect(await stateOf(home, 'pii', 1)).not.toBe('active');
    });
  });

  describe('tick', () => {
    it('takes the keyring as a positional argument or --keyring, and refuses two different names', async () => {
      // Prepare
      await home.ok(['keyring', 'create', 'ops', '--rotate-every', '90d'], { now: NOW });

      // Act
      const positional = await home.json<TickJson>(['tick', 'pii', '--json', '--at', at(30, 1)]);
      const flag = await home.json<TickJson>(['tick', '--keyring', 'ops', '--json', '--at', at(30, 1)]);
      const both = await home.run(['tick', 'pii', '--keyring', 'ops']);

      // Assess
      expect(positional.keyrings.map((k) => [k.keyring, k.applied.map((t) => t.kind)])).toEqual([['pii', ['create-pending']]]);
      expect(flag.keyrings.map((k) => k.keyring)).toEqual(['ops']);
      expectFailure(both, 2, /keyring given twice/);
    });

    it('reads a relative --at from --now and marks its audit events simulated', async () => {
      // Act
      const r = await home.json<TickJson>(['tick', 'pii', '--at', '+30d1m', '--json'], { now: NOW });

      // Assess
      expect(r.at).toBe(at(30, 1));
      expect(r.keyrings[0]?.applied).toEqual([expect.objectContaining({ kind: 'create-pending', version: 2 })]);
      const created = home.auditEvents().filter((e) => e.action === 'version.created');
      expect(created).toEqual([expect.objectContaining({ at: at(30, 1), simulated: true, recordedAt: expect.any(String) as unknown })]);
    });

    it('refuses a zoneless --at with exit 2', async () => {
      // Act
      const r = await home.run(['tick', '--at', '2030-02-01T00:00:00']);

      // Assess
      expectFailure(r, 2, /--at .*add Z for UTC/);
    });
  });

  describe('rotate --json', () => {
    it('prints the pending version, and says when one already propagates', async () => {
      // Act
      const first = await home.json<Record<string, unknown>>(['rotate', 'pii', '--json'], { now: at(1) });
      const second = await home.json<Record<string, unknown>>(['rotate', 'pii', '--json'], { now: at(1, 1) });

      // Assess
      expect(first).toEqual({ keyring: 'pii', status: 'created', version: 2, state: 'pending' });
      expect(second).toEqual({ keyring: 'pii', status: 'pending-exists', version: 2, state: 'pending' });
    });
  });
});
