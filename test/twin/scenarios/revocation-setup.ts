/**
 * Set-up of the emergency-revocation scenario, exactly as docs/deploy.md tells a platform team:
 * an application role named in a keyring's `applicationRoleArns` with an identity policy for its
 * own (versioned) record bucket, an operator role named in `operatorRoleArns` carrying the
 * identity policy of "10. Operator roles" (read from the doc itself, placeholders filled from the
 * stack's outputs), and the record target buckets created by the application team.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { DecryptCommand, ListGrantsCommand, KMSClient, type GrantListEntry } from '@aws-sdk/client-kms';
import { S3CatalogStore } from '../../../shared/adapters/aws/s3-catalog-store';
import type { Catalog } from '../../../shared/catalog/model';
import { openApplication, type Application } from '../application';
import { Twin } from '../twin';
import { TWIN_ACCOUNT, type PolicyDocument, type TwinRole } from '../world';

/** The application team's role (uses keyring `pii`). */
export const APP_ROLE = 'orders-app';
/** The platform team's operator role (runs `rekey --aws`). */
export const OPERATOR_ROLE = 'rekey-operator';
/** The record target of `pii` (cdk.json), and its prefix. */
export const RECORD_BUCKET = 'example-orders-records';
export const RECORD_PREFIX = 'pii/';
const OTHER_BUCKET = 'example-ops-records';

export const roleArn = (name: string): string => `arn:aws:iam::${TWIN_ACCOUNT}:role/${name}`;

/** The `rekey` context of the scenario: cdk.json's keyrings plus the two roles. */
export function revocationContext(piiOverrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    keyrings: [
      { name: 'pii', rotateEvery: '30d', grace: '7d', propagation: '15m', retention: '30d', sensitivity: 'high', applicationRoleArns: [roleArn(APP_ROLE)], ...piiOverrides },
      { name: 'ops', rotateEvery: '90d', grace: '14d', propagation: '10m', retention: '90d', sensitivity: 'moderate' },
    ],
    operatorRoleArns: [roleArn(OPERATOR_ROLE)],
  };
}

/** The application's identity policy: its own record bucket (docs/deploy.md: "its own bucket"). */
const APP_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${RECORD_BUCKET}/${RECORD_PREFIX}*` },
    { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${RECORD_BUCKET}` },
  ],
};

/**
 * The operator identity policy of docs/deploy.md "10. Operator roles", verbatim, with its
 * placeholders filled the way a platform team would: from the stack outputs, and the ops key from
 * the catalog bucket's default encryption (`aws s3api get-bucket-encryption`).
 */
export function operatorPolicyFromDoc(twin: Twin): PolicyDocument {
  const doc = readFileSync(join(__dirname, '../../../docs/deploy.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## 10. Operator roles'));
  const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  if (json === undefined) throw new Error('docs/deploy.md section 10 has no JSON policy');
  const out = twin.world.outputs;
  const names = JSON.parse(out.FunctionNames ?? '{}') as Record<string, string>;
  const opsKey = twin.world.buckets.get(out.CatalogBucket ?? '')?.kmsKeyArn;
  const fnArn = (n: string): string => twin.world.fn(names[n] ?? '')?.arn ?? `missing ${n}`;
  const filled = json
    .replaceAll('<region>', twin.world.region)
    .replaceAll('<account>', twin.world.account)
    .replaceAll('<stack>', twin.world.stackName)
    .replaceAll('<CatalogBucket>', out.CatalogBucket ?? 'missing')
    .replaceAll('<EventBusName>', out.EventBusName ?? 'missing')
    .replaceAll('<ops key ARN>', opsKey ?? 'missing')
    .replaceAll('<rotate function ARN>', fnArn('rotate'))
    .replaceAll('<escrow function ARN>', fnArn('escrow'));
  if (/<[A-Za-z ]+>/.test(filled)) throw new Error(`unfilled placeholder in the doc's operator policy: ${filled}`);
  return JSON.parse(filled) as PolicyDocument;
}

/** Everything a revocation scenario works with. */
export interface RevocationWorld {
  readonly twin: Twin;
  readonly app: Application;
  readonly appRole: TwinRole;
  readonly operator: TwinRole;
  /** Moto's own clients (no authorization): what the test inspects with, never what the product uses. */
  readonly admin: { readonly s3: S3Client; readonly kms: KMSClient };
  /** The `pii` catalog as the application reads it. */
  catalog(): Promise<Catalog>;
  /** The stored envelope of record `id` (read as admin). */
  envelope(id: string): Promise<Buffer>;
  /** The application's own KMS Decrypt of version `v`'s wrapped key (what its key provider sends). */
  unwrapAsApp(v: number): Promise<void>;
  /** Live grants on the pii key for the application role, as `version` strings. */
  appGrantVersions(): Promise<string[]>;
  close(): Promise<void>;
}

/** Options of {@link standUpRevocation}: more `rekey` context and more roles of the account. */
export interface RevocationOptions {
  readonly context?: Record<string, unknown>;
  readonly roles?: readonly { readonly name: string; readonly policies: readonly PolicyDocument[] }[];
}

/** Stands the stack up with the scenario's roles and buckets. */
export async function standUpRevocation(options: RevocationOptions = {}): Promise<RevocationWorld> {
  const twin = await Twin.standUp({
    context: { ...revocationContext(), ...options.context },
    roles: [
      { name: APP_ROLE, policies: [APP_POLICY] },
      // The doc's policy names resources of the stack: attached once it is deployed (below).
      { name: OPERATOR_ROLE, policies: [] },
      ...(options.roles ?? []),
    ],
  });
  const admin = {
    s3: new S3Client({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true }),
    kms: new KMSClient({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }),
  };
  try {
    for (const name of [RECORD_BUCKET, OTHER_BUCKET]) {
      // docs/deploy.md: record targets are existing, versioned buckets of the application teams.
      await admin.s3.send(new CreateBucketCommand({ Bucket: name }));
      await admin.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
      twin.world.buckets.set(name, { name, arn: `arn:aws:s3:::${name}`, versioning: true, eventBridge: false });
    }
    const operator = twin.role(OPERATOR_ROLE);
    operator.policies.push(operatorPolicyFromDoc(twin));
    const appRole = twin.role(APP_ROLE);
    const app = openApplication({
      role: appRole,
      proxyUrl: twin.proxyUrl,
      region: twin.world.region,
      clock: twin.clock,
      catalogBucket: twin.world.outputs.CatalogBucket ?? '',
      catalogPrefix: twin.world.outputs.CatalogPrefix ?? '',
      recordBucket: RECORD_BUCKET,
      recordPrefix: RECORD_PREFIX,
    });
    const catalogs = new S3CatalogStore({ client: app.s3, bucket: twin.world.outputs.CatalogBucket ?? '', prefix: twin.world.outputs.CatalogPrefix ?? '' });
    const piiKey = (JSON.parse(twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>).pii ?? '';
    const catalog = async (): Promise<Catalog> => {
      const stored = await catalogs.get('pii');
      if (stored === undefined) throw new Error('no pii catalog');
      return stored.catalog;
    };
    return {
      twin,
      app,
      appRole,
      operator,
      admin,
      catalog,
      envelope: async (id) => {
        const res = await admin.s3.send(new GetObjectCommand({ Bucket: RECORD_BUCKET, Key: `${RECORD_PREFIX}${id}` }));
        return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      },
      unwrapAsApp: async (v) => {
        const version = (await catalog()).versions.find((x) => x.version === v);
        if (version?.wrappedKey === undefined) throw new Error(`version ${v} has no wrapped key`);
        // KmsKeyVault.unwrap: explicit KeyId, context {keyring, version}.
        const res = await app.kms.send(
          new DecryptCommand({ KeyId: version.wrappingKeyId, CiphertextBlob: Buffer.from(version.wrappedKey, 'base64'), EncryptionContext: { keyring: 'pii', version: String(v) } }),
        );
        res.Plaintext?.fill(0);
      },
      appGrantVersions: async () => {
        const grants: GrantListEntry[] = [];
        let marker: string | undefined;
        do {
          const page = await admin.kms.send(new ListGrantsCommand({ KeyId: piiKey, ...(marker === undefined ? {} : { Marker: marker }) }));
          grants.push(...(page.Grants ?? []));
          marker = page.Truncated === true ? page.NextMarker : undefined;
        } while (marker !== undefined);
        return grants
          .filter((g) => g.GranteePrincipal === appRole.arn)
          .map((g) => g.Constraints?.EncryptionContextEquals?.version ?? '?')
          .sort();
      },
      close: async () => {
        admin.s3.destroy();
        admin.kms.destroy();
        app.s3.destroy();
        app.kms.destroy();
        await twin.close();
      },
    };
  } catch (err) {
    admin.s3.destroy();
    admin.kms.destroy();
    await twin.close();
    throw err;
  }
}
