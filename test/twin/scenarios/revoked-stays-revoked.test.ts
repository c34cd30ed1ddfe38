/**
 * Scenario "revoked stays revoked" (issue 11), on the deployed-stack twin: version 1 of `pii` is
 * revoked by the operator while a routine sweep of it is still running, and then everyone who
 * could undo the revocation tries:
 *
 * (d) a stale sweep: a routine re-wrap of v1 started before the revocation, one of its batches
 *     arriving after it; at the end no record's data key was made under v1 (origin <= 1), read
 *     back with the application's own role and `inspectEnvelope`;
 * (b) a duplicate compromise report and a duplicate delivery: one ledger mark, one replacement;
 * (a) a function role (rotate's) writes the catalog document back to `active` for v1: KMS still
 *     refuses v1 to the application, key-access creates no grant for it across ticks, and
 *     `status` shows it revoked (every catalog read on AWS overlays the Object Lock ledger);
 * (c) a forged compromise report from a principal not in securityPrincipalArns (the application
 *     role, even with events:PutEvents in its IAM policy): the bus policy denies it, nothing is
 *     revoked;
 * (e) PutKeyPolicy on the keyring key: denied to a principal the key policy does not name (an
 *     account role with kms:*), allowed to the break-glass role; CloudTrail's record of each
 *     reaches the alarm topic through the key-administration rule.
 *
 * Payload shapes: EventBridge PutEvents entries
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html),
 * Step Functions StartExecution (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html)
 * with the sweep's input, the Distributed Map batch the reencrypt worker receives (ItemBatcher:
 * `{ BatchInput, Items }`, https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html),
 * KMS GetKeyPolicy / PutKeyPolicy (https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html),
 * CloudTrail's "AWS API Call via CloudTrail" events on EventBridge
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetKeyPolicyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { inspectEnvelope } from '../../../shared/envelope/inspect-envelope';
import { recordContext } from '../../../shared/reencrypt/dependencies';
import type { Catalog } from '../../../shared/catalog/model';
import type { PolicyDocument, RequestLogEntry, TwinRole } from '../world';
import { RECORD_BUCKET, RECORD_PREFIX, roleArn, standUpRevocation, type RevocationWorld } from './revocation-setup';
import { auditOf, expectDeniedDuring, readAllBack, settleRevocation, snapshotEnvelopes, writeRecords, type Expected } from './revocation-steps';

jest.setTimeout(900_000);

const REASON = 'SEC-77 key found in a paste site';
const REVOKE_ARGV = ['revoke', 'pii', '--version', '1', '--reason', REASON, '--yes'];
const EVENT_ID = /revocation requested: event (\S+) on bus (\S+);/;
/** The break-glass role of the platform team (props breakGlassRoleArn). */
const BREAK_GLASS = 'rekey-break-glass';
/** An account role with full KMS rights by IAM: the key policies name it nowhere. */
const KMS_ADMIN = 'account-kms-admin';
/** Starts the routine sweep (docs/operations.md: an operator starts the sweep state machine). */
const SWEEP_RUNNER = 'sweep-runner';
const RECORDS = 12;
const MINUTE = 60_000;

const kmsEverything: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] };

/** Every record's stored envelope, read with the application's own role (its S3 permissions). */
async function recordsAsApp(w: RevocationWorld): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const listed = await w.app.s3.send(new ListObjectsV2Command({ Bucket: RECORD_BUCKET, Prefix: RECORD_PREFIX }));
  for (const o of listed.Contents ?? []) {
    const got = await w.app.s3.send(new GetObjectCommand({ Bucket: RECORD_BUCKET, Key: o.Key }));
    out.set((o.Key ?? '').slice(RECORD_PREFIX.length), Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
  }
  return out;
}

/** Versions of every revocation mark object of `keyring` in the ledger (escrow bucket, Object Lock), read as admin. */
async function ledgerObjects(w: RevocationWorld, keyring: string): Promise<string[]> {
  const listed = await w.admin.s3.send(new ListObjectVersionsCommand({ Bucket: w.twin.world.outputs.EscrowBucket, Prefix: `revocations/${keyring}/` }));
  return (listed.Versions ?? []).map((v) => v.Key ?? '').sort();
}

describe('scenario: revoked stays revoked', () => {
  let w: RevocationWorld;
  let plaintexts: Map<string, string>;
  let before: Map<string, Buffer>;
  let eventId = '';
  let catalogKey = '';
  const expected: Expected = { denied: new Set<RequestLogEntry>() };
  const started = Date.now();
  const role = (name: string): TwinRole => w.twin.role(name);

  beforeAll(async () => {
    w = await standUpRevocation({
      context: { breakGlassRoleArn: roleArn(BREAK_GLASS) },
      roles: [
        { name: BREAK_GLASS, policies: [] },
        { name: KMS_ADMIN, policies: [kmsEverything] },
        { name: SWEEP_RUNNER, policies: [] },
      ],
    });
    const sweepArn = w.twin.world.outputs.SweepStateMachineArn ?? '';
    role(SWEEP_RUNNER).policies.push({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'states:StartExecution', Resource: sweepArn }] });
    catalogKey = `${w.twin.world.outputs.CatalogPrefix ?? ''}pii.json`;
    plaintexts = await writeRecords(w, RECORDS);
    before = await snapshotEnvelopes(w, plaintexts);
    expect((await w.twin.cli(['rotate', 'pii', '--reason', 'scheduled'], w.operator)).code).toBe(0);
    // pii's propagation is 15 min: the next grace-period run activates version 2.
    await w.twin.advance(20 * MINUTE);
    expect((await w.catalog()).versions.map((v) => [v.version, v.state])).toEqual([[1, 'rotating'], [2, 'active']]);
  });
  afterAll(async () => {
    await w?.close();
    console.log(`revoked-stays-revoked scenario wall time ${Date.now() - started} ms`);
  });

  it('(d) a stale sweep: a routine re-wrap of v1 started before the revocation leaves no record with a data key from v1', async () => {
    const sweepArn = w.twin.world.outputs.SweepStateMachineArn ?? '';
    const input = { keyring: 'pii', version: 1, bucket: RECORD_BUCKET, prefix: RECORD_PREFIX, mode: 'rewrap' };
    const sfn = new SFNClient({ ...w.twin.clientConfig(role(SWEEP_RUNNER)), maxAttempts: 1 });
    try {
      // The routine sweep starts (its execution runs in the background) ...
      const execution = await sfn.send(new StartExecutionCommand({ stateMachineArn: sweepArn, name: 'routine-pii-v1', input: JSON.stringify(input) }));
      expect(execution.executionArn).toBeDefined();
      // ... and the operator revokes v1 while it runs.
      const res = await w.twin.cli(REVOKE_ARGV, w.operator);
      expect(res).toMatchObject({ code: 0, stderr: `rekey: acted on stack ${w.twin.world.stackName} in ${w.twin.world.region}\n` });
      eventId = EVENT_ID.exec(res.stdout)?.[1] ?? '';
      expect(eventId).not.toBe('');
      // A batch of the routine execution that Step Functions hands out only now, with the input
      // computed before the revocation (mode rewrap, version 1), for every record.
      const stale = await w.twin.runtime.invokeSync(w.twin.fn('reencrypt').arn, { BatchInput: input, Items: [...plaintexts.keys()].map((id) => ({ Key: `${RECORD_PREFIX}${id}` })) });
      expect(stale.functionError).toBeUndefined();
      const results = (stale.payload as { results: { key: string; status: string }[] }).results;
      expect(results).toHaveLength(RECORDS);
      // revoke's retry (Lambda's async retry, a minute later) re-counts after the catalog cache lifetime.
      await settleRevocation(w, eventId, REVOKE_ARGV);
      expect(w.twin.stepFunctions.describeExecution(execution.executionArn ?? '').status).toBe('SUCCEEDED');
    } finally {
      sfn.destroy();
    }
    // Every record, as the application's role reads it: data key created after v1, body re-encrypted.
    const stored = await recordsAsApp(w);
    expect([...stored.keys()].sort()).toEqual([...plaintexts.keys()].sort());
    for (const [id, envelope] of stored) {
      const header = inspectEnvelope(envelope);
      expect([id, header.originVersion > 1, header.version > 1]).toEqual([id, true, true]);
      const old = before.get(id) ?? Buffer.alloc(0);
      expect(envelope.subarray(header.headerLength).equals(old.subarray(inspectEnvelope(old).headerLength))).toBe(false);
    }
    const catalog = await w.catalog();
    expect(catalog.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(catalog.versions.find((v) => v.version === 1)).toMatchObject({ revokedReason: REASON, revokedAt: expect.any(String) });
    expect(['revoked', 'disabled']).toContain(catalog.versions[0]?.state);
    expect(catalog.versions.filter((v) => v.state === 'active').map((v) => v.version)).toEqual([3]);
    await readAllBack(w, plaintexts, 3);
    // Who revoked: the operator's IAM principal (STS), in the compromise event and the audit.
    const audit = auditOf(w, eventId);
    expect(audit.compromise.detail).toMatchObject({ keyring: 'pii', version: 1, reason: REASON, requestedBy: w.operator.arn });
    expect(audit.actions).toContain('revocation.completed:1');
    await expectDeniedDuring(w, expected, () => w.unwrapAsApp(1), 'AccessDeniedException');
  });

  it('(b) a duplicate compromise report and a duplicate delivery: one ledger mark, one replacement version', async () => {
    expect(await ledgerObjects(w, 'pii')).toEqual(['revocations/pii/1.json']);
    const versionsBefore = (await w.catalog()).versions.map((v) => `${v.version}:${v.state}`);
    const again = await w.twin.cli(REVOKE_ARGV, w.operator);
    expect(again.code).toBe(0);
    const second = EVENT_ID.exec(again.stdout)?.[1] ?? '';
    expect(second).not.toBe(eventId);
    // EventBridge delivers at least once: the first event reaches revoke again.
    const redelivered = await w.twin.runtime.invokeAsync(w.twin.fn('revoke').arn, auditOf(w, eventId).compromise);
    await w.twin.settle();
    expect(redelivered.succeeded).toBe(true);
    expect((await w.catalog()).versions.map((v) => `${v.version}:${v.state}`)).toEqual(versionsBefore);
    expect(await ledgerObjects(w, 'pii')).toEqual(['revocations/pii/1.json']);
    // Each report runs the idempotent sequence again, by the same operator: nothing revoked anew,
    // nothing left to re-encrypt, complete at once.
    const answers = auditOf(w, second).events;
    expect(answers.map((e) => e.detail.action).filter((a) => a === 'revocation.completed')).toHaveLength(2);
    expect(answers.map((e) => e.detail.action).filter((a) => a.startsWith('version.'))).toEqual([]);
    expect(answers.filter((e) => e.detail.action === 'revocation.swept').map((e) => e.detail.details?.done)).toEqual([0, 0]);
  });

  it('(a) rotate\'s role writes the catalog back to active for v1: KMS still refuses v1, key-access grants nothing for it, status shows it revoked', async () => {
    const rotateRole = w.twin.world.roles.get(w.twin.fn('rotate').roleArn);
    expect(rotateRole).toBeDefined();
    const s3 = new S3Client({ ...w.twin.clientConfig(rotateRole as TwinRole), forcePathStyle: true, maxAttempts: 1 });
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: w.twin.world.outputs.CatalogBucket, Key: catalogKey }));
      const doc = JSON.parse(await (got.Body as { transformToString(): Promise<string> }).transformToString()) as Catalog;
      // The edit an attacker holding the role would make: v1 active again, its revocation erased.
      const edited = {
        ...doc,
        versions: doc.versions.map((v) => {
          if (v.version !== 1) return v.state === 'active' ? { ...v, state: 'rotating' } : v;
          const { revokedAt: _r, revokedReason: _rr, disabledAt: _d, ...rest } = v as typeof v & { disabledAt?: string };
          return { ...rest, state: 'active' };
        }),
      };
      const from = w.twin.world.requestLog.length;
      await s3.send(new PutObjectCommand({ Bucket: w.twin.world.outputs.CatalogBucket, Key: catalogKey, Body: JSON.stringify(edited), ContentType: 'application/json' }));
      // The write itself goes through: the role may write the catalog (that is the point).
      expect(w.twin.world.requestLog.slice(from).filter((r) => r.action === 's3:PutObject').map((r) => r.allowed)).toEqual([true]);
    } finally {
      s3.destroy();
    }
    const grantsFrom = w.twin.world.requestLog.length;
    // The CatalogWritten rule runs key-access now; its schedule every 10 minutes over three hours.
    for (let tick = 0; tick < 3; tick++) {
      await w.twin.advance(60 * MINUTE);
      expect(await w.appGrantVersions()).not.toContain('1');
      await expectDeniedDuring(w, expected, () => w.unwrapAsApp(1), 'AccessDeniedException');
    }
    const created = w.twin.world.requestLog.slice(grantsFrom).filter((r) => r.action === 'kms:CreateGrant' && r.allowed);
    expect(created.map((r) => `${r.caller} ${r.resources.join(',')}`)).toEqual([]);
    // The application, restarted (it reads the edited document), still cannot read a v1 envelope: KMS says no.
    const fresh = w.app.restart();
    try {
      const [id, old] = [...before.entries()][0] ?? ['', Buffer.alloc(0)];
      const from = w.twin.world.requestLog.length;
      await expect(fresh.envelopes.decrypt(old, { context: recordContext(id), purpose: 'read' })).rejects.toThrow();
      for (const d of w.twin.world.requestLog.slice(from).filter((r) => !r.allowed)) expected.denied.add(d);
    } finally {
      fresh.s3.destroy();
      fresh.kms.destroy();
    }
    // The operator's status reads the catalog through the ledger: v1 is revoked, not active.
    const status = await w.twin.cli(['status', 'pii', '--json'], w.operator);
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout) as { keyrings: { versions: { version: number; state: string }[] }[] };
    const v1 = shown.keyrings[0]?.versions.find((v) => v.version === 1);
    expect(v1?.state).toBe('revoked');
    expect(shown.keyrings[0]?.versions.filter((v) => v.state === 'active').map((v) => v.version)).not.toContain(1);
  });

  it('(c) a forged compromise report from the application role is denied by the bus policy, and nothing is revoked', async () => {
    // Even an IAM policy that allows PutEvents on the bus does not help a principal the stack does not list.
    w.appRole.policies.push({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: '*' }] });
    const opsBefore = JSON.stringify((await w.twin.cli(['status', 'ops', '--json'], w.operator)).stdout);
    const events = new EventBridgeClient({ ...w.twin.clientConfig(w.appRole), maxAttempts: 1 });
    try {
      const deliveries = w.twin.bus.deliveries.length;
      const from = w.twin.world.requestLog.length;
      const entry = { Source: 'rekey', DetailType: 'Key Version Compromised', EventBusName: w.twin.world.outputs.EventBusName, Detail: JSON.stringify({ keyring: 'ops', version: 1, reason: 'forged', requestedBy: w.operator.arn }) };
      await expect(events.send(new PutEventsCommand({ Entries: [entry] }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      const denied = w.twin.deniedRequests().filter((d) => w.twin.world.requestLog.indexOf(d) >= from);
      expect(denied.map((d) => `${d.caller} ${d.action}`)).toEqual([`${w.appRole.arn} events:PutEvents`]);
      expect(denied[0]?.reason).toContain('with an explicit deny in a resource-based policy (event bus policy)');
      for (const d of denied) expected.denied.add(d);
      await w.twin.settle();
      expect(w.twin.bus.deliveries.length).toBe(deliveries);
    } finally {
      events.destroy();
    }
    expect(await ledgerObjects(w, 'ops')).toEqual([]);
    expect(JSON.stringify((await w.twin.cli(['status', 'ops', '--json'], w.operator)).stdout)).toBe(opsBefore);
  });

  let adminAlarms: () => string[] = () => [];

  it('(e) PutKeyPolicy: denied to an account role the key policy does not name, allowed to the break-glass role; the alarm rule sends both to the alarm topic', async () => {
    const piiKey = (JSON.parse(w.twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>).pii ?? '';
    const topic = w.twin.world.outputs.AlarmTopicArn ?? '';
    expect(topic).toMatch(/^arn:aws:sns:/);
    type Call = { eventName?: string; errorCode?: string; userIdentity?: { sessionContext?: { sessionIssuer?: { arn?: string } } } };
    const line = (c: Call | undefined): string => `${c?.eventName ?? '?'} ${c?.userIdentity?.sessionContext?.sessionIssuer?.arn ?? '?'} ${c?.errorCode ?? 'ok'}`;
    // What CloudTrail recorded, and what the key-administration rule delivered where (with its outcome).
    const recorded = (from: number): string[] => w.twin.cloudTrail.records.slice(from).filter((r) => r.eventName === 'PutKeyPolicy').map((r) => line(r as Call));
    const alarmed = (from: number): string[] =>
      w.twin.bus.deliveries
        .slice(from)
        .filter((d) => d.rule.includes('KeyAdministrationCalls'))
        .map((d) => `${line((d.payload as { detail?: Call }).detail)} -> ${d.targetArn === topic ? 'alarm topic' : d.targetArn} ${d.outcome}${d.error === undefined ? '' : ` (${d.error.message})`}`);
    const glass = new KMSClient({ ...w.twin.clientConfig(role(BREAK_GLASS)), maxAttempts: 1 });
    const admin = new KMSClient({ ...w.twin.clientConfig(role(KMS_ADMIN)), maxAttempts: 1 });
    try {
      const current = (await glass.send(new GetKeyPolicyCommand({ KeyId: piiKey, PolicyName: 'default' }))).Policy ?? '';
      expect(JSON.parse(current)).toHaveProperty('Statement');
      const from = w.twin.bus.deliveries.length;
      const trailFrom = w.twin.cloudTrail.records.length;
      const denied = await expectDeniedDuring(w, expected, () => admin.send(new PutKeyPolicyCommand({ KeyId: piiKey, PolicyName: 'default', Policy: current })), 'AccessDeniedException');
      expect(denied.map((d) => `${d.caller} ${d.action}`)).toEqual([`${role(KMS_ADMIN).arn} kms:PutKeyPolicy`]);
      expect(denied[0]?.reason).toContain('because no resource-based policy allows the kms:PutKeyPolicy action');
      // The break-glass role puts the same policy back (an allowed administrative call, still alarmed).
      await glass.send(new PutKeyPolicyCommand({ KeyId: piiKey, PolicyName: 'default', Policy: current }));
      await w.twin.settle();
      const calls = [`PutKeyPolicy ${role(BREAK_GLASS).arn} ok`, `PutKeyPolicy ${role(KMS_ADMIN).arn} AccessDeniedException`].sort();
      expect(recorded(trailFrom).sort()).toEqual(calls);
      // The key-administration rule matches both CloudTrail events and targets the alarm topic.
      expect(alarmed(from).map((a) => a.replace(/ -> alarm topic .*$/, ' -> alarm topic')).sort()).toEqual(calls.map((c) => `${c} -> alarm topic`));
      adminAlarms = () => alarmed(from);
    } finally {
      glass.destroy();
      admin.destroy();
    }
  });

  it('(e) the alarm topic receives both key-administration alarms', () => {
    expect(adminAlarms().map((a) => a.replace(/^.* -> /, '')).sort()).toEqual(['alarm topic delivered', 'alarm topic delivered']);
  });

  it('ends with every record readable under v3 and none moved to v1, no unexpected denial, background error or lost event', async () => {
    // The application still reads the edited catalog document (v1 "active"): every record reads,
    // and its lazy re-wrap toward v1 fails, because KMS refuses v1.
    const app = w.app.restart();
    const from = w.twin.world.requestLog.length;
    try {
      for (const [id, plaintext] of plaintexts) {
        const read = await app.records.get(id);
        expect([id, read.plaintext.toString(), read.version, read.rewrap === 'rewrapped']).toEqual([id, plaintext, 3, false]);
      }
    } finally {
      app.s3.destroy();
      app.kms.destroy();
    }
    const refused = w.twin.world.requestLog.slice(from).filter((r) => !r.allowed);
    expect(refused.every((r) => r.caller === w.appRole.arn && r.action === 'kms:Decrypt')).toBe(true);
    for (const d of refused) expected.denied.add(d);
    for (const [id, envelope] of await recordsAsApp(w)) expect([id, inspectEnvelope(envelope).version, inspectEnvelope(envelope).originVersion]).toEqual([id, 3, 3]);
    const { twin } = w;
    const show = (d: RequestLogEntry): string => `${d.caller} ${d.action} ${d.resources.join(',')}: ${d.reason ?? ''}`;
    expect(twin.deniedRequests().filter((d) => !expected.denied.has(d)).map(show)).toEqual([]);
    expect(twin.backgroundErrors).toEqual([]);
    expect(twin.runtime.lostEvents).toEqual([]);
  });
});
