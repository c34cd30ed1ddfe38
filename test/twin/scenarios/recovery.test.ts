/**
 * Recovery as deployed: docs/operations.md "Recover a destroyed version", on the deployed-stack
 * twin. The keyring `drill` opts in to destruction (cdk.json `destroyAfterRetention: true`). An
 * application writes a record under version 1 into its record target and keeps a copy of an
 * envelope of its own outside every place rekey can count (a backup: the issue's "March backup").
 * An operator rotates; the schedules then re-wrap the record, deprecate, disable and, after the
 * retention, destroy version 1, each only on its evidence (no reference left, the quiet period
 * without use reported by CloudTrail → key-use, a verified escrow drill). The backup no longer
 * decrypts. The operator runs the runbook's `rekey --aws` commands under the role docs/deploy.md
 * describes: version 1 comes back `deprecated` with `restoredAt`, key-access grants the
 * application its key again, the backup decrypts, the restore is audited, and nothing is denied.
 *
 * This is the test that would have failed before issue 11: on AWS nothing could put a destroyed
 * version back (the escrow function had no restore; the CLI could only write a key file), and a
 * keyring could not even declare the opt-in in cdk.json.
 */
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import type { CliResult } from '../twin';
import { KEYRING, runbookLines, standUpRecovery, type RecoveryWorld } from './recovery-setup';

jest.setTimeout(900_000);

const DAY = 86_400_000;
const SECRET = 'DB_PASSWORD=march-backup';

interface StatusJson {
  keyrings: { keyring: string; versions: { version: number; state: string; reasons: string[] }[] }[];
}

describe('recovery: a destroyed version restored from escrow on the deployed stack', () => {
  let w: RecoveryWorld;
  /** The application's backup: an envelope under version 1 that lives outside every record target. */
  let backup: Buffer;
  /** When each state of version 1 was first seen (daily steps). */
  const seen = new Map<string, number>();
  let t0 = 0;
  const started = Date.now();

  const cli = (argv: readonly string[]): Promise<CliResult> => w.twin.cli(argv, w.operator);
  const v1 = async () => (await w.catalog()).versions.find((v) => v.version === 1);
  /** The runbook's `rekey --aws` lines (without `rekey --aws`): run as written. */
  const AWS_LINES = runbookLines()
    .filter((l) => l[0] === '--aws')
    .map((l) => l.slice(1));

  beforeAll(async () => {
    w = await standUpRecovery();
    t0 = w.twin.clock.now();
  });
  afterAll(async () => {
    await w?.close();
    console.log(`recovery scenario wall time ${Date.now() - started} ms`);
  });

  it('deploys drill with destruction opted in, version 1 active', async () => {
    const catalog = await w.catalog();
    expect(catalog.policy).toMatchObject({ destroyAfterRetention: true, quietSeconds: 7 * 86_400, retentionSeconds: 30 * 86_400 });
    expect(catalog.versions.map((v) => [v.version, v.state])).toEqual([[1, 'active']]);
  });

  it('the application writes a record and keeps a backup, both under version 1', async () => {
    const app = w.app();
    await app.records.put('order-1', KEYRING, Buffer.from('4111 1111 1111 1111'));
    backup = await app.envelopes.encrypt(KEYRING, Buffer.from(SECRET));
    expect(inspectEnvelope(backup)).toMatchObject({ keyring: KEYRING, version: 1, originVersion: 1 });
    expect((await app.envelopes.decrypt(backup)).plaintext.toString()).toBe(SECRET);
  });

  it('an operator rotates; version 2 takes over after the propagation', async () => {
    const res = await cli(['rotate', KEYRING, '--reason', 'quarterly drill']);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`created version 2 of ${KEYRING} (pending; becomes active after the propagation window)\n`);
    await w.twin.advance(20 * 60_000);
    expect((await w.catalog()).versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'rotating'],
      [2, 'active'],
    ]);
  });

  it('the schedules take version 1 to destroyed, each step on its evidence, the record staying readable', async () => {
    // Daily coalesced steps (every schedule once a day) until version 1 is destroyed, or 90 days.
    while (w.twin.clock.now() < t0 + 90 * DAY) {
      await w.twin.advanceTo(w.twin.clock.now() + DAY, { coalesce: true });
      const state = (await v1())?.state ?? 'missing';
      if (!seen.has(state)) seen.set(state, w.twin.clock.now());
      if (state === 'destroyed') break;
    }
    const at = (state: string): number => seen.get(state) ?? Number.NaN;
    expect([...seen.keys()]).toEqual(['rotating', 'deprecated', 'disabled', 'destroyed']);
    // Deprecated after the grace period (7 d), disabled only after the quiet period (7 d) without
    // use, destroyed only after the retention (30 d) since it was disabled.
    expect(at('deprecated') - t0).toBeGreaterThanOrEqual(7 * DAY);
    expect(at('disabled') - at('deprecated')).toBeGreaterThanOrEqual(0);
    expect(at('disabled') - t0).toBeGreaterThanOrEqual(7 * DAY);
    expect(at('destroyed') - at('disabled')).toBeGreaterThanOrEqual(30 * DAY - DAY);
    const destroyed = await v1();
    expect(destroyed?.wrappedKey).toBeUndefined();
    expect(destroyed?.escrowVerifiedAt).toBeDefined();
    console.log(`drill v1: ${[...seen].map(([state, when]) => `${state} on day ${((when - t0) / DAY).toFixed(2)}`).join(', ')}`);
    // The record in the target was re-wrapped off v1 by the sweeps (header only: its data key still
    // dates from v1), onto a later version (v2, or v3 once the scheduled 30-day rotation ran).
    const app = w.app();
    const stored = await app.store.get('order-1');
    const header = inspectEnvelope(stored?.envelope ?? Buffer.alloc(0));
    expect(header.originVersion).toBe(1);
    expect(header.version).toBeGreaterThan(1);
    expect((await app.records.get('order-1')).plaintext.toString()).toBe('4111 1111 1111 1111');
  });

  it('the backup no longer decrypts, and status shows why', async () => {
    await expect(w.app().envelopes.decrypt(backup)).rejects.toMatchObject({ name: 'VersionUnavailableError', state: 'destroyed' });
    // key-access took the application's grant of v1 away when v1 stopped being readable.
    expect(await w.appGrantVersions()).not.toContain('1');
    // The runbook's "before you start": status and the drill, in AWS mode.
    const status = await cli(['status', KEYRING, '--json', '--all']);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(status.stdout) as StatusJson;
    const catalog = await w.catalog();
    expect(report.keyrings[0]?.versions.map((v) => [v.version, v.state])).toEqual(catalog.versions.map((v) => [v.version, v.state]));
    expect(report.keyrings[0]?.versions[0]).toMatchObject({ version: 1, state: 'destroyed' });
    const drill = await cli(['escrow', 'verify', KEYRING, '--json']);
    expect(drill).toMatchObject({ code: 0, stderr: `rekey: acted on stack ${w.twin.world.stackName} in ${w.twin.world.region}\n` });
    expect(JSON.parse(drill.stdout)).toMatchObject({ ok: true });
  });

  it("runs the runbook's `rekey --aws escrow restore` as the operator: v1 deprecated with restoredAt, audited", async () => {
    // The runbook has exactly one AWS line: the restore.
    expect(AWS_LINES.map((l) => l.slice(0, 2))).toEqual([['escrow', 'restore']]);
    const line = AWS_LINES[0] ?? [];
    expect(line[2]).toBe(KEYRING);
    const before = await v1();
    const restoredAt = w.twin.clock.now();
    // Irreversible: without a terminal the runbook's line needs --yes (and --json for the report).
    const res = await cli([...line, '--yes', '--json']);
    expect(res).toMatchObject({ code: 0, stderr: `rekey: acted on stack ${w.twin.world.stackName} in ${w.twin.world.region}\n` });
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: true, action: 'restore', results: [{ keyring: KEYRING, versions: [{ version: 1, ok: true, restored: true, from: 'destroyed' }] }] });
    const after = await v1();
    expect(after?.state).toBe('deprecated');
    expect(Date.parse(after?.restoredAt ?? '')).toBeGreaterThanOrEqual(restoredAt - 1000);
    expect(after?.wrappedKey).toBeDefined();
    expect(after?.wrappedKey).not.toBe(before?.wrappedKey);
    // Re-wrapped under the keyring's current key: the active version's.
    expect(after?.wrappingKeyId).toBe((await w.catalog()).versions.find((v) => v.state === 'active')?.wrappingKeyId);
    // Audited: version.restored and escrow.restored, with the runbook's reason, by the operator.
    const reason = line[line.indexOf('--reason') + 1];
    const restoredEvents = w.audit().filter((e) => e.detail.version === 1 && ['version.restored', 'escrow.restored'].includes(e.detail.action));
    expect(restoredEvents.map((e) => e.detail.action).sort()).toEqual(['escrow.restored', 'version.restored']);
    // By the operator's IAM role (GetCallerIdentity of the CLI's credentials), not a local user name.
    for (const e of restoredEvents) expect(e.detail).toMatchObject({ reason, actor: w.operator.arn });
    // No key material in the audit trail.
    expect(JSON.stringify(restoredEvents)).not.toContain(after?.wrappedKey ?? '-');
  });

  it('key-access grants the application version 1 again, and the backup decrypts', async () => {
    // The catalog write reaches key-access through the catalog-written rule; the schedule would follow within 10 min.
    await w.twin.settle();
    expect(await w.appGrantVersions()).toContain('1');
    const app = w.app();
    expect((await app.envelopes.decrypt(backup)).plaintext.toString()).toBe(SECRET);
    expect((await app.records.get('order-1')).plaintext.toString()).toBe('4111 1111 1111 1111');
    const status = JSON.parse((await cli(['status', KEYRING, '--json'])).stdout) as StatusJson;
    expect(status.keyrings[0]?.versions[0]).toMatchObject({ version: 1, state: 'deprecated' });
    expect(status.keyrings[0]?.versions.map((v) => [v.version, v.state])).toEqual((await w.catalog()).versions.map((v) => [v.version, v.state]));
  });

  it('running the restore again changes nothing', async () => {
    const generation = (await w.catalog()).generation;
    const res = await cli([...(AWS_LINES[0] ?? []), '--yes', '--json']);
    expect(res).toMatchObject({ code: 0, stderr: `rekey: acted on stack ${w.twin.world.stackName} in ${w.twin.world.region}\n` });
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: true, results: [{ versions: [{ version: 1, restored: false }] }] });
    expect((await w.catalog()).generation).toBe(generation);
  });

  it('ran without denials, background errors or lost events', () => {
    expect(w.twin.deniedRequests().map((d) => `${d.caller} ${d.action} ${d.resources.join(',')}: ${d.reason ?? ''}`)).toEqual([]);
    expect(w.twin.backgroundErrors).toEqual([]);
    expect(w.twin.runtime.lostEvents).toEqual([]);
  });
});
