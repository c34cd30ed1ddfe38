/**
 * Set-up of the recovery scenario, as docs/deploy.md tells a platform team: one keyring `drill`
 * (the runbook's name, so its commands run as written) that opts in to destruction, an
 * application role named in its `applicationRoleArns` with an identity policy for its own
 * versioned record bucket (the keyring's record target), and an operator role named in
 * `operatorRoleArns` carrying the identity policy of "10. Operator roles" (from the doc itself).
 * Besides the twin: the runbook's `rekey --aws` lines, parsed from docs/operations.md, and admin
 * reads (moto directly) of what the scenario compares.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListGrantsCommand, KMSClient, type GrantListEntry } from '@aws-sdk/client-kms';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import type { Catalog } from '../../../shared/catalog/model';
import { openApplication, type Application } from '../application';
import type { EventEnvelope } from '../drivers/types';
import { extrasOf } from '../standup/standup';
import { Twin } from '../twin';
import type { PolicyDocument, TwinRole } from '../world';
import { operatorPolicyFromDoc } from './operators-setup';
import { createRecordBucket, recordBucketPolicy, roleArn } from './support/app-team';

/** The runbook's keyring. */
export const KEYRING = 'drill';
/** The application team's role and its record target (bucket, prefix). */
export const APP_ROLE = 'backup-app';
export const RECORD_BUCKET = 'example-drill-records';
export const RECORD_PREFIX = 'drill/';
/** The platform team's operator role (runs `rekey --aws`). */
export const OPERATOR_ROLE = 'rekey-operator';

/**
 * The `rekey` context (cdk.json) of the scenario. `destroyAfterRetention: true` is the opt-in the
 * runbook's "Recover a destroyed version" assumes; every other duration is cdk.json's `pii`.
 */
export function recoveryContext(): Record<string, unknown> {
  return {
    keyrings: [
      {
        name: KEYRING,
        rotateEvery: '30d',
        grace: '7d',
        propagation: '15m',
        retention: '30d',
        quiet: '7d',
        destroyAfterRetention: true,
        sensitivity: 'moderate',
        applicationRoleArns: [roleArn(APP_ROLE)],
      },
    ],
    recordTargets: [{ keyring: KEYRING, bucket: RECORD_BUCKET, prefix: RECORD_PREFIX }],
    operatorRoleArns: [roleArn(OPERATOR_ROLE)],
  };
}

/** Splits a command line into words, honouring double and single quotes (as a POSIX shell would here). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

/**
 * The `rekey` lines of the `shell` blocks of docs/operations.md "### Recover a destroyed
 * version" (the blocks the runbook tests run; `sh` blocks are illustrations), as argv without
 * `rekey`, in order.
 */
export function runbookLines(): string[][] {
  const doc = readFileSync(join(__dirname, '../../../docs/operations.md'), 'utf8');
  const start = doc.indexOf('\n### Recover a destroyed version\n');
  if (start < 0) throw new Error("docs/operations.md has no '### Recover a destroyed version'");
  const rest = doc.slice(start + 1);
  const end = rest.slice(1).search(/\n##+ /);
  const section = end < 0 ? rest : rest.slice(0, end + 1);
  const lines: string[][] = [];
  for (const block of section.matchAll(/```shell\n([\s\S]*?)```/g)) {
    for (const raw of (block[1] ?? '').split('\n')) {
      const text = raw.trim();
      if (text.startsWith('rekey ')) lines.push(words(text).slice(1));
    }
  }
  return lines;
}

/** One audit event as the EventBridge audit sink publishes it. */
export interface AuditDetail {
  readonly action: string;
  readonly keyring?: string;
  readonly version?: number;
  readonly actor?: string;
  readonly reason?: string;
  readonly details?: Record<string, unknown>;
}

/** Everything the recovery scenario works with. */
export interface RecoveryWorld {
  readonly twin: Twin;
  readonly appRole: TwinRole;
  readonly operator: TwinRole;
  /** Moto's own KMS client (no authorization): what the test inspects grants with. */
  readonly adminKms: KMSClient;
  /** A freshly started application instance (no cached catalog or key). */
  app(): Application;
  /** The `drill` catalog as the application reads it. */
  catalog(): Promise<Catalog>;
  /** Live Decrypt grants on the drill key for the application role, as `version` strings. */
  appGrantVersions(): Promise<string[]>;
  /** Every audit event of `drill` in the stack's audit archive, in order. */
  audit(): (EventEnvelope & { detail: AuditDetail })[];
  close(): Promise<void>;
}

/** Stands the stack up with the scenario's roles and the application's record bucket. */
export async function standUpRecovery(): Promise<RecoveryWorld> {
  const twin = await Twin.standUp({
    context: recoveryContext(),
    roles: [
      { name: APP_ROLE, policies: [recordBucketPolicy(RECORD_BUCKET, RECORD_PREFIX)] },
      // The doc's policy for an operator role of this account names the stack only.
      { name: OPERATOR_ROLE, policies: [] },
    ],
  });
  const adminKms = new KMSClient({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const opened: Application[] = [];
  try {
    // docs/deploy.md: record targets are existing, versioned buckets of the application teams.
    await createRecordBucket(twin, RECORD_BUCKET);
    const operator = twin.role(OPERATOR_ROLE);
    const policy: PolicyDocument = await operatorPolicyFromDoc(0, { region: twin.world.region, account: twin.world.account, stack: twin.world.stackName });
    operator.policies.push(policy);
    const appRole = twin.role(APP_ROLE);
    const app = (): Application => {
      const a = openApplication({
        role: appRole,
        proxyUrl: twin.proxyUrl,
        region: twin.world.region,
        clock: twin.clock,
        catalogBucket: twin.world.outputs.CatalogBucket ?? '',
        catalogPrefix: twin.world.outputs.CatalogPrefix ?? '',
        recordBucket: RECORD_BUCKET,
        recordPrefix: RECORD_PREFIX,
      });
      opened.push(a);
      return a;
    };
    const reader = app();
    const catalogs = new S3CatalogStore({ client: reader.s3, bucket: twin.world.outputs.CatalogBucket ?? '', prefix: twin.world.outputs.CatalogPrefix ?? '' });
    const drillKey = (JSON.parse(twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>)[KEYRING] ?? '';
    return {
      twin,
      appRole,
      operator,
      adminKms,
      app,
      catalog: async () => {
        const stored = await catalogs.get(KEYRING);
        if (stored === undefined) throw new Error(`no ${KEYRING} catalog`);
        return stored.catalog;
      },
      appGrantVersions: async () => {
        const grants: GrantListEntry[] = [];
        let marker: string | undefined;
        do {
          const page = await adminKms.send(new ListGrantsCommand({ KeyId: drillKey, ...(marker === undefined ? {} : { Marker: marker }) }));
          grants.push(...(page.Grants ?? []));
          marker = page.Truncated === true ? page.NextMarker : undefined;
        } while (marker !== undefined);
        return grants
          .filter((g) => g.GranteePrincipal === appRole.arn && (g.Operations ?? []).includes('Decrypt'))
          .map((g) => g.Constraints?.EncryptionContextEquals?.['version'] ?? '?')
          .sort();
      },
      audit: () =>
        extrasOf(twin.world)
          .archives.flatMap((a) => twin.bus.archived(a.name))
          .filter((e) => e.source === 'rekey.audit' && e['detail-type'] === 'Rekey Audit Event' && (e.detail as unknown as AuditDetail).keyring === KEYRING) as (EventEnvelope & { detail: AuditDetail })[],
      close: async () => {
        adminKms.destroy();
        for (const a of opened) {
          a.s3.destroy();
          a.kms.destroy();
        }
        await twin.close();
      },
    };
  } catch (err) {
    adminKms.destroy();
    for (const a of opened) {
      a.s3.destroy();
      a.kms.destroy();
    }
    await twin.close();
    throw err;
  }
}
