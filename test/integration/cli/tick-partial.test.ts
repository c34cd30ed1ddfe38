/**
 * `rekey tick` where one keyring fails and another is reconciled: the summary is printed, the
 * exit code is 7 (a partial failure, not bad input), and the other keyring's transition is
 * written. The failure is real: the escrow record a destruction checks is damaged on disk.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestHome, T0, at, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();
const REASON = 'rekey: 1 of 2 keyring(s) failed to reconcile (listed above); the others were reconciled; rerun tick to retry';

interface StatusJson {
  keyrings: Array<{ keyring: string; versions: Array<{ version: number; state: string }> }>;
}

/** The states of every keyring's versions as `status --json` reports them. */
async function states(home: TestHome, now: string): Promise<Record<string, string[]>> {
  const s = await home.json<StatusJson>(['status', '--json', '--all'], { now });
  return Object.fromEntries(s.keyrings.map((k) => [k.keyring, k.versions.map((v) => `v${v.version} ${v.state}`)]));
}

describe('rekey tick with one keyring failing (local mode)', () => {
  let home: TestHome;
  let escrowRecord: string;
  beforeEach(async () => {
    // Prepare: ops has v1 disabled, escrowed and drill-verified, due for destruction at day 14;
    // pii has v2 pending since day 14, due for promotion 10 minutes later.
    home = new TestHome('rekey-tick-partial-');
    await home.ok(['keyring', 'create', 'ops', '--rotate-every', '30d', '--grace', '1d', '--retention', '10d', '--quiet', '1d', '--destroy-after-retention'], { now: NOW });
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
    await home.ok(['rotate', 'ops'], { now: at(1) });
    await home.ok(['tick', '--at', at(1, 11)]);
    await home.ok(['tick', '--at', at(3, 11)]);
    await home.ok(['escrow', 'archive', 'ops'], { now: at(14) });
    await home.ok(['escrow', 'verify', 'ops'], { now: at(14) });
    await home.ok(['rotate', 'pii'], { now: at(14) });
    escrowRecord = join(home.dir, 'escrow', 'ops', '1.json');
  });
  afterEach(() => {
    home.remove();
  });

  it('exits 7 with the summary when the escrow record of the version to destroy is damaged, and promotes the other keyring', async () => {
    // Prepare
    rmSync(escrowRecord);
    writeFileSync(escrowRecord, 'overwritten by a restore script');

    // Act
    const r = await home.run(['tick', '--at', at(14, 11)]);

    // Assess
    expect(r.code).toBe(7);
    expect(r.stdout.toString('utf8')).toBe("ops: failed: escrow record of keyring 'ops' version 1 is corrupt: not JSON\npii: promote v2\n");
    expect(r.stderr).toBe(`rekey: acted on local home ${home.dir}\n${REASON}\n`);
    expect(await states(home, at(14, 12))).toEqual({ ops: ['v1 disabled', 'v2 active'], pii: ['v1 rotating', 'v2 active'] });
    const applied = home.auditEvents().filter((e) => e.action === 'version.activated' || e.action === 'version.destroyed');
    expect(applied.map((e) => `${String(e.action)} ${String(e.keyring)} v${String(e.version)}`)).toEqual(['version.activated ops v2', 'version.activated pii v2']);
  });

  it('exits 7 too when the failure is one a scheduler would retry (the record cannot be read), and says what was written', async () => {
    // Prepare: a folder where the record file should be (EISDIR on read)
    rmSync(escrowRecord);
    mkdirSync(escrowRecord);

    // Act
    const r = await home.run(['tick', '--at', at(14, 11)]);

    // Assess
    expect(r.code).toBe(7);
    expect(r.stdout.toString('utf8')).toBe("ops: failed: cannot read escrow record of keyring 'ops' version 1 (EISDIR)\npii: promote v2\n");
    expect(r.stderr).toBe(`rekey: acted on local home ${home.dir}\n${REASON}\n`);
    expect(await states(home, at(14, 12))).toEqual({ ops: ['v1 disabled', 'v2 active'], pii: ['v1 rotating', 'v2 active'] });
  });

  it('lists the failed keyring with its code and reason in --json, beside the applied transitions of the other', async () => {
    // Prepare
    rmSync(escrowRecord);
    writeFileSync(escrowRecord, '{}');

    // Act
    const r = await home.run(['tick', '--json', '--at', at(14, 11)]);

    // Assess
    expect(r.code).toBe(7);
    const summary = JSON.parse(r.stdout.toString('utf8')) as { failed: number; applied: number; keyrings: Array<{ keyring: string; applied: Array<{ kind: string; version: number }>; error?: { code: string; message: string } }> };
    expect({ failed: summary.failed, applied: summary.applied }).toEqual({ failed: 1, applied: 1 });
    expect(summary.keyrings.map((k) => [k.keyring, k.applied.map((t) => `${t.kind} v${t.version}`), k.error?.code])).toEqual([
      ['ops', [], 'BACKEND'],
      ['pii', ['promote v2'], undefined],
    ]);
    expect(summary.keyrings[0]?.error?.message).toMatch(/^escrow record of keyring 'ops' version 1 is corrupt: field /);
    expect(r.stderr.split('\n').slice(-2)).toEqual([REASON, '']);
  });

  it('exits 0 and destroys at the rerun once the record is back (the rerun the message asks for)', async () => {
    // Prepare: the damage, a failed tick, then the archived record restored from a copy
    const good = readFileSync(escrowRecord);
    rmSync(escrowRecord);
    writeFileSync(escrowRecord, 'x');
    const first = await home.run(['tick', '--at', at(14, 11)]);
    rmSync(escrowRecord);
    writeFileSync(escrowRecord, good, { mode: 0o400 });

    // Act
    const second = await home.run(['tick', '--at', at(14, 12)]);

    // Assess
    expect(first.code).toBe(7);
    expect(second.code).toBe(0);
    expect(second.stdout.toString('utf8')).toBe('ops: destroy v1\npii: nothing due\n');
    expect(await states(home, at(14, 13))).toEqual({ ops: ['v1 destroyed', 'v2 active'], pii: ['v1 rotating', 'v2 active'] });
  });

  it('refuses a named keyring that does not exist with exit 4, not as a partial failure, and changes nothing', async () => {
    // Prepare
    const before = await home.snapshot();

    // Act
    const r = await home.run(['tick', 'nope', '--at', at(14, 11)]);

    // Assess
    expectFailure(r, 4, /unknown keyring 'nope'/);
    expect(await home.snapshot()).toBe(before);
  });
});
