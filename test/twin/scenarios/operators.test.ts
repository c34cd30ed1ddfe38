/**
 * Scenario 5, operators: every `rekey --aws` command works under the operator role
 * docs/deploy.md describes (`operatorRoleArns` + the identity policy the doc gives, parsed from
 * the doc), has its effect on the deployed stack, and hands the operator no key material; a
 * role without the grant is refused by each command with one line and a non-zero exit code,
 * changing nothing.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Catalog } from '../../../shared/catalog/model';
import { extrasOf } from '../standup/standup';
import { Twin, type CliResult } from '../twin';
import { TWIN_ACCOUNT, TWIN_REGION, type PolicyDocument, type RequestLogEntry, type TwinRole } from '../world';
import { adminS3, catalogVersions, createRecordBuckets, deployedValues, operatorPolicyFromDoc, readCatalog } from './operators-setup';
import { KEY_USE_PREFIX } from '../../../shared/vocabulary/key-use-names';
import { CENSUS_PREFIX } from '../../../shared/vocabulary/record-census';
import { REVOCATION_LEDGER_PREFIX } from '../../../infra/parts/storage';

jest.setTimeout(300_000);

const STACK = 'Rekey';
const OPERATOR = 'rekey-operator';
const OUTSIDER = 'not-an-operator';
/** Reads any stack's outputs, nothing else: sees "no such stack" where the operator's scoped policy sees a denial. */
const STACK_READER = 'stack-reader';
const roleArn = (name: string): string => `arn:aws:iam::${TWIN_ACCOUNT}:role/${name}`;
const DAY = 86_400_000;

/** Scheduler fire records of the rotate function for `keyring` since index `from`. */
function rotateFires(twin: Twin, keyring: string, from: number): number {
  const rotate = twin.fn('rotate').arn;
  return twin.scheduler.fired.slice(from).filter((f) => f.target === rotate && f.outcome === 'delivered' && twin.world.schedules.get(f.schedule)?.input === JSON.stringify({ keyring })).length;
}

/** One line of reason on stderr, nothing on stdout. */
function expectRefused(res: CliResult): void {
  expect(res.code).not.toBe(0);
  expect(res.stdout).toBe('');
  const lines = res.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^rekey: /);
}

describe('scenario 5: operators', () => {
  let twin: Twin;
  let operator: TwinRole;
  let outsider: TwinRole;
  let keyrings: string[];
  /** Denials the scenario provokes on purpose, checked one by one. */
  const expectedDenials = new Set<RequestLogEntry>();
  const started = Date.now();

  const cli = (argv: readonly string[], role: TwinRole = operator): Promise<CliResult> => twin.cli(argv, role);
  const keyArn = (keyring: string): string => (JSON.parse(twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>)[keyring] ?? '';
  const kmsAs = (role: TwinRole): KMSClient => new KMSClient({ ...twin.clientConfig(role), maxAttempts: 1 });
  /** The denials recorded since `from` (by index), marked as expected. */
  const deniedSince = (from: number): RequestLogEntry[] => {
    const denied = twin.world.requestLog.slice(from).filter((r) => !r.allowed);
    for (const d of denied) expectedDenials.add(d);
    return denied;
  };

  beforeAll(async () => {
    // The identity policy docs/deploy.md gives an operator role of this account, exactly (its placeholders are known before the deploy).
    const policy = await operatorPolicyFromDoc(0, { region: TWIN_REGION, account: TWIN_ACCOUNT, stack: STACK });
    const describeAny: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: '*' }] };
    twin = await Twin.standUp({
      context: { operatorRoleArns: [roleArn(OPERATOR)] },
      roles: [
        { name: OPERATOR, policies: [policy] },
        { name: OUTSIDER, policies: [policy] },
        { name: STACK_READER, policies: [describeAny] },
      ],
    });
    expect(twin.world.stackName).toBe(STACK);
    operator = twin.role(OPERATOR);
    outsider = twin.role(OUTSIDER);
    await createRecordBuckets(twin);
    keyrings = Object.keys(JSON.parse(twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>).sort();
  });

  afterAll(async () => {
    await twin?.close();
    console.log(`operators scenario wall time ${Date.now() - started} ms`);
  });

  it('status lists every keyring with its versions and states', async () => {
    expect(keyrings).toEqual(['ops', 'pii']);
    const json = await cli(['status', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(json.stdout) as { stack: string; keyrings: { keyring: string; versions: { version: number; state: string }[] }[] };
    expect(report.stack).toBe(twin.world.stackName);
    expect(report.keyrings.map((k) => k.keyring).sort()).toEqual(keyrings);
    for (const k of report.keyrings) {
      const catalog = await readCatalog(twin, k.keyring);
      expect(k.versions.map((v) => [v.version, v.state])).toEqual(catalog.versions.map((v) => [v.version, v.state]));
      expect(k.versions.length).toBeGreaterThan(0);
    }
    const text = await cli(['status']);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    for (const k of report.keyrings) {
      expect(text.stdout).toContain(`keyring ${k.keyring} `);
      for (const v of k.versions) expect(text.stdout).toMatch(new RegExp(`\\n\\s+${v.version}\\s+${v.state}\\s`));
    }
  });

  it('plan shows what the next ticks will do, under the operator role, in text and JSON', async () => {
    const from = twin.world.requestLog.length;
    const json = await cli(['plan', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const plan = JSON.parse(json.stdout) as { stack: string; keyrings: { keyring: string; steps: { kind: string; version: number }[]; versions: { version: number; state: string }[] }[] };
    expect(plan.stack).toBe(twin.world.stackName);
    expect(plan.keyrings.map((k) => k.keyring).sort()).toEqual(keyrings);
    for (const k of plan.keyrings) {
      const catalog = await readCatalog(twin, k.keyring);
      expect(k.versions.map((v) => [v.version, v.state])).toEqual(catalog.versions.map((v) => [v.version, v.state]));
    }
    const text = await cli(['plan', 'pii']);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toContain('keyring pii at ');
    // Read-only: the operator's role reads the catalog, the key-use log and the ledger, and is refused nothing.
    expect(twin.world.requestLog.slice(from).filter((r) => !r.allowed)).toEqual([]);
  });

  it('escrow verify runs the escrow function\'s drill, which passes once the archive ran', async () => {
    // The hourly archive schedules (:02 and :32) escrow every version first (each fires once here).
    await twin.advance(3_600_000, { coalesce: true });
    for (const k of keyrings) expect((await readCatalog(twin, k)).versions.every((v) => v.escrowedAt !== undefined)).toBe(true);
    const escrowName = twin.fn('escrow').name;
    const invocations = twin.runtime.invocationLogs.filter((l) => l.functionName === escrowName).length;
    const drillAt = twin.clock.now();
    const res = await cli(['escrow', 'verify', '--json']);
    expect(res).toMatchObject({ code: 0 });
    // The report of local mode's `escrow verify --json`: one check per version.
    const report = JSON.parse(res.stdout) as { checkedAt: string; ok: boolean; results: { keyring: string; version: number; ok: boolean }[] };
    expect(report.ok).toBe(true);
    expect(report.results.map((r) => `${r.keyring}/${r.version}:${String(r.ok)}`).sort()).toEqual(keyrings.map((k) => `${k}/1:true`));
    const after = twin.runtime.invocationLogs.filter((l) => l.functionName === escrowName);
    expect(after.length).toBe(invocations + 1);
    expect(after[after.length - 1]?.invocationType).toBe('RequestResponse');
    // The drill records what it verified, which is what later lets the lifecycle destroy a version.
    for (const k of keyrings) {
      for (const v of (await readCatalog(twin, k)).versions) expect(Date.parse(v.escrowVerifiedAt ?? '')).toBeGreaterThanOrEqual(drillAt);
    }
  });

  it('gives the operator no key material, but the catalog', async () => {
    const kms = kmsAs(operator);
    const s3 = new S3Client({ ...twin.clientConfig(operator), forcePathStyle: true });
    const admin = adminS3(twin);
    try {
      const from = twin.world.requestLog.length;
      // Reading the catalog works (S3 unwraps the SSE-KMS object key with the ops key for the caller).
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: twin.world.outputs.CatalogBucket, Prefix: twin.world.outputs.CatalogPrefix }));
      expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(keyrings.map((k) => `${twin.world.outputs.CatalogPrefix}${k}.json`));
      const got = await s3.send(new GetObjectCommand({ Bucket: twin.world.outputs.CatalogBucket, Key: `${twin.world.outputs.CatalogPrefix}pii.json` }));
      const catalog = JSON.parse(await (got.Body as { transformToString(): Promise<string> }).transformToString()) as Catalog;
      const v1 = catalog.versions[0];
      expect(v1?.wrappedKey).toBeDefined();
      expect(twin.world.requestLog.slice(from).filter((r) => !r.allowed)).toEqual([]);

      // A version key: Decrypt with its exact context, on its keyring key.
      const denied = twin.world.requestLog.length;
      await expect(kms.send(new DecryptCommand({ KeyId: keyArn('pii'), CiphertextBlob: Buffer.from(v1?.wrappedKey ?? '', 'base64'), EncryptionContext: { keyring: 'pii', version: '1' } }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      // The escrow key: Decrypt of the real escrow record of that version.
      const escrowObjects = await admin.send(new ListObjectsV2Command({ Bucket: twin.world.outputs.EscrowBucket }));
      const recordKey = (escrowObjects.Contents ?? []).map((o) => o.Key ?? '').find((k) => k.includes('pii'));
      expect(recordKey).toBeDefined();
      const recordObject = await admin.send(new GetObjectCommand({ Bucket: twin.world.outputs.EscrowBucket, Key: recordKey }));
      const record = JSON.parse(await (recordObject.Body as { transformToString(): Promise<string> }).transformToString()) as { wrappedKey: string; escrowKeyId: string; version: number };
      await expect(
        kms.send(new DecryptCommand({ KeyId: twin.world.outputs.EscrowKeyArn, CiphertextBlob: Buffer.from(record.wrappedKey, 'base64'), EncryptionContext: { keyring: 'pii', version: String(record.version), purpose: 'escrow' } })),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' });
      // New key material on any keyring key.
      for (const k of keyrings) {
        await expect(kms.send(new GenerateDataKeyCommand({ KeyId: keyArn(k), KeySpec: 'AES_256', EncryptionContext: { keyring: k, version: '99' } }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      }
      const kmsDenials = deniedSince(denied);
      expect(kmsDenials.map((d) => `${d.caller} ${d.action} ${d.resources.join(',')}`).sort()).toEqual(
        [
          `${operator.arn} kms:Decrypt ${keyArn('pii')}`,
          `${operator.arn} kms:Decrypt ${twin.world.outputs.EscrowKeyArn}`,
          ...keyrings.map((k) => `${operator.arn} kms:GenerateDataKey ${keyArn(k)}`),
        ].sort(),
      );
    } finally {
      kms.destroy();
      s3.destroy();
      admin.destroy();
    }
  });

  it('freeze pauses scheduled rotation: past due, the rotation check runs and rotates nothing', async () => {
    const res = await cli(['freeze', 'pii', '--reason', 'incident 42 under investigation']);
    expect(res).toMatchObject({ code: 0, stdout: '' });
    expect(res.stderr).toBe(`froze pii in stack ${twin.world.stackName}\nrekey: acted on stack ${twin.world.stackName} in ${TWIN_REGION}\n`);
    // A second freeze keeps the first reason and says so, writing nothing.
    const again = await cli(['freeze', 'pii', '--reason', 'a later reason', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ stack: twin.world.stackName, keyring: 'pii', frozen: true, changed: false, reason: 'incident 42 under investigation', by: roleArn(OPERATOR) });
    // The CLI's audit event of the freeze reached the bus (and its archive), stamped with the time of the freeze.
    const audit = extrasOf(twin.world).archives.flatMap((a) => twin.bus.archived(a.name)).filter((e) => e.source === 'rekey.audit' && (e.detail as { action?: string }).action === 'keyring.frozen');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ 'detail-type': 'Rekey Audit Event', detail: { keyring: 'pii', reason: 'incident 42 under investigation' } });
    expect(Math.abs(Date.parse(audit[0]?.time ?? '') - twin.clock.now())).toBeLessThan(60_000);
    const frozen = await readCatalog(twin, 'pii');
    // Recorded under the operator's IAM principal (what CloudTrail names), not a local user name.
    expect(frozen.frozen).toMatchObject({ reason: 'incident 42 under investigation', by: roleArn(OPERATOR) });
    const fired = twin.scheduler.fired.length;
    // 31 days: past pii's 30-day rotation; every schedule fires once at the end (coalesced).
    await twin.advance(31 * DAY, { coalesce: true });
    expect(rotateFires(twin, 'pii', fired)).toBeGreaterThan(0);
    const still = await readCatalog(twin, 'pii');
    expect(still.versions.map((v) => v.version)).toEqual([1]);
    expect(still.frozen).toBeDefined();
    // Operators see the freeze (and who set it) in status.
    const status = JSON.parse((await cli(['status', 'pii', '--json'])).stdout) as { keyrings: { keyring: string; frozen?: { reason: string } }[] };
    expect(status.keyrings).toMatchObject([{ keyring: 'pii', frozen: { reason: 'incident 42 under investigation' } }]);
  });

  it('unfreeze: the next rotation check rotates', async () => {
    const res = await cli(['unfreeze', 'pii']);
    expect(res).toMatchObject({ code: 0, stdout: '', stderr: `unfroze pii in stack ${twin.world.stackName}\nrekey: acted on stack ${twin.world.stackName} in ${TWIN_REGION}\n` });
    expect((await readCatalog(twin, 'pii')).frozen).toBeUndefined();
    const again = await cli(['unfreeze', 'pii']);
    expect(again).toMatchObject({ code: 0, stdout: '' });
    expect(again.stderr).toContain('pii is not frozen; nothing to do\n');
    const fired = twin.scheduler.fired.length;
    await twin.advance(3_600_000, { coalesce: true });
    expect(rotateFires(twin, 'pii', fired)).toBeGreaterThan(0);
    const rotated = await readCatalog(twin, 'pii');
    expect(rotated.versions.map((v) => v.version)).toEqual([1, 2]);
  });

  it('rotate adds the next version now, through the rotate function', async () => {
    const res = await cli(['rotate', 'ops', '--reason', 'operator drill', '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ stack: twin.world.stackName, keyring: 'ops', status: 'created', version: 2 });
    // Text by default: a sentence, like local mode's.
    const text = await cli(['rotate', 'ops', '--reason', 'operator drill']);
    expect(text).toMatchObject({ code: 0, stdout: '' });
    expect(text.stderr).toContain('already pending: version 2 of ops (pending; becomes active after the propagation window)\n');
    const ops = await readCatalog(twin, 'ops');
    expect(ops.versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'active'],
      [2, 'pending'],
    ]);
  });

  it('revoke delivers the compromise event to revoke and key-access', async () => {
    const before = twin.bus.deliveries.length;
    // Without a terminal, revoke needs --yes; without it nothing is sent.
    const unconfirmed = await cli(['revoke', 'pii', '--version', '1', '--reason', 'leaked in incident 42']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toBe(`rekey: revoke pii v1 in stack ${twin.world.stackName} (${TWIN_REGION}) cannot be undone: confirm with --yes (no terminal to ask on); nothing was changed\n`);
    expect(twin.bus.deliveries.length).toBe(before);
    const res = await cli(['revoke', 'pii', '--version', '1', '--reason', 'leaked in incident 42', '--yes']);
    expect(res).toMatchObject({ code: 0, stderr: `rekey: acted on stack ${twin.world.stackName} in ${TWIN_REGION}\n` });
    const eventId = /^revocation requested: event (\S+) on bus /.exec(res.stdout)?.[1];
    expect(eventId).toBeDefined();
    const deliveries = twin.bus.deliveries.slice(before).filter((d) => d.eventId === eventId);
    expect(deliveries.map((d) => `${d.targetArn} ${d.outcome}`).sort()).toEqual([`${twin.fn('key-access').arn} delivered`, `${twin.fn('revoke').arn} delivered`].sort());
    // The revoke function marks it revoked and, nothing referencing it, it is disabled at once; a fresh version takes over.
    const pii = await readCatalog(twin, 'pii');
    const v1 = pii.versions.find((v) => v.version === 1);
    expect(v1).toMatchObject({ revokedReason: 'leaked in incident 42' });
    expect(['revoked', 'disabled']).toContain(v1?.state);
    expect(pii.versions.filter((v) => v.state === 'active').map((v) => v.version)).toEqual([Math.max(...pii.versions.map((v) => v.version))]);
    const status = await cli(['status', 'pii']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`\\n\\s+1\\s+${v1?.state ?? ''}\\s`));
  });

  it('refuses a role without the operator grant, command by command, changing nothing', async () => {
    // Each refusal names what was denied (exit 6: access denied), not an "unexpected" error.
    const advice = '; use a role the stack grants this to (docs/deploy.md, operator roles) or check AWS_PROFILE\n';
    const catalogDenied = (k: string): string => `rekey: access denied to catalog of keyring '${k}'${advice}`;
    const invokeDenied = (fn: string): string => `rekey: access denied: lambda:InvokeFunction on the ${fn} function of stack '${STACK}' (AccessDeniedException)${advice}`;
    const commands: readonly (readonly [readonly string[], string])[] = [
      [['status'], `rekey: access denied to s3://${twin.world.outputs.CatalogBucket ?? ''}/${twin.world.outputs.CatalogPrefix ?? ''}${advice}`],
      [['plan'], `rekey: access denied to s3://${twin.world.outputs.CatalogBucket ?? ''}/${twin.world.outputs.CatalogPrefix ?? ''}${advice}`],
      [['freeze', 'ops', '--reason', 'not mine to freeze'], catalogDenied('ops')],
      [['unfreeze', 'pii'], catalogDenied('pii')],
      [['rotate', 'ops', '--reason', 'not mine to rotate'], invokeDenied('rotate')],
      [['revoke', 'ops', '--version', '1', '--reason', 'not mine to revoke', '--yes'], catalogDenied('ops')],
      [['escrow', 'verify'], invokeDenied('escrow')],
    ];
    const invoked = (): number => twin.runtime.invocationLogs.length;
    for (const [argv, reason] of commands) {
      const catalogs = await catalogVersions(twin);
      const deliveries = twin.bus.deliveries.length;
      const invocations = invoked();
      const from = twin.world.requestLog.length;
      const res = await cli(argv, outsider);
      expectRefused(res);
      expect(res).toMatchObject({ code: 6, stderr: reason });
      expect(await catalogVersions(twin)).toEqual(catalogs);
      expect(twin.bus.deliveries.length).toBe(deliveries);
      expect(invoked()).toBe(invocations);
      const denied = deniedSince(from);
      expect(denied.length).toBeGreaterThan(0);
      expect(denied.every((d) => d.caller === outsider.arn)).toBe(true);
    }
    // The CLI's catalog check is not the gate: the bus itself refuses the outsider's compromise report.
    const events = new EventBridgeClient({ ...twin.clientConfig(outsider), maxAttempts: 1 });
    try {
      const from = twin.world.requestLog.length;
      const deliveries = twin.bus.deliveries.length;
      const entry = { Source: 'rekey', DetailType: 'Key Version Compromised', EventBusName: twin.world.outputs.EventBusName, Detail: JSON.stringify({ keyring: 'ops', version: 1, reason: 'not mine' }) };
      await expect(events.send(new PutEventsCommand({ Entries: [entry] }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(deniedSince(from).map((d) => `${d.caller} ${d.action}`)).toEqual([`${outsider.arn} events:PutEvents`]);
      expect(twin.bus.deliveries.length).toBe(deliveries);
    } finally {
      events.destroy();
    }
  });

  it('status against a stack that does not exist exits non-zero with the reason', async () => {
    // The operator's policy names its own stack only: IAM refuses before CloudFormation looks, and the CLI says both possibilities.
    const from = twin.world.requestLog.length;
    const scoped = await cli(['--stack', 'NoSuchStack', 'status']);
    expectRefused(scoped);
    expect(scoped.code).toBe(6);
    expect(scoped.stderr).toBe(`rekey: access denied: cloudformation:DescribeStacks on stack 'NoSuchStack' in ${TWIN_REGION}: no such stack there, or this role may not describe it; check --stack, --region and AWS_PROFILE\n`);
    expect(deniedSince(from).map((d) => `${d.caller} ${d.action}`)).toEqual([`${operator.arn} cloudformation:DescribeStacks`]);
    // A role that may describe any stack learns that it does not exist.
    const open = await cli(['--stack', 'NoSuchStack', 'status'], twin.role(STACK_READER));
    expectRefused(open);
    expect(open.code).toBe(4);
    expect(open.stderr).toBe(`rekey: stack 'NoSuchStack' not found in ${TWIN_REGION}: pass --stack NAME (and --region) of the deployed rekey stack\n`);
  });

  it("the doc's policy for a role of another account names only what this stack deployed", async () => {
    const policy = await operatorPolicyFromDoc(1, deployedValues(twin));
    const resources = policy.Statement.flatMap((st) => [st.Resource].flat() as string[]);
    const catalogArn = `arn:aws:s3:::${twin.world.outputs.CatalogBucket ?? ''}`;
    const escrowArn = `arn:aws:s3:::${twin.world.outputs.EscrowBucket ?? ''}`;
    const known = new Set([
      ...[...twin.world.functions.values()].map((f) => f.arn),
      ...[...twin.world.buckets.values()].flatMap((b) => [b.arn, `${b.arn}/${twin.world.outputs.CatalogPrefix ?? ''}*`]),
      // The key-use log next to the catalog, and the revocation ledger in the escrow bucket (status reads both).
      `${catalogArn}/${KEY_USE_PREFIX}*`,
      `${escrowArn}/${REVOCATION_LEDGER_PREFIX}*`,
      // The record census's documents (status --count-records counts S3 targets from them).
      `${catalogArn}/${CENSUS_PREFIX}*.json`,
      ...[...twin.world.keys.values()].map((k) => k.arn),
      ...[...twin.world.buses.values()].map((b) => b.arn),
    ]);
    const stackResource = `arn:aws:cloudformation:${TWIN_REGION}:${TWIN_ACCOUNT}:stack/${STACK}/*`;
    expect(resources.filter((r) => r !== stackResource && !known.has(r))).toEqual([]);
    // The keys it names: the catalog's (ops) key and the escrow key (the ledger's marks are SSE-KMS
    // under it), each only through S3 (kms:ViaService); no keyring key.
    const keys = new Set([...twin.world.keys.values()].map((k) => k.arn));
    const keyStatements = policy.Statement.filter((st) => ([st.Resource].flat() as string[]).some((r) => keys.has(r)));
    expect(keyStatements.flatMap((st) => [st.Resource].flat() as string[]).sort()).toEqual([twin.world.buckets.get(twin.world.outputs.CatalogBucket ?? '')?.kmsKeyArn, twin.world.outputs.EscrowKeyArn].sort());
    for (const st of keyStatements) expect(st.Condition).toEqual({ StringEquals: { 'kms:ViaService': `s3.${TWIN_REGION}.amazonaws.com` } });
    const keyringKeys = Object.values(JSON.parse(twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>);
    expect(resources.filter((r) => keyringKeys.includes(r))).toEqual([]);
  });

  it('ran without unexpected denials, background errors or lost events', () => {
    const unexpected = twin.deniedRequests().filter((d) => !expectedDenials.has(d));
    expect(unexpected.map((d) => `${d.caller} ${d.action} ${d.resources.join(',')}: ${d.reason ?? ''}`)).toEqual([]);
    expect(twin.backgroundErrors).toEqual([]);
    expect(twin.runtime.lostEvents).toEqual([]);
  });
});
