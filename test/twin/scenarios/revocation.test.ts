/**
 * Scenario 3, emergency revocation on the deployed-stack twin. A platform team deploys with an
 * application role for `pii` and an operator role (docs/deploy.md "10. Operator roles"), the
 * application writes records under version 1, a rotation adds version 2, and then the operator
 * runs `rekey --aws revoke pii --version 1` (docs/deploy.md "5. Emergency revocation"). KMS itself
 * must refuse version 1 to the application from then on (grants revoked, and kept revoked across
 * schedules and a redeploy), every record must be re-encrypted under a fresh data key (inline
 * sweep, or the Distributed Map for a larger target), version 1 stays `revoked` (disabling waits
 * for the lifecycle's evidence: the quiet period), and the audit archive must hold every step,
 * each by the operator's IAM principal (the CLI's STS identity, sent as `detail.requestedBy`).
 */
import { recordContext } from '../../../shared/reencrypt/dependencies';
import { RECORD_PREFIX, standUpRevocation, revocationContext, type RevocationWorld } from './revocation-setup';
import { auditOf, expectDeniedDuring, expectRecordsReencrypted, nothingUnexpected, readAllBack, settleRevocation, snapshotEnvelopes, writeRecords, type Expected } from './revocation-steps';

jest.setTimeout(600_000);

const HOUR = 3_600_000;
const REASON = 'SEC-42 key exposed';
const REVOKE_ARGV = ['revoke', 'pii', '--version', '1', '--reason', REASON, '--yes'];
const EVENT_ID = /revocation requested: event (\S+) on bus (\S+);/;

describe('emergency revocation, swept inline by the revoke function', () => {
  let w: RevocationWorld;
  let before: Map<string, Buffer>;
  let plaintexts: Map<string, string>;
  let eventId = '';
  const expected: Expected = { denied: new Set() };

  beforeAll(async () => {
    w = await standUpRevocation();
    plaintexts = await writeRecords(w, 8);
    before = await snapshotEnvelopes(w, plaintexts);
    const rotated = await w.twin.cli(['rotate', 'pii', '--reason', 'scheduled drill', '--json'], w.operator);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ status: 'created', version: 2 });
    // pii's propagation is 15 min: the next grace-period run activates version 2.
    await w.twin.advance(20 * 60_000);
  });
  afterAll(async () => {
    await w?.close();
  });

  it('starts from v1 rotating and v2 active, every record on v1, the app holding grants for both', async () => {
    expect((await w.catalog()).versions.map((v) => [v.version, v.state])).toEqual([[1, 'rotating'], [2, 'active']]);
    for (const envelope of before.values()) expect(w.app.envelopes.inspect(envelope).version).toBe(1);
    expect(await w.appGrantVersions()).toEqual(['1', '2']);
    // The same call that must fail after the revocation succeeds now.
    await expect(w.unwrapAsApp(1)).resolves.toBeUndefined();
  });

  it('revoke goes through the bus policy and the Key Version Compromised rule to revoke and key-access', async () => {
    const seen = w.twin.bus.deliveries.length;
    const res = await w.twin.cli(REVOKE_ARGV, w.operator);
    expect(res.stderr).toBe(`rekey: acted on stack ${w.twin.world.stackName} in ${w.twin.world.region}\n`);
    expect(res.code).toBe(0);
    const match = EVENT_ID.exec(res.stdout);
    eventId = match?.[1] ?? '';
    expect(match?.[2]).toBe(w.twin.world.outputs.EventBusName);
    // The operator's PutEvents, authorized by its identity policy and the bus policy.
    expect(w.twin.world.requestLog.filter((r) => r.caller === w.operator.arn && r.action === 'events:PutEvents').map((r) => r.allowed)).toEqual([true]);
    const mine = w.twin.bus.deliveries.slice(seen).filter((d) => d.eventId === eventId);
    expect(mine.map((d) => [d.rule.includes('KeyVersionCompromised'), d.targetArn, d.outcome]).sort()).toEqual(
      [
        [true, w.twin.fn('key-access').arn, 'delivered'],
        [true, w.twin.fn('revoke').arn, 'delivered'],
      ].sort(),
    );
    expect(w.twin.runtime.logLines(w.twin.fn('revoke').name).join('\n')).toContain('key version revoked');
    // The compromise event names the operator's role (STS GetCallerIdentity, as aws:PrincipalArn reads it).
    expect(auditOf(w, eventId).compromise.detail).toMatchObject({ requestedBy: w.operator.arn });
    await settleRevocation(w, eventId, REVOKE_ARGV);
  });

  it('KMS refuses the application the revoked version, and only that one', async () => {
    const denied = await expectDeniedDuring(w, expected, () => w.unwrapAsApp(1), 'AccessDeniedException');
    expect(denied.map((d) => [d.caller, d.action, d.status])).toContainEqual([w.appRole.arn, 'kms:Decrypt', 400]);
    expect(denied.every((d) => /grant/.test(d.reason ?? ''))).toBe(true);
    await expect(w.unwrapAsApp(2)).resolves.toBeUndefined();
    await expect(w.unwrapAsApp(3)).resolves.toBeUndefined();
    expect(await w.appGrantVersions()).toEqual(['2', '3']);
  });

  it('re-encrypted every record under the new active version with a fresh data key', async () => {
    await expectRecordsReencrypted(w, before, 3);
    // revoke's own count (dimensions keyring + version; the worker's batches carry keyring only).
    // The first attempt re-encrypted them all; the retry that completed the revocation found nothing left.
    const done = w.twin.metrics.all().filter((m) => m.name === 'SweepItemsDone' && m.dimensions.keyring === 'pii' && m.dimensions.version === '1');
    expect(done[0]?.value).toBe(before.size);
    expect(done.reduce((a, m) => a + m.value, 0)).toBe(before.size);
  });

  it('leaves version 1 revoked for the reason given (disabled only after the quiet period); status shows it to the operator', async () => {
    const v = await w.catalog();
    expect(v.versions.map((x) => [x.version, x.state])).toEqual([[1, 'revoked'], [2, 'rotating'], [3, 'active']]);
    expect(v.versions[0]).toMatchObject({ revokedReason: REASON, revokedAt: expect.any(String) });
    const status = await w.twin.cli(['status', 'pii', '--json'], w.operator);
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout) as { keyrings: { versions: { version: number; state: string }[] }[] };
    expect(shown.keyrings[0]?.versions.map((x) => `${x.version}:${x.state}`)).toEqual(['1:revoked', '2:rotating', '3:active']);
  });

  it('the app reads every record back, and refuses the v1 ciphertext S3 still keeps in old object versions', async () => {
    await readAllBack(w, plaintexts, 3);
    const fresh = w.app.restart();
    const [id, old] = [...before.entries()][0] ?? ['', Buffer.alloc(0)];
    await expect(fresh.envelopes.decrypt(old, { context: recordContext(id), purpose: 'read' })).rejects.toMatchObject({ name: 'RevokedVersionError', version: 1 });
    fresh.s3.destroy();
    fresh.kms.destroy();
  });

  it('audits every step in the archive, in order, all by the operator who reported the compromise', () => {
    const { compromise, actor, actions, events } = auditOf(w, eventId);
    expect(compromise).toMatchObject({ source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'pii', version: 1, reason: REASON, requestedBy: w.operator.arn } });
    expect(actor).toBe(w.operator.arn);
    // The first attempt: the ledger mark first, then the revocation, the re-encryption, the count.
    expect(actions.slice(0, 10)).toEqual([
      'revocation.marked:1',
      'version.revoked:1',
      'version.activated:3',
      'revocation.revoked:1',
      'revocation.keys-invalidated:1',
      'revocation.cache-purged:1',
      'revocation.swept:1',
      'sweep.completed:1',
      'revocation.copies-purged:1',
      'revocation.verified:1',
    ]);
    // Counted within the catalog cache lifetime: not final yet; the retry's count is.
    expect(actions[10]).toBe('revocation.incomplete:1');
    expect(events[10]?.detail.details).toMatchObject({ pending: 'settling', remaining: 0 });
    expect(actions[actions.length - 1]).toBe('revocation.completed:1');
    expect(actions.filter((a) => a === 'version.revoked:1' || a === 'version.activated:3')).toHaveLength(2);
    expect(events.find((e) => e.detail.action === 'revocation.swept')?.detail.details).toMatchObject({ done: before.size, failed: 0, remaining: 0 });
    expect(events.filter((e) => e.detail.action === 'revocation.verified').pop()?.detail.details).toMatchObject({ remaining: 0 });
  });

  it('a duplicate compromise report, or a duplicate delivery of the same event, changes nothing', async () => {
    const catalogBefore = JSON.stringify((await w.catalog()).versions);
    const stored = await snapshotEnvelopes(w, plaintexts);
    const from = w.twin.world.requestLog.length;
    const again = await w.twin.cli(REVOKE_ARGV, w.operator);
    expect(again.code).toBe(0);
    const second = EVENT_ID.exec(again.stdout)?.[1] ?? '';
    expect(second).not.toBe(eventId);
    // EventBridge delivers at least once: the same event may reach both targets twice.
    const original = auditOf(w, eventId).compromise;
    const redelivered = await Promise.all([w.twin.runtime.invokeAsync(w.twin.fn('revoke').arn, original), w.twin.runtime.invokeAsync(w.twin.fn('key-access').arn, original)]);
    await w.twin.settle();
    expect(redelivered.map((o) => o.succeeded)).toEqual([true, true]);
    expect(JSON.stringify((await w.catalog()).versions)).toBe(catalogBefore);
    for (const [id, envelope] of await snapshotEnvelopes(w, plaintexts)) expect(envelope.equals(stored.get(id) ?? Buffer.alloc(0))).toBe(true);
    expect(await w.appGrantVersions()).toEqual(['2', '3']);
    // Not even a revoke-and-recreate of the other versions' grants, nor a record write.
    // (The ledger's conditional put of the mark, refused with 412 because the first mark stands, is no write.)
    const ledgerMark = `arn:aws:s3:::${w.twin.world.outputs.EscrowBucket ?? ''}/revocations/`;
    const writes = w.twin.world.requestLog
      .slice(from)
      .filter((r) => ['kms:CreateGrant', 'kms:RevokeGrant', 'kms:GenerateDataKeyWithoutPlaintext', 's3:PutObject'].includes(r.action) && !r.resources.some((x) => x.startsWith(ledgerMark)));
    expect(writes.map((r) => `${r.action} ${r.resources.join(',')}`)).toEqual([]);
    // The second report and the redelivered first one: each runs the idempotent sequence again (by
    // the same operator), finds nothing to re-encrypt, revokes nothing anew, and completes.
    const answers = auditOf(w, second);
    expect(answers.actions.filter((a) => a === 'revocation.completed:1')).toHaveLength(2);
    expect(answers.actions.filter((a) => a.startsWith('version.'))).toEqual([]);
    expect(answers.events.filter((e) => e.detail.action === 'revocation.swept').map((e) => e.detail.details?.done)).toEqual([0, 0]);
  });

  it('keeps the grants revoked across three hours of schedules and catalog writes', async () => {
    const from = w.twin.clock.now();
    const seen = w.twin.bus.deliveries.length;
    await w.twin.advance(3 * HOUR);
    const backstops = w.twin.scheduler.fired.filter((f) => f.at > from && f.target === w.twin.fn('key-access').arn);
    expect(backstops.length).toBe(18);
    expect(backstops.every((f) => f.outcome === 'delivered')).toBe(true);
    const written = w.twin.bus.deliveries.slice(seen).filter((d) => d.rule.includes('CatalogWritten'));
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((d) => d.outcome === 'delivered')).toBe(true);
    expect(await w.appGrantVersions()).toEqual(['2', '3']);
    await expectDeniedDuring(w, expected, () => w.unwrapAsApp(1), 'AccessDeniedException');
    // The app instance that wrote the records under v1: its caches have expired, it refuses v1 too.
    const [id, old] = [...before.entries()][1] ?? ['', Buffer.alloc(0)];
    await expect(w.app.envelopes.decrypt(old, { context: recordContext(id), purpose: 'read' })).rejects.toMatchObject({ name: 'RevokedVersionError', version: 1 });
  });

  it('keeps the grants revoked across a redeploy with a changed policy', async () => {
    const summary = await w.twin.redeploy(revocationContext({ grace: '5d' }));
    expect(summary.customResourceCalls).toContainEqual(expect.objectContaining({ logicalId: expect.stringContaining('Keyringpii'), requestType: 'Update' }));
    const catalog = await w.catalog();
    expect(catalog.policy.graceSeconds).toBe(5 * 86_400);
    expect(catalog.versions.map((v) => [v.version, v.state])).toEqual([[1, 'revoked'], [2, 'rotating'], [3, 'active']]);
    await w.twin.advance(HOUR);
    expect(await w.appGrantVersions()).toEqual(['2', '3']);
    await expectDeniedDuring(w, expected, () => w.unwrapAsApp(1), 'AccessDeniedException');
  });

  it('ends with every record readable, no unexpected denial, background error, lost event or alarm', async () => {
    await readAllBack(w, plaintexts, 3);
    nothingUnexpected(w, expected);
  });
});

describe('emergency revocation of the active version, handed to the Distributed Map', () => {
  let w: RevocationWorld;
  let before: Map<string, Buffer>;
  let plaintexts: Map<string, string>;
  const expected: Expected = { denied: new Set() };

  beforeAll(async () => {
    w = await standUpRevocation();
    // REKEY_INLINE_SWEEP_LIMIT (shared/config/env-names.ts) is read by revoke only; the stack keeps
    // the default 1000. A test knob, not a platform-team step: 6 records > 2 send the target to the map.
    w.twin.fn('revoke').environment.REKEY_INLINE_SWEEP_LIMIT = '2';
    plaintexts = await writeRecords(w, 6);
    before = await snapshotEnvelopes(w, plaintexts);
  });
  afterAll(async () => {
    await w?.close();
  });

  it('revokes at once and re-encrypts through one sweep execution; a re-count after the map completes the revocation', async () => {
    const arn = w.twin.world.outputs.SweepStateMachineArn ?? '';
    const from = w.twin.clock.now();
    const res = await w.twin.cli(REVOKE_ARGV, w.operator);
    expect(res.code).toBe(0);
    const eventId = EVENT_ID.exec(res.stdout)?.[1] ?? '';
    const worker = (name: string): number[] => w.twin.metrics.all().filter((m) => m.name === name && m.timestamp >= from && m.dimensions.keyring === 'pii' && m.dimensions.version === undefined).map((m) => m.value);
    const executions = w.twin.stepFunctions.listExecutionArns(arn);
    expect(executions).toHaveLength(1);
    const run = w.twin.stepFunctions.describeExecution(executions[0] ?? '');
    expect(run.status).toBe('SUCCEEDED');
    expect(JSON.parse(run.input)).toMatchObject({ keyring: 'pii', version: 1, mode: 'reencrypt', prefix: RECORD_PREFIX });
    // Handed off: revoked (KMS already refuses it), not yet disabled.
    expect((await w.catalog()).versions.map((v) => [v.version, v.state])).toEqual([[1, 'revoked'], [2, 'active']]);
    await expectDeniedDuring(w, expected, () => w.unwrapAsApp(1), 'AccessDeniedException');
    // The app refuses the v1 ciphertext its bucket still keeps in older object versions.
    const [id, old] = [...before.entries()][0] ?? ['', Buffer.alloc(0)];
    const fresh = w.app.restart();
    await expect(fresh.envelopes.decrypt(old, { context: recordContext(id), purpose: 'read' })).rejects.toMatchObject({ name: 'RevokedVersionError', version: 1 });
    fresh.s3.destroy();
    fresh.kms.destroy();
    await expectRecordsReencrypted(w, before, 2);
    // The map's batches went to the reencrypt worker (its EMF counts), none inline.
    expect(worker('SweepItemsDone').reduce((a, b) => a + b, 0)).toBe(before.size);
    expect(worker('SweepItemsFailed').reduce((a, b) => a + b, 0)).toBe(0);
    expect(auditOf(w, eventId).events.find((e) => e.detail.action === 'revocation.verified')?.detail.details).toMatchObject({ remaining: before.size });

    // Handed to the map, the revocation is not complete until a count finds nothing left under v1.
    const first = auditOf(w, eventId);
    expect(first.actions.slice(0, 4)).toEqual(['revocation.marked:1', 'version.revoked:1', 'version.activated:2', 'revocation.revoked:1']);
    expect(first.actions).toContain('revocation.incomplete:1');
    // Handed off to the sweep (records remain, not a retried error): reported again once it is done.
    await settleRevocation(w, eventId, REVOKE_ARGV, { handedOff: true });
    expect(auditOf(w, eventId).actions).toContain('revocation.completed:1');
    // Revoked, and kept so: disabling waits for the quiet period.
    expect((await w.catalog()).versions.map((v) => [v.version, v.state])).toEqual([[1, 'revoked'], [2, 'active']]);
    expect(await w.appGrantVersions()).toEqual(['2']);
    await readAllBack(w, plaintexts, 2);
    nothingUnexpected(w, expected);
  });
});
