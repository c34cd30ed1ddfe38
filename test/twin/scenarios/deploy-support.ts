/**
 * Helpers of the deploy scenario (./deploy.test.ts): the keyring configuration of cdk.json, the
 * stack outputs read back, the KMS grants of a key as KMS lists them, the catalog writes the
 * proxy saw, and the operator identity policy of docs/deploy.md §10 with its placeholders filled
 * from what a platform team can read after the deploy.
 */
import { GetBucketEncryptionCommand, type S3Client } from '@aws-sdk/client-s3';
import { ListGrantsCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { Twin } from '../twin';
import type { PolicyDocument } from '../world';

/** One entry of `keyrings` in cdk.json's `rekey` context. */
export interface KeyringConfig {
  readonly name: string;
  readonly rotateEvery: string;
  readonly grace: string;
  readonly propagation: string;
  readonly retention: string;
  readonly sensitivity: 'high' | 'moderate' | 'low';
  readonly applicationRoleArns: readonly string[];
}

/** A KMS grant reduced to what the deploy promises: who, what, and the exact context. */
export interface ListedGrant {
  readonly grantee: string;
  readonly operations: readonly string[];
  readonly context?: Readonly<Record<string, string>>;
  readonly name?: string;
}

/** The `KeyringKeys` output: keyring → KMS key ARN. */
export function keyringKeys(twin: Twin): Record<string, string> {
  return JSON.parse(twin.world.outputs.KeyringKeys ?? '{}') as Record<string, string>;
}

/** Every grant on `keyId` (ListGrants, all pages), sorted by grantee then version. */
export async function grantsOf(kms: KMSClient, keyId: string): Promise<ListedGrant[]> {
  const out: ListedGrant[] = [];
  let marker: string | undefined;
  do {
    const page = await kms.send(new ListGrantsCommand({ KeyId: keyId, Marker: marker }));
    for (const g of page.Grants ?? []) {
      out.push({
        grantee: g.GranteePrincipal ?? '',
        operations: g.Operations ?? [],
        ...(g.Constraints?.EncryptionContextEquals === undefined ? {} : { context: g.Constraints.EncryptionContextEquals }),
        ...(g.Name === undefined ? {} : { name: g.Name }),
      });
    }
    marker = page.Truncated === true ? page.NextMarker : undefined;
  } while (marker !== undefined);
  return out.sort((a, b) => `${a.grantee} ${a.context?.['version'] ?? ''}`.localeCompare(`${b.grantee} ${b.context?.['version'] ?? ''}`));
}

/**
 * Catalog object keys written (allowed PutObject under the catalog prefix) since request-log index
 * `mark`. Only the prefix: the state bucket also holds the observed key use (`key-use/<keyring>.json`,
 * written by the key-use function whenever CloudTrail reports an unwrap), which is no catalog write.
 */
export function catalogPuts(twin: Twin, mark: number): string[] {
  const bucket = `arn:aws:s3:::${twin.world.outputs.CatalogBucket ?? ''}/`;
  const prefix = `${bucket}${twin.world.outputs.CatalogPrefix ?? ''}`;
  return twin.world.requestLog
    .slice(mark)
    .filter((r) => r.allowed && r.action === 's3:PutObject')
    .flatMap((r) => r.resources.filter((x) => x.startsWith(prefix)).map((x) => x.slice(bucket.length)));
}

/**
 * The identity policy docs/deploy.md §10 tells the platform team to attach to an operator role,
 * placeholders filled: the stack's outputs, and the ops key ARN read from the catalog bucket's
 * default encryption (GetBucketEncryption, as an administrator would).
 */
export async function operatorPolicy(twin: Twin, adminS3: S3Client): Promise<PolicyDocument> {
  const { region, account, stackName, outputs } = twin.world;
  const bucket = outputs.CatalogBucket ?? '';
  const enc = await adminS3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
  const opsKey = enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID ?? '';
  const bus = `arn:aws:events:${region}:${account}:event-bus/${outputs.EventBusName ?? ''}`;
  const names = JSON.parse(outputs.FunctionNames ?? '{}') as Record<string, string>;
  const fnArn = (n: string): string => `arn:aws:lambda:${region}:${account}:function:${names[n] ?? ''}`;
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/*` },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${bucket}/catalog/*` },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': ['catalog/*'] } } },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: opsKey, Condition: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } } },
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: bus, Condition: { StringEquals: { 'events:source': 'rekey', 'events:detail-type': 'Key Version Compromised' } } },
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: bus, Condition: { StringEquals: { 'events:source': 'rekey.audit', 'events:detail-type': 'Rekey Audit Event' } } },
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [fnArn('rotate'), fnArn('escrow')] },
    ],
  };
}
