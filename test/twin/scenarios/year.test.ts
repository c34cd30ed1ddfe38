/**
 * Scenario 2, "a year of scheduled life": the stack of cdk.json (keyrings `pii` 30d/7d/15m/30d
 * and `ops` 90d/14d/10m/90d, escrow 400 d, daily sweeps; `pii` opts in to destruction, `ops`
 * keeps the default) runs for 365 simulated days while an application role writes and reads
 * records in its own versioned buckets. Every lifecycle transition the product makes
 * (shared/catalog/version-outlook.ts: create-pending, promote, deprecate; disable once nothing
 * references the version AND its key went unused for the quiet period, counted from its last
 * use as CloudTrail reported it through the key-use function; destroy only with the opt-in, once
 * retention has passed and a restore drill verified the escrow copy) must happen on time, every
 * record must read back, the dashboard's version-distribution metrics must be emitted with the
 * truth, and nothing may be denied, fail in the background, get lost or leave an alarm in ALARM.
 * The application reads old records at each promotion and the sweep re-wraps them the next day:
 * those unwraps are uses, so a superseded version is disabled only a quiet period after the
 * sweep, and `ops` (never destroyed) keeps every retired version's key.
 *
 * The clock walk (a year at full fidelity is ~175,000 firings): the next due instant of every
 * keyring is computed from its catalog and key-use log (rotation, promotion, deprecation,
 * disable, destruction, and the first sweep after a promotion). The walk jumps there with one coalesced step (each schedule
 * fires once, at due - 1 ms: a documented twin speed-up) and then runs at the real rate
 * (`twin.advanceTo` without coalesce: every occurrence at its cron time) up to the first tick of
 * the responsible schedule at or after the due instant (+ SLACK_MS), where the transition must be
 * seen; from a rotation to its promotion (the propagation window) the walk stays at the real
 * rate throughout (the gap is below EXACT_GAP_MS), and the promotion window also covers the first
 * escrow archive of the new version. Between due
 * instants, coalesced steps of at most FILLER_MS keep the application writing and the schedules
 * ticking. Tolerances (asserted per version from the catalog's own timestamps, see year-checks.ts):
 * a transition never happens before it is due, and at most one grace-period interval (15 min)
 * plus SLACK_MS of run time after it; escrow archive within one archive interval (1 h) of creation.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_POLICY } from '../../../shared/catalog/policy';
import { METRIC, METRIC_NAMESPACE } from '../../../shared/vocabulary/metric-names';
import { Twin } from '../twin';
import { checkCatalogHistory, checkEscrow, checkGrants, checkOldestCopyRefused, checkRunHealth, destroyDue, disableDue, expectedEndStates, quietUntil } from './year-checks';
import {
  APP_ROLE,
  DAY,
  KEYRINGS,
  MINUTE,
  adminS3,
  appPolicies,
  cadenceOf,
  catalogReader,
  costSince,
  createRecordBuckets,
  keyUseReader,
  mark,
  nextTick,
  openApps,
  readAllReadOnly,
  readAllThroughService,
  requestBreakdown,
  scheduleOf,
  yearContext,
  type Cost,
  type LedgerEntry,
  type YearKeyring,
} from './year-world';

jest.setTimeout(900_000);

const START = Date.parse('2027-01-01T00:00:00Z');
const END = START + 365 * DAY;
/** Longest coalesced step between due instants: the application writes at every step. */
const FILLER_MS = 14 * DAY;
/** Below this gap to the next due instant the walk stays at the real rate instead of coalescing. */
const EXACT_GAP_MS = 30 * MINUTE;
/** Run time a scheduled function may add to its tick before it stamps the catalog. */
const SLACK_MS = MINUTE;

type Kind = 'rotate' | 'promote' | 'deprecate' | 'disable' | 'destroy' | 'sweep';
interface Waypoint {
  readonly kind: Kind;
  readonly keyring: YearKeyring;
  readonly version: number;
  readonly due: number;
  /** End of the real-rate window in which the transition must be seen. */
  readonly to: number;
}

/** `YEAR_TRACE=1` prints the walk as it goes (jest holds console output until the test ends). */
const trace = (line: string): void => {
  if (process.env.YEAR_TRACE === '1') process.stderr.write(`${line}\n`);
};
const at = (iso: string | undefined): number => (iso === undefined ? Number.NaN : Date.parse(iso));

describe('a year of scheduled life', () => {
  it('rotates, propagates, deprecates, sweeps, disables, escrows, drills and destroys on time for 365 days', async () => {
    const wallStart = Date.now();
    const twin = await Twin.standUp({ start: START, context: yearContext(), roles: [{ name: APP_ROLE, policies: appPolicies() }] });
    const admin = adminS3(twin);
    const steps: { kind: string; cost: Cost }[] = [];
    const sweeps: { keyring: string; rewrapped: number; cost: Cost }[] = [];
    try {
      const standUpMs = Date.now() - wallStart;
      await createRecordBuckets(twin, admin);
      const apps = openApps(twin);
      const catalog = catalogReader(twin, admin);
      const fn = (name: string): string => twin.fn(name).arn;
      const sweepArn = twin.world.outputs.SweepStateMachineArn ?? '';
      const sched = Object.fromEntries(
        KEYRINGS.map((k) => [
          k.name,
          {
            grace: scheduleOf(twin, fn('grace-period'), k.name),
            rotate: scheduleOf(twin, fn('rotate'), k.name),
            archive: scheduleOf(twin, fn('escrow'), k.name, { action: 'archive' }),
            drill: scheduleOf(twin, fn('escrow'), k.name, { action: 'drill' }),
            sweep: scheduleOf(twin, sweepArn, k.name, { bucket: k.bucket }),
          },
        ]),
      );
      const every = Object.fromEntries(
        KEYRINGS.map((k) => [k.name, { grace: cadenceOf(twin, sched[k.name]!.grace), rotate: cadenceOf(twin, sched[k.name]!.rotate), archive: cadenceOf(twin, sched[k.name]!.archive), drill: cadenceOf(twin, sched[k.name]!.drill), sweep: cadenceOf(twin, sched[k.name]!.sweep) }]),
      );
      // docs/deploy.md "2. Configure", schedules.*: grace period 15m, rotation check 1h, escrow archive 1h, drill 1d; sweep.every 1d.
      for (const k of KEYRINGS) expect(every[k.name]).toEqual({ grace: 15 * MINUTE, rotate: 60 * MINUTE, archive: 60 * MINUTE, drill: DAY, sweep: DAY });
      const keyUse = keyUseReader(twin, admin);
      // The deployed catalogs carry the context's policy: the default quiet period, pii's destruction opt-in, ops on the default (off); no unmanaged sources.
      for (const k of KEYRINGS) {
        const c = await catalog(k.name);
        expect({ keyring: k.name, quiet: c.policy.quietSeconds, destroy: c.policy.destroyAfterRetention, unmanaged: c.sources?.unmanaged ?? [] }).toEqual({ keyring: k.name, quiet: DEFAULT_POLICY.quietSeconds, destroy: k.destroyAfterRetention, unmanaged: [] });
      }
      const sweepRoles = new Set([twin.fn('reencrypt').roleArn, ...[...twin.world.stateMachines.values()].map((s) => s.roleArn)]);
      // CloudTrail names a role's caller by its session: arn:aws:sts::<account>:assumed-role/<role name>/<session>.
      const sweepSessions = [...sweepRoles].map((arn) => `arn:aws:sts::${twin.world.account}:assumed-role/${arn.split('/').pop() ?? ''}/`);

      const ledger: LedgerEntry[] = [];
      const graceScans: { records: number; heads: number }[] = [];
      const lazyRewraps = { pii: 0, ops: 0 };
      const promotedAt: Partial<Record<string, number>> = {};
      /** Per keyring and superseded version: its last observed use right after the sweep that moved its records. */
      const usedUntilSweep = new Map<string, number>();
      const useKey = (keyring: string, version: number): string => `${keyring} v${version}`;
      let written = 0;

      // One record per step, the keyrings in turn: about 90 records a year, one every ~4 simulated
      // days. (A reconciler run HEADs only objects its warm store has not seen unchanged: the
      // count printed at the end shows it.)
      const write = async (): Promise<void> => {
        for (const k of [KEYRINGS[written % KEYRINGS.length]!]) {
          const entry: LedgerEntry = { id: `${k.name}-${String(written).padStart(4, '0')}`, keyring: k.name, plaintext: randomBytes(96 + (written % 160)), writtenAt: twin.clock.now() };
          await apps[k.name].records.put(entry.id, k.name, entry.plaintext);
          const back = await apps[k.name].records.get(entry.id);
          expect(back.plaintext.equals(entry.plaintext)).toBe(true);
          if (back.rewrap === 'rewrapped') lazyRewraps[k.name]++;
          ledger.push(entry);
        }
        written++;
      };
      const healthy = (): void => {
        // A drill that could not restore a version pages the on-call (EscrowDrillFailed): name it at once.
        const drillFailed = twin.metrics.query({ namespace: METRIC_NAMESPACE, name: METRIC.escrowDrillFailures, from: START, to: twin.clock.now() + 1 }).filter((d) => d.value > 0);
        expect(drillFailed.length === 0 ? [] : twin.runtime.logLines(twin.fn('escrow').name).filter((l) => l.includes('escrow drill failed'))).toEqual([]);
        expect(twin.deniedRequests()).toEqual([]);
        expect(twin.backgroundErrors).toEqual([]);
        expect(twin.runtime.lostEvents).toEqual([]);
      };
      const entriesOf = (k: YearKeyring): LedgerEntry[] => ledger.filter((e) => e.keyring === k.name);

      const plan = async (): Promise<Waypoint[]> => {
        const out: Waypoint[] = [];
        for (const k of KEYRINGS) {
          const c = await catalog(k.name);
          const grace = sched[k.name]!.grace;
          // The window ends at the first tick of the responsible schedule at or after the due instant.
          const firstAtOrAfter = (schedule: typeof grace, t: number): number => nextTick(twin, schedule, t - 1);
          const pending = c.versions.find((v) => v.state === 'pending');
          const active = c.versions.find((v) => v.state === 'active');
          if (pending !== undefined) {
            const due = at(pending.createdAt) + k.propagation;
            // The window also covers the first escrow archive after creation.
            const archived = nextTick(twin, sched[k.name]!.archive, at(pending.createdAt));
            out.push({ kind: 'promote', keyring: k, version: pending.version, due, to: Math.max(firstAtOrAfter(grace, due), archived) + SLACK_MS });
          } else if (active !== undefined) {
            const due = at(active.activatedAt) + k.rotateEvery;
            // Either the hourly rotation check or the 15-minute reconciler creates it, whichever ticks first.
            out.push({ kind: 'rotate', keyring: k, version: c.versions.length + 1, due, to: Math.min(firstAtOrAfter(grace, due), firstAtOrAfter(sched[k.name]!.rotate, due)) + SLACK_MS });
          }
          // Disable and destroy are due by the evidence: the policy's quiet period after the last use the key-use log observed.
          const use = await keyUse(k.name);
          const evidence = (kind: 'disable' | 'destroy', version: number, due: number): void => {
            if (Number.isFinite(due)) out.push({ kind, keyring: k, version, due, to: firstAtOrAfter(grace, due) + SLACK_MS });
          };
          for (const v of c.versions) {
            if (v.state === 'rotating') out.push({ kind: 'deprecate', keyring: k, version: v.version, due: at(v.rotatingAt) + k.grace, to: firstAtOrAfter(grace, at(v.rotatingAt) + k.grace) + SLACK_MS });
            if (v.state === 'deprecated') evidence('disable', v.version, disableDue(v, c.policy.quietSeconds * 1000, use));
            // Without the opt-in a disabled version is due nothing: it is kept (asserted at the end).
            if (v.state === 'disabled' && c.policy.destroyAfterRetention) evidence('destroy', v.version, destroyDue(v, c.policy, use));
          }
          const promoted = promotedAt[k.name];
          if (promoted !== undefined && active !== undefined) {
            const tick = nextTick(twin, sched[k.name]!.sweep, promoted);
            // The window covers the reconciler run after the sweep, which publishes the new distribution.
            out.push({ kind: 'sweep', keyring: k, version: active.version, due: tick, to: nextTick(twin, grace, tick) + SLACK_MS });
          }
        }
        return out.filter((w) => w.due <= END).sort((a, b) => a.due - b.due);
      };

      const check = async (w: Waypoint, before: Map<number, number> | undefined, m: ReturnType<typeof mark>): Promise<void> => {
        const c = await catalog(w.keyring.name);
        const v = c.versions.find((x) => x.version === w.version);
        const label = `${w.kind} ${w.keyring.name} v${w.version} due ${new Date(w.due).toISOString()}`;
        const within = (t: number): void => {
          expect({ label, t: new Date(t).toISOString(), ok: t >= w.due && t <= w.to }).toEqual({ label, t: new Date(t).toISOString(), ok: true });
        };
        if (w.kind === 'rotate') {
          // With a 15-minute propagation the reconciler tick that promotes can fall inside this window too.
          expect({ label, state: v?.state === 'pending' || v?.state === 'active' }).toEqual({ label, state: true });
          within(at(v?.createdAt));
          if (v?.state === 'active') {
            if (v.escrowedAt === undefined) await twin.advanceTo(nextTick(twin, sched[w.keyring.name]!.archive, at(v.createdAt)) + SLACK_MS);
            await check({ ...w, kind: 'promote', due: at(v.createdAt) + w.keyring.propagation, to: Math.max(w.to, twin.clock.now()) }, before, m);
          }
        } else if (w.kind === 'promote') {
          expect({ label, state: v?.state }).toEqual({ label, state: 'active' });
          within(at(v?.activatedAt));
          const demoted = c.versions.find((x) => x.version === w.version - 1);
          expect({ state: demoted?.state, rotatingAt: demoted?.rotatingAt }).toEqual({ state: 'rotating', rotatingAt: v?.activatedAt });
          promotedAt[w.keyring.name] = at(v?.activatedAt);
          // Checkpoint: every record still opens right after the rotation (read-only: the sweep must do the migration).
          const counts = await readAllReadOnly(apps[w.keyring.name], entriesOf(w.keyring));
          expect([...counts.keys()].every((n) => n === w.version - 1)).toBe(true);
        } else if (w.kind === 'deprecate') {
          within(at(v?.deprecatedAt));
          // Nothing references it any more (the sweep moved its records): disabled in the same
          // reconciler run exactly when its key has also been quiet long enough by then.
          const quietOver = quietUntil(v!, c.policy.quietSeconds * 1000, await keyUse(w.keyring.name)) <= at(v?.deprecatedAt);
          expect({ label, state: v?.state }).toEqual({ label, state: quietOver ? 'disabled' : 'deprecated' });
          if (quietOver) expect(at(v?.disabledAt) - at(v?.deprecatedAt)).toBeLessThanOrEqual(SLACK_MS);
        } else if (w.kind === 'disable') {
          expect({ label, state: v?.state }).toEqual({ label, state: 'disabled' });
          within(at(v?.disabledAt));
          // The last recorded use is still the one the sweep left (it read the old records last),
          // and the disable came only after the quiet period that followed it.
          const last = (await keyUse(w.keyring.name)).lastUse.get(w.version);
          expect({ label, last: last?.at.getTime() }).toEqual({ label, last: usedUntilSweep.get(useKey(w.keyring.name, w.version)) });
          expect({ label, quietAfterLastUse: at(v?.disabledAt) - (last?.at.getTime() ?? Number.NaN) >= c.policy.quietSeconds * 1000 }).toEqual({ label, quietAfterLastUse: true });
        } else if (w.kind === 'destroy') {
          expect({ label, state: v?.state, key: v?.wrappedKey }).toEqual({ label, state: 'destroyed', key: undefined });
          within(at(v?.destroyedAt));
          expect(at(v?.escrowVerifiedAt)).toBeLessThanOrEqual(at(v?.destroyedAt));
        } else {
          delete promotedAt[w.keyring.name];
          const started = twin.stepFunctions
            .listExecutionArns(sweepArn)
            .map((arn) => twin.stepFunctions.describeExecution(arn))
            .filter((e) => e.startDate.getTime() === w.due && (JSON.parse(e.input) as { keyring?: string }).keyring === w.keyring.name);
          expect({ label, statuses: started.map((e) => e.status) }).toEqual({ label, statuses: ['SUCCEEDED'] });
          const moved = [...(before ?? new Map<number, number>())].filter(([n]) => n !== w.version).reduce((s, [, n]) => s + n, 0);
          const done = twin.metrics.query({ namespace: METRIC_NAMESPACE, name: METRIC.sweepDone, dimensions: { keyring: w.keyring.name }, from: w.due, to: w.to + 1 });
          // (A sweep tick that fell inside an earlier window ran unobserved: only its result is checked.)
          if (before !== undefined) expect({ label, rewrapped: done.reduce((s, d) => s + d.value, 0) }).toEqual({ label, rewrapped: moved });
          const { byVersion, rewrapped } = await readAllThroughService(apps[w.keyring.name], entriesOf(w.keyring));
          expect({ label, byVersion: [...byVersion], rewrapped }).toEqual({ label, byVersion: [[w.version, entriesOf(w.keyring).length]], rewrapped: 0 });
          checkDistribution(twin, w.keyring.name, w.due, w.to + 1, new Map([[w.version, entriesOf(w.keyring).length]]), at(c.versions.find((x) => x.version === w.version)?.createdAt));
          sweeps.push({ keyring: w.keyring.name, rewrapped: moved, cost: costSince(twin, m, sweepRoles) });
          // The demoted version was used until the sweep moved its records: the application read
          // them at its demotion, the sweep re-wrapped them (its unwraps are uses, by the sweep's role).
          const demoted = w.version - 1;
          const last = (await keyUse(w.keyring.name)).lastUse.get(demoted);
          const demotedAt = at(c.versions.find((x) => x.version === demoted)?.rotatingAt);
          expect({ label, usedSinceDemotion: (last?.at.getTime() ?? 0) >= demotedAt }).toEqual({ label, usedSinceDemotion: true });
          if (moved > 0) {
            // CloudTrail saw the sweep's role unwrap the demoted version, and the log holds that use (or a later one).
            const bySweep = twin.cloudTrail.records.filter((r) => {
              const context = r.requestParameters?.['encryptionContext'] as Record<string, string> | undefined;
              return r.eventName === 'Decrypt' && r.errorCode === undefined && context?.['keyring'] === w.keyring.name && context['version'] === String(demoted) && sweepSessions.some((s) => String(r.userIdentity['arn']).startsWith(s));
            });
            const sweepUse = Math.max(...bySweep.map((r) => Date.parse(r.eventTime)));
            const seen = { label, at: last?.at.toISOString(), by: last?.by, sweepUnwraps: bySweep.length };
            expect({ ...seen, usedBySweep: sweepUse >= Math.floor(demotedAt / 1000) * 1000 && (last?.at.getTime() ?? 0) >= sweepUse }).toEqual({ ...seen, usedBySweep: true });
            trace(`  ${label}: last use of v${demoted} ${last?.at.toISOString() ?? '-'} by ${last?.by ?? '-'}; sweep unwraps ${bySweep.length}`);
          }
          usedUntilSweep.set(useKey(w.keyring.name, demoted), last?.at.getTime() ?? Number.NaN);
        }
      };

      // The deploy's first 35 minutes at the real rate: version 1 of each keyring escrowed (:02 and :32), grants made.
      await write();
      await write();
      const m0 = mark(twin);
      await twin.advance(35 * MINUTE);
      steps.push({ kind: 'first-35min', cost: costSince(twin, m0) });
      healthy();
      await write();
      while (twin.clock.now() < END) {
        const now = twin.clock.now();
        const next = (await plan())[0];
        const fillerAt = Math.min(now + FILLER_MS, END);
        trace(`${new Date(now).toISOString()} next ${next === undefined ? '-' : `${next.kind} ${next.keyring.name} v${next.version} ${new Date(next.due).toISOString()}`} (${Date.now() - wallStart} ms)`);
        if (next === undefined || next.due > fillerAt) {
          const m = mark(twin);
          await twin.advanceTo(fillerAt, { coalesce: true });
          steps.push({ kind: 'filler', cost: costSince(twin, m) });
          // What each reconciler run reads of the record targets (each keyring's runs once in a coalesced step).
          const graceRole = twin.fn('grace-period').roleArn;
          const reads = twin.world.requestLog.slice(m.requests).filter((r) => r.caller === graceRole && r.action === 's3:GetObject' && r.resources.some((x) => KEYRINGS.some((k) => x.startsWith(`arn:aws:s3:::${k.bucket}/`))));
          graceScans.push({ records: ledger.length, heads: reads.length });
        } else {
          let m = mark(twin);
          if (next.due - 1 - now > EXACT_GAP_MS) {
            await twin.advanceTo(next.due - 1, { coalesce: true });
            steps.push({ kind: 'jump', cost: costSince(twin, m) });
            m = mark(twin);
          }
          // Just before a sweep, what it will find: every record read, and the distribution the reconciler published.
          const before = next.kind === 'sweep' && next.due > twin.clock.now() ? await readAllReadOnly(apps[next.keyring.name], entriesOf(next.keyring)) : undefined;
          const windowStart = mark(twin);
          await twin.advanceTo(Math.max(next.to, twin.clock.now()));
          steps.push({ kind: `window:${next.kind}`, cost: costSince(twin, m) });
          await check(next, before, windowStart);
        }
        healthy();
        await write();
      }

      // End of the year: every record reads back through the application, on its keyring's active version.
      for (const k of KEYRINGS) {
        const c = await catalog(k.name);
        const active = c.versions.find((v) => v.state === 'active');
        const { byVersion } = await readAllThroughService(apps[k.name], entriesOf(k));
        expect({ keyring: k.name, byVersion: [...byVersion] }).toEqual({ keyring: k.name, byVersion: [[active?.version, entriesOf(k).length]] });
        const lastRun = Math.max(...twin.metrics.query({ namespace: METRIC_NAMESPACE, name: METRIC.recordsByVersion, dimensions: { keyring: k.name }, from: START, to: END + DAY }).map((d) => d.timestamp));
        checkDistribution(twin, k.name, lastRun, lastRun + 1, new Map([[active?.version ?? 0, entriesOf(k).filter((e) => e.writtenAt < twin.clock.now()).length]]), at(active?.createdAt));
        checkCatalogHistory(c, k, every[k.name]!, SLACK_MS, twin.clock.now(), await keyUse(k.name));
        expect({ keyring: k.name, states: c.versions.map((v) => v.state) }).toEqual({ keyring: k.name, states: expectedEndStates(c.policy, every[k.name]!, SLACK_MS, START, twin.clock.now()) });
        await checkEscrow(twin, admin, c, 400);
        // The first record's first object version was written under version 1, long retired: refused.
        const first = entriesOf(k)[0]!;
        expect(await checkOldestCopyRefused(admin, apps[k.name], k.bucket, `${k.prefix}${first.id}`, first.id)).toBe(1);
        const retired = c.versions.filter((v) => v.state === 'disabled' || v.state === 'destroyed');
        expect(retired.length).toBeGreaterThan(0);
        if (k.destroyAfterRetention) {
          // Opted in: version 1 is shredded, its key gone from the catalog.
          expect({ keyring: k.name, v1: c.versions[0]?.state, key: c.versions[0]?.wrappedKey }).toEqual({ keyring: k.name, v1: 'destroyed', key: undefined });
        } else {
          // The default: nothing is ever destroyed; every retired version keeps its wrapped key (re-enable could bring it back).
          expect({ keyring: k.name, destroyed: retired.filter((v) => v.state === 'destroyed' || v.wrappedKey === undefined).map((v) => v.version) }).toEqual({ keyring: k.name, destroyed: [] });
        }
        await checkGrants(twin, c, twin.role(APP_ROLE).arn);
      }
      await checkRunHealth(twin, START, twin.clock.now() + 1, FILLER_MS);
      healthy();

      report(standUpMs, Date.now() - wallStart, steps, sweeps, ledger.length, lazyRewraps, twin);
      console.log(`grace-period record HEADs per coalesced step (both keyrings, one run each) vs records: ${graceScans.map((g) => `${g.heads}/${g.records}`).join(' ')}`);
    } finally {
      admin.destroy();
      await twin.close();
    }
  });
});

/**
 * The dashboard's distribution, as the last reconciler run in `[from, to)` published it:
 * `RecordsByVersion` (dimensions exactly keyring + version, one point per live version, the true
 * counts) and `OldestReferencedVersionAge` (dimension exactly keyring: age of the oldest version
 * holding data, here the active one).
 */
function checkDistribution(twin: Twin, keyring: string, from: number, to: number, truth: ReadonlyMap<number, number>, activeCreatedAt: number): void {
  const points = twin.metrics.query({ namespace: METRIC_NAMESPACE, name: METRIC.recordsByVersion, dimensions: { keyring }, from, to });
  expect(points.length).toBeGreaterThan(0);
  const last = Math.max(...points.map((p) => p.timestamp));
  const run = points.filter((p) => p.timestamp === last);
  for (const p of run) expect(Object.keys(p.dimensions).sort()).toEqual(['keyring', 'version']);
  const published = new Map(run.map((p) => [Number(p.dimensions.version), p.value]));
  for (const [version, value] of published) expect({ keyring, version, value }).toEqual({ keyring, version, value: truth.get(version) ?? 0 });
  for (const version of truth.keys()) expect(published.has(version)).toBe(true);
  // Published by the same run, a few (simulated, run-time) milliseconds apart.
  const age = twin.metrics.query({ namespace: METRIC_NAMESPACE, name: METRIC.oldestReferencedVersionAge, dimensions: { keyring }, from: last - MINUTE, to: last + MINUTE });
  expect(age.length).toBeGreaterThan(0);
  for (const a of age) expect(Object.keys(a.dimensions)).toEqual(['keyring']);
  const nearest = [...age].sort((a, b) => Math.abs(a.timestamp - last) - Math.abs(b.timestamp - last))[0]!;
  expect(Math.abs(nearest.value - (nearest.timestamp - activeCreatedAt) / 1000)).toBeLessThanOrEqual(60);
}

/** Prints the per-step cost table and the sweep's cost per re-wrapped record. */
function report(standUpMs: number, wallMs: number, steps: readonly { kind: string; cost: Cost }[], sweeps: readonly { keyring: string; rewrapped: number; cost: Cost }[], records: number, lazy: Record<string, number>, twin: Twin): void {
  const byKind = new Map<string, { n: number; inv: number; fired: number; req: number; ms: number }>();
  for (const s of steps) {
    const r = byKind.get(s.kind) ?? { n: 0, inv: 0, fired: 0, req: 0, ms: 0 };
    byKind.set(s.kind, { n: r.n + 1, inv: r.inv + s.cost.invocations, fired: r.fired + s.cost.firings, req: r.req + s.cost.requests, ms: r.ms + s.cost.wallMs });
  }
  const lines = [...byKind].map(([k, r]) => `${k.padEnd(17)} steps ${String(r.n).padStart(3)}  firings/step ${(r.fired / r.n).toFixed(1).padStart(5)}  invocations/step ${(r.inv / r.n).toFixed(1).padStart(5)}  requests/step ${(r.req / r.n).toFixed(0).padStart(4)}  ms/step ${(r.ms / r.n).toFixed(0).padStart(5)}`);
  const sweepLines = sweeps.map((s) => `sweep ${s.keyring}: ${s.rewrapped} re-wrapped, ${s.cost.requests} requests (${s.rewrapped === 0 ? '-' : (s.cost.requests / s.rewrapped).toFixed(1)}/record), ${s.cost.bytes} bytes (${s.rewrapped === 0 ? '-' : (s.cost.bytes / s.rewrapped).toFixed(0)}/record)`);
  console.log(
    [
      `year walk: stand-up ${standUpMs} ms, total ${wallMs} ms, ${steps.length} steps, ${twin.scheduler.fired.length} firings, ${twin.runtime.invocationLogs.length} invocations, ${twin.world.requestLog.length} requests, ${records} records, lazy re-wraps ${JSON.stringify(lazy)}`,
      ...lines,
      ...sweepLines,
      'requests by caller and action:',
      ...requestBreakdown(twin, 25),
    ].join('\n'),
  );
}
