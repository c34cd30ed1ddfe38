/**
 * End-of-year assertions of the year scenario (year.test.ts): the catalog's own history against
 * the policy and the observed key use (every transition on time, none early, none overdue), the
 * expected end states derived from the policy, the escrow records under Object Lock, the KMS
 * grants against the catalog, the oldest copies of records refused, and the health of the whole
 * run (every firing delivered, every sweep succeeded, no function error, no alarm ever in ALARM).
 */
import { DeleteObjectCommand, GetObjectCommand, GetObjectLockConfigurationCommand, HeadObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import type { Catalog, KeyringPolicy, KeyVersion } from '../../../shared/catalog/model';
import { VersionUnavailableError } from '../../../shared/errors';
import { recordContext } from '../../../shared/reencrypt/dependencies';
import { METRIC, METRIC_NAMESPACE } from '../../../shared/vocabulary/metric-names';
import type { Application } from '../application';
import type { Twin } from '../twin';
import { DAY, type ObservedKeyUse, type YearKeyring } from './year-world';

/** The deployed cadences of one keyring's schedules (ms). */
export interface Cadences {
  readonly grace: number;
  readonly rotate: number;
  readonly archive: number;
  readonly drill: number;
  readonly sweep: number;
}

const at = (iso: string | undefined): number => (iso === undefined ? Number.NaN : Date.parse(iso));

/**
 * When the quiet period of `v` ends, by the rule of issue 11 (not the product's code): its key
 * unused for `quiet` ms, counted from the latest of when it stopped encrypting, its last observed
 * use, its re-enabling or restore, and when observation began. Never, while nobody observes.
 */
export function quietUntil(v: KeyVersion, quiet: number, use: ObservedKeyUse): number {
  if (use.observingSince === undefined) return Number.POSITIVE_INFINITY;
  const from = [at(v.rotatingAt ?? v.revokedAt ?? v.createdAt), use.observingSince.getTime(), use.lastUse.get(v.version)?.at.getTime() ?? 0];
  for (const stamp of [v.reenabledAt, v.restoredAt]) if (stamp !== undefined) from.push(at(stamp));
  return Math.max(...from) + quiet;
}

/** When a deprecated version with no reference left is due to be disabled: deprecated, and quiet. */
export function disableDue(v: KeyVersion, quiet: number, use: ObservedKeyUse): number {
  return Math.max(at(v.deprecatedAt), quietUntil(v, quiet, use));
}

/** When a disabled version of a keyring that opted in is due to be destroyed: retained, and quiet. */
export function destroyDue(v: KeyVersion, policy: KeyringPolicy, use: ObservedKeyUse): number {
  return Math.max(at(v.disabledAt) + policy.retentionSeconds * 1000, quietUntil(v, policy.quietSeconds * 1000, use));
}

/** An instant known to lie in [lo, hi]. */
interface Span {
  readonly lo: number;
  readonly hi: number;
}

/**
 * Version states at `end`, derived from the policy and the deployed cadences alone (no instant
 * written down): each transition of each version is bracketed by its earliest and latest
 * possible instant (due, and due plus one responsible interval and `slack`; a superseded
 * version's last use lies between its demotion and the first sweep after it, the sweep being
 * the last reader of its records), and the state at `end` is the last transition whose whole
 * bracket lies before it. A bracket straddling `end` makes the expectation ambiguous: that
 * throws, rather than guessing.
 */
export function expectedEndStates(policy: KeyringPolicy, every: Cadences, slack: number, start: number, end: number): string[] {
  const s = (seconds: number): number => seconds * 1000;
  const plus = (t: Span, low: number, high: number): Span => ({ lo: t.lo + low, hi: t.hi + high });
  const max = (a: Span, b: Span): Span => ({ lo: Math.max(a.lo, b.lo), hi: Math.max(a.hi, b.hi) });
  const reached = (label: string, t: Span | undefined): boolean => {
    if (t === undefined || t.lo > end) return false;
    if (t.hi <= end) return true;
    throw new Error(`ambiguous expectation: ${label} falls between ${new Date(t.lo).toISOString()} and ${new Date(t.hi).toISOString()}, around the end`);
  };
  const interval = every.grace + slack;
  const states: string[] = [];
  // Version 1 is created and activated by the deploy (the first reconciler run at the latest).
  let activated: Span = { lo: start, hi: start + interval };
  for (let k = 1; ; k++) {
    const created = plus(activated, s(policy.rotateEverySeconds), s(policy.rotateEverySeconds) + Math.min(every.grace, every.rotate) + slack);
    if (!reached(`v${k + 1} creation`, created)) {
      states.push('active');
      return states;
    }
    const promoted = plus(created, s(policy.propagationSeconds), s(policy.propagationSeconds) + interval);
    if (!reached(`v${k + 1} promotion`, promoted)) {
      states.push('active', 'pending');
      return states;
    }
    const deprecated = plus(promoted, s(policy.graceSeconds), s(policy.graceSeconds) + interval);
    const lastUse = plus(promoted, 0, every.sweep + slack);
    const disabled = plus(max(deprecated, plus(lastUse, s(policy.quietSeconds), s(policy.quietSeconds))), 0, interval);
    const destroyed = policy.destroyAfterRetention ? plus(disabled, s(policy.retentionSeconds), s(policy.retentionSeconds) + interval) : undefined;
    const label = (what: string): string => `v${k} ${what}`;
    states.push(reached(label('destruction'), destroyed) ? 'destroyed' : reached(label('disable'), disabled) ? 'disabled' : reached(label('deprecation'), deprecated) ? 'deprecated' : 'rotating');
    activated = promoted;
  }
}

function between(label: string, value: number, low: number, high: number): void {
  expect({ label, value, inRange: value >= low && value <= high }).toEqual({ label, value, inRange: true });
}

/**
 * Every transition of every version, from the catalog's timestamps and the key-use log: never
 * before it is due, at most one responsible interval (+ slack) after; a version disabled only
 * once its key went unused for the quiet period; destroyed only when the keyring opted in; nothing
 * overdue at `now`.
 */
export function checkCatalogHistory(c: Catalog, k: YearKeyring, every: Cadences, slack: number, now: number, use: ObservedKeyUse): void {
  const vs = c.versions;
  const quiet = c.policy.quietSeconds * 1000;
  expect(vs.map((v) => v.version)).toEqual(vs.map((_, i) => i + 1));
  const name = (v: KeyVersion, what: string): string => `${k.name} v${v.version} ${what}`;
  for (let i = 1; i < vs.length; i++) {
    const v = vs[i]!;
    const prev = vs[i - 1]!;
    between(name(v, 'created after rotation due (ms)'), at(v.createdAt) - (at(prev.activatedAt) + k.rotateEvery), 0, Math.min(every.grace, every.rotate) + slack);
    between(name(v, 'propagation (ms)'), at(v.activatedAt) - at(v.createdAt), k.propagation, k.propagation + every.grace + slack);
    expect({ v: prev.version, rotatingAt: prev.rotatingAt }).toEqual({ v: prev.version, rotatingAt: v.activatedAt });
  }
  for (const v of vs) {
    between(name(v, 'escrowed after creation (ms)'), at(v.escrowedAt) - at(v.createdAt), 0, every.archive + slack);
    if (v.deprecatedAt !== undefined) between(name(v, 'grace (ms)'), at(v.deprecatedAt) - at(v.rotatingAt), k.grace, k.grace + every.grace + slack);
    if (v.disabledAt !== undefined) {
      between(name(v, 'disabled after deprecation and quiet (ms)'), at(v.disabledAt) - disableDue(v, quiet, use), 0, every.grace + slack);
      const last = use.lastUse.get(v.version)?.at.getTime();
      if (last !== undefined) between(name(v, 'disabled after last use (ms)'), at(v.disabledAt) - last, quiet, Number.POSITIVE_INFINITY);
    }
    if (v.destroyedAt !== undefined) {
      expect({ v: v.version, destroyAfterRetention: c.policy.destroyAfterRetention }).toEqual({ v: v.version, destroyAfterRetention: true });
      between(name(v, 'retention and quiet (ms)'), at(v.destroyedAt) - destroyDue(v, c.policy, use), 0, every.grace + slack);
      expect({ v: v.version, verifiedBeforeDestroy: at(v.escrowVerifiedAt) <= at(v.destroyedAt), key: v.wrappedKey }).toEqual({ v: v.version, verifiedBeforeDestroy: true, key: undefined });
    }
    // Nothing overdue at the end of the year (a disabled version is due nothing unless the keyring opted in to destruction).
    const overdue: Partial<Record<KeyVersion['state'], number>> = {
      active: at(v.activatedAt) + k.rotateEvery + Math.min(every.grace, every.rotate) + slack,
      pending: at(v.createdAt) + k.propagation + every.grace + slack,
      rotating: at(v.rotatingAt) + k.grace + every.grace + slack,
      deprecated: disableDue(v, quiet, use) + every.grace + slack,
      ...(c.policy.destroyAfterRetention ? { disabled: destroyDue(v, c.policy, use) + every.grace + slack } : {}),
    };
    const deadline = overdue[v.state];
    if (deadline !== undefined) expect({ v: v.version, state: v.state, overdue: deadline < now }).toEqual({ v: v.version, state: v.state, overdue: false });
  }
}

/**
 * Every version (destroyed ones included: escrow outlives destruction) has its escrow record,
 * locked in COMPLIANCE mode until escrowedAt + `days`; the bucket's default retention is `days`;
 * the record cannot be deleted.
 */
export async function checkEscrow(twin: Twin, admin: S3Client, c: Catalog, days: number): Promise<void> {
  const bucket = twin.world.outputs.EscrowBucket ?? '';
  const lock = await admin.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
  // (moto also answers Years: 0 next to Days.)
  expect(lock.ObjectLockConfiguration?.Rule?.DefaultRetention).toMatchObject({ Mode: 'COMPLIANCE', Days: days });
  expect(lock.ObjectLockConfiguration?.Rule?.DefaultRetention?.Years ?? 0).toBe(0);
  const listed = await admin.send(new ListObjectsV2Command({ Bucket: bucket }));
  const keys = (listed.Contents ?? []).map((o) => o.Key ?? '');
  for (const v of c.versions) {
    const key = keys.find((x) => x.endsWith(`${c.keyring}/${v.version}.json`));
    expect({ keyring: c.keyring, version: v.version, found: key !== undefined }).toEqual({ keyring: c.keyring, version: v.version, found: true });
    // HeadObject's ObjectLockMode / ObjectLockRetainUntilDate (S3 API Reference, HeadObject): moto
    // 5.2.1 has no GET ?retention handler (GetObjectRetention returns the object body there).
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const lockedFor = (head.ObjectLockRetainUntilDate?.getTime() ?? 0) - at(v.escrowedAt);
    expect({ version: v.version, lockedDays: Math.round(lockedFor / DAY) }).toEqual({ version: v.version, lockedDays: days });
  }
  // COMPLIANCE mode: not even the account's administrator may delete a locked version.
  const first = keys.find((x) => x.endsWith(`${c.keyring}/1.json`)) ?? '';
  const versions = await admin.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: first }));
  const versionId = versions.Versions?.find((v) => v.Key === first)?.VersionId;
  expect(versionId).toBeDefined();
  await expect(admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: first, VersionId: versionId }))).rejects.toThrow();
}

/** The application role's grants on the keyring key: exactly one per version that may still be read (pending, active, rotating, deprecated). */
export async function checkGrants(twin: Twin, c: Catalog, granteeArn: string): Promise<void> {
  const keyArn = (JSON.parse(twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>)[c.keyring] ?? '';
  const kms = new KMSClient({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    const versions: number[] = [];
    let marker: string | undefined;
    do {
      const page = await kms.send(new ListGrantsCommand({ KeyId: keyArn, ...(marker === undefined ? {} : { Marker: marker }) }));
      for (const g of page.Grants ?? []) {
        if (g.GranteePrincipal !== granteeArn) continue;
        expect(g.Operations).toEqual(['Decrypt']);
        versions.push(Number(g.Constraints?.EncryptionContextEquals?.version));
      }
      marker = page.Truncated === true ? page.NextMarker : undefined;
    } while (marker !== undefined);
    const readable = c.versions.filter((v) => ['pending', 'active', 'rotating', 'deprecated'].includes(v.state)).map((v) => v.version);
    expect({ keyring: c.keyring, grants: versions.sort((a, b) => a - b) }).toEqual({ keyring: c.keyring, grants: readable });
  } finally {
    kms.destroy();
  }
}

/** The run as a whole: every firing delivered, every sweep succeeded, no error metric, drills clean and regular, no alarm ever in ALARM. */
export async function checkRunHealth(twin: Twin, from: number, to: number, maxStep: number): Promise<void> {
  expect(twin.scheduler.fired.filter((f) => f.outcome !== 'delivered')).toEqual([]);
  const sweeps = twin.stepFunctions.listExecutionArns().map((arn) => twin.stepFunctions.describeExecution(arn));
  expect(sweeps.length).toBeGreaterThan(0);
  expect(sweeps.filter((e) => e.status !== 'SUCCEEDED').map((e) => `${e.name} ${e.status} ${e.error ?? ''}`)).toEqual([]);
  const sum = (namespace: string, name: string): number => twin.metrics.query({ namespace, name, from, to }).reduce((s, d) => s + d.value, 0);
  expect({ lambdaErrors: sum('AWS/Lambda', 'Errors'), handlerFailures: sum(METRIC_NAMESPACE, METRIC.handlerFailures), decryptFailures: sum(METRIC_NAMESPACE, METRIC.decryptFailures), sweepFailed: sum(METRIC_NAMESPACE, METRIC.sweepFailed), drillFailures: sum(METRIC_NAMESPACE, METRIC.escrowDrillFailures), breaker: sum(METRIC_NAMESPACE, METRIC.breakerTripped) }).toEqual({
    lambdaErrors: 0,
    handlerFailures: 0,
    decryptFailures: 0,
    sweepFailed: 0,
    drillFailures: 0,
    breaker: 0,
  });
  // No cache is configured: the dashboard's cache widget has nothing to show.
  expect(twin.metrics.query({ namespace: METRIC_NAMESPACE, name: METRIC.cacheEntriesByVersion, from, to })).toEqual([]);
  for (const keyring of ['pii', 'ops']) {
    const drills = twin.metrics.query({ namespace: METRIC_NAMESPACE, name: METRIC.escrowDrillFailures, dimensions: { keyring }, from, to }).map((d) => d.timestamp);
    const gaps = drills.slice(1).map((t, i) => t - drills[i]!);
    // The drill is daily; a coalesced step fires it once however many days it spans, so two drills
    // are at most one step (maxStep) plus one day apart, and at least 365 / maxStep days have one.
    const longest = Math.max(...gaps);
    expect({ keyring, enough: drills.length >= Math.floor((to - from) / maxStep), longestGapOk: longest <= maxStep + DAY, longest }).toEqual({ keyring, enough: true, longestGapOk: true, longest });
  }
  await twin.alarms.evaluate(twin.clock.now());
  const inAlarm = [...twin.world.alarms.values()].map((a) => a.name).filter((n) => twin.alarms.state(n) === 'ALARM');
  expect(inAlarm).toEqual([]);
  expect(twin.alarms.transitions.filter((t) => t.to === 'ALARM').map((t) => `${t.alarm} ${new Date(t.at).toISOString()} ${t.reason}`)).toEqual([]);
  expect(twin.alarms.undeliverable()).toEqual([]);
}

/**
 * The oldest object version of a record (its bucket is versioned: every re-wrap left the previous
 * version behind) still names the version it was first written under; once that version is
 * disabled or destroyed, the application can no longer open it (destruction shreds old copies
 * for good; a disabled version keeps its key, so `rekey reenable` could bring them back).
 * Returns the version the copy names.
 */
export async function checkOldestCopyRefused(admin: S3Client, app: Application, bucket: string, key: string, id: string): Promise<number> {
  const versions = await admin.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const oldest = [...(versions.Versions ?? [])].filter((v) => v.Key === key).sort((a, b) => (a.LastModified?.getTime() ?? 0) - (b.LastModified?.getTime() ?? 0))[0];
  expect((versions.Versions ?? []).length).toBeGreaterThan(1);
  const body = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: oldest?.VersionId }));
  const envelope = Buffer.from(await body.Body!.transformToByteArray());
  const version = app.envelopes.inspect(envelope).version;
  await expect(app.envelopes.decrypt(envelope, { context: recordContext(id), purpose: 'read' })).rejects.toBeInstanceOf(VersionUnavailableError);
  return version;
}
