/**
 * Scenario 4, faults: each fault, from a fresh stand-up, must reach an alarm that would page (an
 * alarm on a metric the code really emitted, able to fire at that metric's cadence, in ALARM,
 * published by CloudWatch through the topic policy and the ops key, read back from an SQS
 * subscription on moto), and lose nothing (the failed event is in a failure queue, or retried to
 * success; every record reads back). Then every alarm of the stack is checked against the
 * metrics the scenarios saw emitted.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { canAlarmFire } from '../drivers/alarms';
import { COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE } from '../../../shared/vocabulary/event-names';
import { extrasOf } from '../standup/standup';
import { externalRole, type Twin, type TwinFault } from '../twin';
import type { PolicyDocument } from '../world';
import { alarmMetrics, alarmOf, alarming, cadenceOf, emittedPoints, expectPaged, standUpFaults, type FaultStack } from './faults-support';

jest.setTimeout(240_000);

const MIN = 60_000;
const DAY = 86_400_000;
/** 00:50 UTC: pii (rotateEvery 30d) falls due at 00:50, between its reconciler's :46 run and the rotation check at :00. */
const START = Date.parse('2027-01-01T00:50:00Z');
const DUE = START + 30 * DAY;
/** The first rotation check after the rotation fell due (cron(0 * * * ? *)). */
const ROTATION_CHECK = DUE + 10 * MIN;

/** Alarm logical ids whose metric some scenario saw emitted, for the whole-stack check. */
const emitted = new Set<string>();
/** `namespace|metric|dimension keys` of every data point the scenarios saw: the code path that emits them. */
const shapes = new Set<string>();
const shapeOf = (namespace: string, name: string, keys: readonly string[]): string => `${namespace}|${name}|${[...keys].sort().join(',')}`;

function recordEmitted(twin: Twin): void {
  for (const a of twin.world.alarms.values()) if (emittedPoints(twin, a) > 0) emitted.add(a.logicalId);
  for (const d of twin.metrics.all()) {
    const keys = Object.keys(d.dimensions);
    shapes.add(shapeOf(d.namespace, d.name, keys));
    // An Insights WHERE on one dimension matches any dimension set that carries it.
    for (const k of keys) shapes.add(shapeOf(d.namespace, d.name, [k]));
  }
}

/** What every scenario asserts at its end: nothing lost, nothing running, no unexpected denial. */
async function expectNothingLost(stack: FaultStack, records: Map<string, string>): Promise<void> {
  const { twin } = stack;
  await twin.settle();
  expect(twin.backgroundErrors).toEqual([]);
  expect(twin.runtime.lostEvents).toEqual([]);
  expect(twin.alarms.undeliverable()).toEqual([]);
  const reader = stack.app.restart();
  for (const [id, text] of records) expect((await reader.records.get(id)).plaintext.toString('utf8')).toBe(text);
}

async function putRecords(stack: FaultStack, n: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const id = `order-${i}`;
    out.set(id, `card 4111-${i}`);
    await stack.app.records.put(id, 'pii', Buffer.from(`card 4111-${i}`));
  }
  return out;
}

/** The rotation is due in ten minutes: one coalesced jump (nothing is due before), no alarm in ALARM. */
async function jumpToRotation(stack: FaultStack): Promise<void> {
  await stack.twin.advanceTo(DUE - 10 * MIN, { coalesce: true });
  await stack.twin.alarms.evaluate();
  expect(alarming(stack.twin)).toEqual([]);
  expect((await stack.catalog()).versions.map((v) => `${v.version}:${v.state}`)).toEqual(['1:active']);
}

describe('faults', () => {
  it('1. a drifted role: the denied catalog write fails rotate loudly, lands in its failure queue and pages', async () => {
    const stack = await standUpFaults(START);
    const { twin } = stack;
    try {
      const records = await putRecords(stack, 3);
      await jumpToRotation(stack);
      // Drift: someone removed s3:PutObject on the catalog from the rotate role (console edit).
      const rotate = twin.fn('rotate');
      const role = twin.world.roles.get(rotate.roleArn);
      if (role === undefined) throw new Error('no rotate role');
      const catalogObjects = `arn:aws:s3:::${twin.world.outputs.CatalogBucket}/catalog/*`;
      let dropped = 0;
      role.policies = role.policies.map((doc): PolicyDocument => ({
        ...doc,
        Statement: doc.Statement.map((st) => {
          const actions = ([] as string[]).concat(st.Action as string | string[]);
          if (st.Resource !== catalogObjects || !actions.includes('s3:PutObject')) return st;
          dropped++;
          return { ...st, Action: actions.filter((a) => a !== 's3:PutObject') };
        }),
      }));
      expect(dropped).toBe(1);

      await twin.advanceTo(ROTATION_CHECK + 5 * MIN);
      await twin.alarms.evaluate();

      // CloudTrail's view: only the drifted permission was refused, once per attempt (Lambda: 1 + 2 retries).
      const denied = twin.deniedRequests();
      expect(denied.map((d) => `${d.caller} ${d.action} ${d.resources[0] ?? ''} ${d.status}`)).toEqual(Array(3).fill(`${role.arn} s3:PutObject ${catalogObjects.slice(0, -1)}pii.json 403`));
      // Lambda retries an asynchronous invocation after about 1 and then 2 more minutes
      // (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
      const afterRetries = (points: readonly { timestamp: number }[]): number[] => points.map((p) => p.timestamp - ROTATION_CHECK);
      const failures = twin.metrics.query({ namespace: 'Rekey', name: 'HandlerFailures', dimensions: { function: 'rotate', code: 'ACCESS_DENIED' }, from: ROTATION_CHECK, to: ROTATION_CHECK + 5 * MIN });
      expect(failures).toHaveLength(3);
      const errors = twin.metrics.query({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: rotate.name }, from: 0, to: ROTATION_CHECK + 5 * MIN });
      // Each point is stamped during its attempt: the first within a minute of the rotation
      // check, the retries no earlier than their start (queued + 1 min, queued + 3 min).
      for (const offsets of [afterRetries(failures), afterRetries(errors)]) {
        expect(offsets).toHaveLength(3);
        expect(offsets[0]).toBeLessThan(MIN);
        expect(offsets[1]).toBeGreaterThanOrEqual(MIN);
        expect(offsets[1]).toBeLessThan(2 * MIN);
        expect(offsets[2]).toBeGreaterThanOrEqual(3 * MIN);
        expect(offsets[2]).toBeLessThan(4 * MIN);
      }

      // The event is kept: Lambda's invocation record in rotate's failure queue.
      const queued = (await stack.queueMessages('FnrotateFailureQueue')).map((b) => JSON.parse(b) as Record<string, Record<string, unknown>>);
      expect(queued.map((r) => [r.requestContext?.condition, r.requestContext?.approximateInvokeCount, r.requestPayload])).toEqual([['RetriesExhausted', 3, { keyring: 'pii' }]]);

      for (const id of ['FunctionErrors-rotate', 'HandlerFailures-rotate', 'DlqNotEmpty-rotate-failures']) await expectPaged(stack, id);
      expect(alarming(twin).sort()).toEqual(['FunctionErrors-rotate', 'HandlerFailures-rotate', 'DlqNotEmpty-rotate-failures'].map((id) => alarmOf(twin, id).logicalId).sort());
      // The reconciler (its role intact) is the backstop: version 2 still got created, once.
      expect((await stack.catalog()).versions.map((v) => `${v.version}:${v.state}`)).toEqual(['1:active', '2:pending']);
      await expectNothingLost(stack, records);
      recordEmitted(twin);
    } finally {
      await stack.close();
    }
  });

  it('2. a rejected event: a malformed compromise report and invalid invocations change nothing, are counted and page', async () => {
    const stack = await standUpFaults(START);
    const { twin } = stack;
    const clients: { destroy(): void }[] = [];
    try {
      const records = await putRecords(stack, 2);
      const before = JSON.stringify([await stack.catalog('pii'), await stack.catalog('ops')]);
      // docs/deploy.md 5: a compromise report, but its version is no version number (the rule's `numeric > 0` still matches).
      const events = new EventBridgeClient(twin.clientConfig(stack.operator));
      clients.push(events);
      const put = await events.send(
        new PutEventsCommand({
          Entries: [{ EventBusName: twin.world.outputs.EventBusName, Source: COMPROMISE_EVENT_SOURCE, DetailType: COMPROMISE_EVENT_DETAIL_TYPE, Detail: JSON.stringify({ keyring: 'pii', version: 1.5, reason: 'leaked in incident 42' }) }],
        }),
      );
      expect(put.FailedEntryCount).toBe(0);
      const eventId = (put.Entries?.[0] as { EventId?: string } | undefined)?.EventId;
      // An operator's forced rotation without actor and reason, through Lambda Invoke (the operator may invoke rotate).
      const lambda = new LambdaClient(twin.clientConfig(stack.operator));
      clients.push(lambda);
      const refused = await lambda.send(new InvokeCommand({ FunctionName: twin.fn('rotate').name, Payload: Buffer.from(JSON.stringify({ keyring: 'pii', force: true })) }));
      expect(refused.FunctionError).toBeUndefined();
      expect(JSON.parse(Buffer.from(refused.Payload ?? new Uint8Array()).toString('utf8'))).toMatchObject({ ok: false, error: { code: 'VALIDATION', retryable: false } });
      // Every function, given an event of no shape it accepts by a role allowed to invoke it: each counts the refusal.
      const names = JSON.parse(twin.world.outputs.FunctionNames ?? '{}') as Record<string, string>;
      const prober = externalRole(twin.world, 'fault-prober', [
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: Object.keys(names).map((n) => twin.fn(n).arn) }] },
      ]);
      twin.world.roles.set(prober.arn, prober);
      const probe = new LambdaClient(twin.clientConfig(prober));
      clients.push(probe);
      for (const name of Object.keys(names)) {
        await probe.send(new InvokeCommand({ FunctionName: twin.fn(name).name, Payload: Buffer.from(JSON.stringify({ bogus: true })) }));
      }
      await twin.settle();
      await twin.advanceTo(START + 5 * MIN);
      await twin.alarms.evaluate();

      const counted = (fn: string): number => twin.metrics.query({ namespace: 'Rekey', name: 'HandlerFailures', dimensions: { function: fn, code: 'VALIDATION' }, from: START, to: START + MIN }).length;
      expect(Object.fromEntries(Object.keys(names).map((n) => [n, counted(n) > 0]))).toEqual(Object.fromEntries(Object.keys(names).map((n) => [n, true])));
      // key-access fails every invocation it cannot serve: Lambda retried the rule's delivery, then kept it.
      const kept = (await stack.queueMessages('FnkeyaccessFailureQueue')).map((b) => JSON.parse(b) as { requestPayload?: { id?: string } });
      expect(kept.map((r) => r.requestPayload?.id)).toEqual([eventId]);
      // The report itself is kept in the audit archive.
      const archive = extrasOf(twin.world).archives[0]?.name ?? '';
      expect(twin.bus.archived(archive).map((e) => e.id)).toContain(eventId);

      const paged = [...Object.keys(names).map((n) => `HandlerFailures-${n}`), 'FunctionErrors-key-access', 'DlqNotEmpty-key-access-failures'];
      for (const id of paged) await expectPaged(stack, id);
      expect(alarming(twin).sort()).toEqual(paged.map((id) => alarmOf(twin, id).logicalId).sort());
      // Nothing changed: no version, no state, no policy.
      expect(JSON.stringify([await stack.catalog('pii'), await stack.catalog('ops')])).toBe(before);
      expect(twin.deniedRequests()).toEqual([]);
      await expectNothingLost(stack, records);
      recordEmitted(twin);
    } finally {
      for (const c of clients) c.destroy();
      await stack.close();
    }
  });

  it('3. a KMS outage during a rotation: the attempts fail, retry and page; the next tick after it creates exactly one version', async () => {
    const stack = await standUpFaults(START);
    const { twin } = stack;
    try {
      const records = await putRecords(stack, 2);
      await jumpToRotation(stack);
      const outage: TwinFault = { service: 'kms', status: 500, code: 'KMSInternalException', message: 'KMS is unavailable (injected by the scenario)' };
      twin.faults.push(outage);
      await twin.advanceTo(ROTATION_CHECK + 5 * MIN);
      await twin.alarms.evaluate();

      expect(outage.hits ?? 0).toBeGreaterThan(0);
      // Crash-safe: not a half-created version anywhere.
      expect((await stack.catalog()).versions.map((v) => `${v.version}:${v.state}`)).toEqual(['1:active']);
      const kept = async (prefix: string): Promise<unknown[]> => (await stack.queueMessages(prefix)).map((b) => (JSON.parse(b) as { requestPayload: unknown }).requestPayload);
      expect(await kept('FnrotateFailureQueue')).toEqual([{ keyring: 'pii' }]);
      expect(await kept('FngraceperiodFailureQueue')).toContainEqual({ keyring: 'pii' });
      for (const id of ['FunctionErrors-rotate', 'DlqNotEmpty-rotate-failures', 'FunctionErrors-grace-period', 'DlqNotEmpty-grace-period-failures']) await expectPaged(stack, id);
      // Whatever else the outage broke paged too (every alarm in ALARM delivered and reached the inbox).
      const inbox = await stack.inbox();
      for (const logicalId of alarming(twin)) {
        const alarm = [...twin.world.alarms.values()].find((a) => a.logicalId === logicalId);
        expect({ logicalId, inbox: inbox.some((m) => m.AlarmName === alarm?.name && m.NewStateValue === 'ALARM') }).toEqual({ logicalId, inbox: true });
      }

      twin.faults.splice(twin.faults.indexOf(outage), 1);
      // The reconciler's next run (:16) creates the version the rotation check could not.
      await twin.advanceTo(ROTATION_CHECK + 20 * MIN);
      const versions = (await stack.catalog()).versions;
      expect(versions.map((v) => `${v.version}:${v.state}`)).toEqual(['1:active', '2:pending']);
      expect(versions[1]?.wrappedKey).toEqual(expect.any(String));
      await expectNothingLost(stack, records);
      expect(twin.deniedRequests()).toEqual([]);
      recordEmitted(twin);
    } finally {
      await stack.close();
    }
  });

  it('4. a throttled sweep: SlowDown is absorbed by the batch retries; when they run out SweepStalled pages and the next run finishes', async () => {
    const stack = await standUpFaults(START);
    const { twin } = stack;
    try {
      const records = await putRecords(stack, 10);
      // Rotate (due at DUE), then activate after the propagation delay: the records are on a non-active version.
      await twin.advanceTo(DUE + 2 * 3_600_000, { coalesce: true });
      await twin.advanceTo(DUE + 3 * 3_600_000, { coalesce: true });
      expect((await stack.catalog()).versions.map((v) => `${v.version}:${v.state}`)).toEqual(['1:rotating', '2:active']);
      const reencrypt = twin.fn('reencrypt');
      const slowDown: TwinFault = { service: 's3', operation: 'PutObject', caller: reencrypt.roleArn, status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', remaining: 30 };
      twin.faults.push(slowDown);
      // The pii sweep's schedule, cron(0 0 * * ? *).
      const midnight = Math.ceil(twin.clock.now() / DAY) * DAY;
      const sm = twin.world.outputs.SweepStateMachineArn ?? '';
      // The pii sweeps from this midnight on (the coalesced jumps above ran earlier ones, with nothing to move).
      const piiSweeps = (): ReturnType<Twin['stepFunctions']['describeExecution']>[] =>
        twin.stepFunctions.listExecutionArns(sm).map((arn) => twin.stepFunctions.describeExecution(arn)).filter((e) => e.input.includes('"pii"') && e.startDate.getTime() >= midnight);
      await twin.advanceTo(midnight, { coalesce: true });
      const first = piiSweeps();
      expect(first.map((e) => e.status)).toEqual(['SUCCEEDED']);
      // 10 records, 8 at a time, 3 SDK attempts each: every item of the first attempt failed, the map retried the batch.
      expect(slowDown.hits).toBe(30);
      const retried = twin.stepFunctions.executionRecord(first[0]?.executionArn ?? '').retries.map((r) => r.error);
      expect(retried.length).toBeGreaterThan(0);
      expect(new Set(retried)).toEqual(new Set(['ThrottledError']));
      for (const id of records.keys()) expect((await stack.app.store.get(id))?.version).toBe(2);

      // Retries run out: every record read is throttled until the fault is lifted.
      const outage: TwinFault = { service: 's3', operation: 'GetObject', caller: reencrypt.roleArn, status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };
      twin.faults.push(outage);
      await twin.advanceTo(midnight + DAY, { coalesce: true });
      const second = piiSweeps();
      expect(second.map((e) => e.status)).toEqual(['SUCCEEDED', 'FAILED']);
      const stopped = second[1]?.stopDate?.getTime() ?? 0;
      await twin.advanceTo(Math.max(stopped, twin.clock.now()) + 5 * MIN);
      await twin.alarms.evaluate();
      await expectPaged(stack, 'SweepStalled');
      twin.faults.splice(twin.faults.indexOf(outage), 1);
      await twin.advanceTo(midnight + 2 * DAY, { coalesce: true });
      const third = piiSweeps();
      expect(third.map((e) => e.status)).toEqual(['SUCCEEDED', 'FAILED', 'SUCCEEDED']);
      for (const id of records.keys()) expect((await stack.app.store.get(id))?.version).toBe(2);
      await expectNothingLost(stack, records);
      expect(twin.deniedRequests()).toEqual([]);
      recordEmitted(twin);
    } finally {
      await stack.close();
    }
  });

  it('every alarm of the stack watches a metric some code path emitted, and can fire at its cadence', async () => {
    const stack = await standUpFaults(START);
    const { twin } = stack;
    try {
      const feeds = new Set<string>([
        ...[...twin.world.functions.values()].map((f) => f.asyncConfig?.onFailureArn),
        ...[...twin.world.schedules.values()].map((s) => s.deadLetterArn),
        ...[...twin.world.rules.values()].flatMap((r) => r.targets.map((t) => t.deadLetterArn)),
      ].filter((a): a is string => a !== undefined));
      const report = [...twin.world.alarms.values()].map((alarm) => {
        const metrics = alarmMetrics(alarm);
        const queue = metrics.every((m) => m.namespace === 'AWS/SQS');
        // A queue metric exists for every queue; what matters is that something sends to the queue.
        const fed = queue && metrics.every((m) => [...twin.world.queues.values()].some((q) => q.name === m.filter.QueueName && feeds.has(q.arn)));
        // Not seen for this alarm's own keyring or Lambda function: the same code path (same metric
        // and dimension keys) seen for another one, and the alarm names a keyring, function or state
        // machine of the stack. A rekey `function` dimension needs its own data: each function counts its failures itself.
        const known = (m: (typeof metrics)[number]): boolean =>
          Object.entries(m.filter).every(([k, v]) => (k === 'keyring' ? [...twin.world.outputs.KeyringKeys?.matchAll(/"([^"]+)":/g) ?? []].some((x) => x[1] === v) : k === 'function' ? false : k === 'FunctionName' ? twin.world.fn(v) !== undefined : k === 'StateMachineArn' ? twin.world.outputs.SweepStateMachineArn === v : false));
        const sameCode = metrics.every((m) => shapes.has(shapeOf(m.namespace, m.name, Object.keys(m.filter))) && known(m));
        return { alarm: alarm.logicalId, parsed: metrics.length > 0, emitted: queue ? fed : emitted.has(alarm.logicalId) || sameCode, canFire: canAlarmFire(alarm, cadenceOf(twin, alarm)) };
      });
      // Alarms whose metric no scenario saw emitted (defects when nothing can emit it).
      expect(report.filter((r) => !r.parsed || !r.emitted || !r.canFire)).toEqual([]);
    } finally {
      await stack.close();
    }
  });
});
