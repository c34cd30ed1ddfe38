/**
 * The world of the year scenario (year.test.ts): the keyrings of cdk.json given to one
 * application role, the application team's record buckets (created as docs/deploy.md tells a
 * platform team: they exist before the deploy and are versioned), the application's record
 * ledger, an administrator's view of catalogs (straight to moto, never through the proxy, so it
 * neither costs nor authorizes anything), the schedules of each keyring, and a cost meter over
 * the twin's request log and invocation logs.
 */
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import { S3KeyUseLog } from '../../../shared/adapters/aws/s3-key-use-log';
import type { Catalog } from '../../../shared/catalog/model';
import type { KeyUse } from '../../../shared/ports/key-use-log';
import { recordContext } from '../../../shared/reencrypt/dependencies';
import { openApplication, type Application } from '../application';
import type { Twin } from '../twin';
import type { PolicyDocument, TwinSchedule } from '../world';

/** Milliseconds. */
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** The application role of the scenario (one service owning both record buckets). */
export const APP_ROLE = 'orders-app';
const APP_ROLE_ARN = `arn:aws:iam::123456789012:role/${APP_ROLE}`;

/** One keyring of cdk.json, its policy in milliseconds, and its record target. */
export interface YearKeyring {
  readonly name: 'pii' | 'ops';
  readonly rotateEvery: number;
  readonly grace: number;
  readonly propagation: number;
  readonly retention: number;
  /** The keyring's destruction opt-in as the context declares it (the policy default is off). */
  readonly destroyAfterRetention: boolean;
  readonly bucket: string;
  readonly prefix: string;
}

/**
 * cdk.json's keyrings and record targets (the sample context), verbatim, except that `pii` opts
 * in to destruction so the year still exercises it; `ops` keeps the default (never destroyed).
 * Neither declares a quiet period: both run on the policy default.
 */
export const KEYRINGS: readonly YearKeyring[] = [
  { name: 'pii', rotateEvery: 30 * DAY, grace: 7 * DAY, propagation: 15 * MINUTE, retention: 30 * DAY, destroyAfterRetention: true, bucket: 'example-orders-records', prefix: 'pii/' },
  { name: 'ops', rotateEvery: 90 * DAY, grace: 14 * DAY, propagation: 10 * MINUTE, retention: 90 * DAY, destroyAfterRetention: false, bucket: 'example-ops-records', prefix: '' },
];

/** The `rekey` context: cdk.json's keyrings with the application role added to each (and pii's destruction opt-in). */
export function yearContext(): Record<string, unknown> {
  return {
    keyrings: [
      { name: 'pii', rotateEvery: '30d', grace: '7d', propagation: '15m', retention: '30d', destroyAfterRetention: true, sensitivity: 'high', applicationRoleArns: [APP_ROLE_ARN] },
      { name: 'ops', rotateEvery: '90d', grace: '14d', propagation: '10m', retention: '90d', sensitivity: 'moderate', applicationRoleArns: [APP_ROLE_ARN] },
    ],
  };
}

/** The application role's own identity policy: its records only (the catalog and keys come from the stack). */
export function appPolicies(): PolicyDocument[] {
  return [
    {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: KEYRINGS.map((k) => `arn:aws:s3:::${k.bucket}/${k.prefix}*`) }],
    },
  ];
}

/** An S3 client of the account's administrator, straight to moto. */
export function adminS3(twin: Twin): S3Client {
  return new S3Client({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
}

/** Creates the record buckets as their owner would (versioned, before the deploy uses them) and tells the twin's authorizer. */
export async function createRecordBuckets(twin: Twin, admin: S3Client): Promise<void> {
  for (const { bucket } of KEYRINGS) {
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    await admin.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    twin.world.buckets.set(bucket, { name: bucket, arn: `arn:aws:s3:::${bucket}`, versioning: true, eventBridge: false });
  }
}

/** The application, one RecordService per record target, acting as the application role. */
export function openApps(twin: Twin): Record<YearKeyring['name'], Application> {
  const role = twin.role(APP_ROLE);
  const open = (k: YearKeyring): Application =>
    openApplication({
      role,
      proxyUrl: twin.proxyUrl,
      region: twin.world.region,
      clock: twin.clock,
      catalogBucket: twin.world.outputs.CatalogBucket ?? '',
      catalogPrefix: twin.world.outputs.CatalogPrefix ?? '',
      recordBucket: k.bucket,
      recordPrefix: k.prefix,
    });
  return { pii: open(KEYRINGS[0]!), ops: open(KEYRINGS[1]!) };
}

/** The administrator's view of the catalogs. */
export function catalogReader(twin: Twin, admin: S3Client): (keyring: string) => Promise<Catalog> {
  const store = new S3CatalogStore({ client: admin, bucket: twin.world.outputs.CatalogBucket ?? '', prefix: twin.world.outputs.CatalogPrefix ?? 'catalog/' });
  return async (keyring) => {
    const stored = await store.get(keyring);
    if (stored === undefined) throw new Error(`no catalog for ${keyring}`);
    return stored.catalog;
  };
}

/** What the key-use log (CloudTrail → key-use function) holds for one keyring. */
export interface ObservedKeyUse {
  readonly lastUse: ReadonlyMap<number, KeyUse>;
  readonly observingSince: Date | undefined;
}

/**
 * The administrator's view of the key-use log in the state bucket (straight to moto; never
 * starts a log: a keyring whose log the stack has not started reads as "not observed").
 */
export function keyUseReader(twin: Twin, admin: S3Client): (keyring: string) => Promise<ObservedKeyUse> {
  const log = new S3KeyUseLog({ client: admin, bucket: twin.world.outputs.CatalogBucket ?? '', startOnRead: false });
  return async (keyring) => ({ lastUse: await log.lastUse(keyring), observingSince: await log.observingSince(keyring) });
}

/** The schedule of the stack that targets `target` (a function or state machine ARN) for `keyring`. */
export function scheduleOf(twin: Twin, targetArn: string, keyring: string, extra: Record<string, string> = {}): TwinSchedule {
  const found = [...twin.world.schedules.values()].filter((s) => {
    if (s.targetArn !== targetArn) return false;
    const input = JSON.parse(s.input ?? '{}') as Record<string, unknown>;
    return input['keyring'] === keyring && Object.entries(extra).every(([k, v]) => input[k] === v);
  });
  if (found.length !== 1) throw new Error(`expected one schedule for ${keyring} on ${targetArn}, found ${found.length}`);
  return found[0]!;
}

/** The first occurrence of `schedule` strictly after `after`. */
export function nextTick(twin: Twin, schedule: TwinSchedule, after: number): number {
  const t = twin.scheduler.occurrences(schedule, after, after + 2 * DAY)[0];
  if (t === undefined) throw new Error(`${schedule.name} has no occurrence after ${new Date(after).toISOString()}`);
  return t;
}

/** The interval between two occurrences of `schedule` (its cadence). */
export function cadenceOf(twin: Twin, schedule: TwinSchedule): number {
  const [a, b] = twin.scheduler.occurrences(schedule, twin.clock.now(), twin.clock.now() + 3 * DAY);
  if (a === undefined || b === undefined) throw new Error(`${schedule.name} fires less than twice in 3 days`);
  return b - a;
}

/** One record the application wrote. */
export interface LedgerEntry {
  readonly id: string;
  readonly keyring: YearKeyring['name'];
  readonly plaintext: Buffer;
  readonly writtenAt: number;
}

/**
 * Reads every record of `entries` without writing anything back (a read-only consumer: the
 * envelope is decrypted as the application role, through its grants), checks each plaintext,
 * and returns how many records each version holds.
 */
export async function readAllReadOnly(app: Application, entries: readonly LedgerEntry[]): Promise<Map<number, number>> {
  const byVersion = new Map<number, number>();
  for (const e of entries) {
    const stored = await app.store.get(e.id);
    if (stored === undefined) throw new Error(`record ${e.id} is gone`);
    const d = await app.envelopes.decrypt(stored.envelope, { context: recordContext(e.id), purpose: 'read' });
    if (!d.plaintext.equals(e.plaintext)) throw new Error(`record ${e.id} read back other bytes`);
    byVersion.set(d.version, (byVersion.get(d.version) ?? 0) + 1);
  }
  return byVersion;
}

/** Reads every record of `entries` through the application's RecordService (lazy re-wrap on); returns versions and re-wraps. */
export async function readAllThroughService(app: Application, entries: readonly LedgerEntry[]): Promise<{ byVersion: Map<number, number>; rewrapped: number }> {
  const byVersion = new Map<number, number>();
  let rewrapped = 0;
  for (const e of entries) {
    const r = await app.records.get(e.id);
    if (!r.plaintext.equals(e.plaintext)) throw new Error(`record ${e.id} read back other bytes`);
    if (r.rewrap === 'rewrapped') rewrapped++;
    else if (r.rewrap !== 'none') throw new Error(`record ${e.id}: lazy re-wrap ${r.rewrap}`);
    byVersion.set(r.version, (byVersion.get(r.version) ?? 0) + 1);
  }
  return { byVersion, rewrapped };
}

/** Counts of work since a mark: invocations, scheduler firings, requests and bytes through the proxy. */
export interface Cost {
  readonly invocations: number;
  readonly firings: number;
  readonly requests: number;
  readonly bytes: number;
  readonly wallMs: number;
}

/** Where the logs stood at a moment. */
export interface CostMark {
  readonly invocations: number;
  readonly firings: number;
  readonly requests: number;
  readonly wall: number;
}

/** Marks the logs now. */
export function mark(twin: Twin): CostMark {
  return { invocations: twin.runtime.invocationLogs.length, firings: twin.scheduler.fired.length, requests: twin.world.requestLog.length, wall: Date.now() };
}

/** The work done since `m`, optionally only requests by `callers` (role ARNs). */
export function costSince(twin: Twin, m: CostMark, callers?: ReadonlySet<string>): Cost {
  const reqs = twin.world.requestLog.slice(m.requests).filter((r) => callers === undefined || callers.has(r.caller));
  return {
    invocations: twin.runtime.invocationLogs.length - m.invocations,
    firings: twin.scheduler.fired.length - m.firings,
    requests: reqs.length,
    bytes: reqs.reduce((n, r) => n + r.bytesIn + r.bytesOut, 0),
    wallMs: Date.now() - m.wall,
  };
}

/** The `top` most frequent kinds of request (caller role name and action), with their count and bytes. */
export function requestBreakdown(twin: Twin, top: number): string[] {
  const byKind = new Map<string, { n: number; bytes: number }>();
  for (const r of twin.world.requestLog) {
    const caller = r.caller.split('/').pop() ?? r.caller;
    const k = `${caller.replace(/^Rekey-/, '').replace(/[A-F0-9]{8}-[A-Z0-9]+$/, '')} ${r.action}`;
    const e = byKind.get(k) ?? { n: 0, bytes: 0 };
    byKind.set(k, { n: e.n + 1, bytes: e.bytes + r.bytesIn + r.bytesOut });
  }
  return [...byKind].sort((a, b) => b[1].n - a[1].n).slice(0, top).map(([k, e]) => `${String(e.n).padStart(6)} ${k} (${e.bytes} B)`);
}
