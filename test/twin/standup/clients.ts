/**
 * SDK clients on a private moto_server with moto's admin credentials (TOOLCHAIN.md: endpoint,
 * us-east-1, testing/testing, path-style S3). The stand-up talks to moto directly, never through
 * the twin's authorizing proxy: CloudFormation acts with the deployer's rights.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { TWIN_REGION } from '../world';
import type { MotoClients } from './types';

/** Admin clients on `motoUrl`. */
export function motoClients(motoUrl: string): MotoClients {
  const config = { endpoint: motoUrl, region: TWIN_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  return {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    kms: new KMSClient(config),
    sqs: new SQSClient(config),
    sns: new SNSClient(config),
    events: new EventBridgeClient(config),
    cloudwatch: new CloudWatchClient(config),
    sfn: new SFNClient(config),
  };
}

/** Closes the clients' sockets. */
export function destroyClients(clients: MotoClients): void {
  for (const c of Object.values(clients) as { destroy(): void }[]) c.destroy();
}
