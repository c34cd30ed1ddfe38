/**
 * What an application team does around a rekey deployment, as docs/deploy.md tells it: its own
 * role (named in `applicationRoleArns`), its own versioned record bucket, and an identity policy
 * for that bucket. Shared by the scenarios that need records.
 */
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import type { Twin } from '../../twin';
import type { PolicyDocument } from '../../world';
import { TWIN_ACCOUNT, TWIN_PARTITION } from '../../world';

/** ARN of a role of the twin's account. */
export function roleArn(name: string): string {
  return `arn:${TWIN_PARTITION}:iam::${TWIN_ACCOUNT}:role/${name}`;
}

/** The identity policy an application role needs on its own record bucket (prefix). */
export function recordBucketPolicy(bucket: string, prefix: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${bucket}/${prefix}*` },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': [`${prefix}*`] } } },
    ],
  };
}

/** Creates the team's versioned record bucket in the account and tells the twin about it. */
export async function createRecordBucket(twin: Twin, name: string): Promise<void> {
  const s3 = new S3Client({ endpoint: twin.moto.url, region: twin.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  } finally {
    s3.destroy();
  }
  twin.world.buckets.set(name, { name, arn: `arn:aws:s3:::${name}`, versioning: true, eventBridge: false });
}
