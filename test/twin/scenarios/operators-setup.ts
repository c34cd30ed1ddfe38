/**
 * What the operators scenario needs besides the twin: the operator identity policy exactly as
 * docs/deploy.md gives it (parsed from the doc, placeholders filled from the stack's outputs, so
 * the doc and the test cannot disagree), the application teams' record buckets docs/deploy.md
 * asks for, and admin reads of the catalog (moto directly: the state the scenario compares, not
 * a path any principal takes).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetBucketEncryptionCommand, GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import type { Catalog } from '../../../shared/catalog/model';
import type { Twin } from '../twin';
import type { PolicyDocument } from '../world';

/** The account-wide admin of the private moto_server (moto's documented test credentials). */
export function adminS3(twin: Twin): S3Client {
  return new S3Client({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
}

/** The ```json blocks of one `## ` section of docs/deploy.md, in order. */
export function docJsonBlocks(sectionTitle: string): string[] {
  const doc = readFileSync(join(__dirname, '../../../docs/deploy.md'), 'utf8');
  const start = doc.indexOf(`\n## ${sectionTitle}\n`);
  if (start < 0) throw new Error(`docs/deploy.md has no section '## ${sectionTitle}'`);
  const next = doc.indexOf('\n## ', start + 4);
  const section = doc.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/** Where the doc's `<placeholder>`s get their values: a constant, or something read from the deployed stack. */
export type PlaceholderValues = Readonly<Record<string, string | (() => Promise<string> | string)>>;

/**
 * One JSON block of docs/deploy.md "10. Operator roles" (`index` 0: the identity policy of an
 * operator role of this account; 1: of a role of another account), every `<placeholder>` replaced
 * from `values`, parsed. Throws on a placeholder `values` cannot fill, so a doc that starts asking
 * for something new fails here, by name.
 */
export async function operatorPolicyFromDoc(index: number, values: PlaceholderValues): Promise<PolicyDocument> {
  const block = docJsonBlocks('10. Operator roles')[index];
  if (block === undefined) throw new Error(`docs/deploy.md '10. Operator roles' holds no JSON block #${index}`);
  let text = block;
  for (const name of new Set([...block.matchAll(/<([^<>"]+)>/g)].map((m) => m[1] ?? ''))) {
    const value = values[name];
    if (value === undefined) throw new Error(`docs/deploy.md operator policy #${index} has a placeholder <${name}> the scenario cannot fill`);
    text = text.split(`<${name}>`).join(typeof value === 'string' ? value : await value());
  }
  return JSON.parse(text) as PolicyDocument;
}

/**
 * What a platform team fills the doc's placeholders with once the stack is deployed: its outputs,
 * and, for the ops key (no output names it), the catalog bucket's default encryption key.
 */
export function deployedValues(twin: Twin): PlaceholderValues {
  const { region, account, stackName, outputs } = { region: twin.world.region, account: twin.world.account, stackName: twin.world.stackName, outputs: twin.world.outputs };
  const functionArn = (rekeyName: string): string => `arn:aws:lambda:${region}:${account}:function:${twin.fn(rekeyName).name}`;
  return {
    region: () => region,
    account: () => account,
    stack: () => stackName,
    CatalogBucket: () => required(outputs.CatalogBucket, 'CatalogBucket'),
    EscrowBucket: () => required(outputs.EscrowBucket, 'EscrowBucket'),
    'escrow key ARN': () => required(outputs.EscrowKeyArn, 'EscrowKeyArn'),
    EventBusName: () => required(outputs.EventBusName, 'EventBusName'),
    'rotate function ARN': () => functionArn('rotate'),
    'escrow function ARN': () => functionArn('escrow'),
    'ops key ARN': async () => {
      const s3 = adminS3(twin);
      try {
        const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket: required(outputs.CatalogBucket, 'CatalogBucket') }));
        return required(enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID, 'catalog bucket KMS key');
      } finally {
        s3.destroy();
      }
    },
  };
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new Error(`the stack gives no ${what}`);
  return value;
}

/**
 * Creates the record target buckets cdk.json names (versioned, as docs/deploy.md tells the
 * application teams owning them) and registers them with the twin's authorizer.
 */
export async function createRecordBuckets(twin: Twin): Promise<void> {
  const targets = JSON.parse(twin.world.outputs.RecordTargets ?? '[]') as { bucket: string }[];
  const s3 = adminS3(twin);
  try {
    for (const bucket of new Set(targets.map((t) => t.bucket))) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      twin.world.buckets.set(bucket, { name: bucket, arn: `arn:aws:s3:::${bucket}`, versioning: true, eventBridge: false });
    }
  } finally {
    s3.destroy();
  }
}

/** The current catalog document of `keyring` (admin read). */
export async function readCatalog(twin: Twin, keyring: string): Promise<Catalog> {
  const s3 = adminS3(twin);
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: twin.world.outputs.CatalogBucket, Key: `${twin.world.outputs.CatalogPrefix ?? ''}${keyring}.json` }));
    return JSON.parse(await (res.Body as { transformToString(): Promise<string> }).transformToString()) as Catalog;
  } finally {
    s3.destroy();
  }
}

/** Every object version under the catalog prefix (a write of any catalog adds one). */
export async function catalogVersions(twin: Twin): Promise<string[]> {
  const s3 = adminS3(twin);
  try {
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: twin.world.outputs.CatalogBucket, Prefix: twin.world.outputs.CatalogPrefix }));
    return (res.Versions ?? []).map((v) => `${v.Key ?? ''}@${v.VersionId ?? ''}`).sort();
  } finally {
    s3.destroy();
  }
}
