/**
 * The twin's authorizing proxy, end to end: real SDK v3 clients → proxy → private moto_server.
 * The authorizer here is a small table (the real one lives in authz/authorize.ts); what is under
 * test is what the proxy asks it, how it answers a deny in each protocol, and what reaches moto.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, ListMetricsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient, CreateTopicCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { AuthzDecision, AuthzRequest, GrantSource, KmsGrant, RequestAuthorizer } from './authz/types';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { awsErrorReply, mapRequest, stackArn, startTwinProxy, type AwsRequest, type ProxyReply, type RawHttpRequest, type TwinProxy } from './proxy';
import { TwinWorld, type TwinRole } from './world';

const CALLER_CLOCK = Date.parse('2027-03-01T12:00:00Z');

/** Allows what its table lists (globs), denies the rest; remembers every question. */
class TableAuthorizer implements RequestAuthorizer {
  public asked: AuthzRequest[] = [];
  public constructor(private readonly table: readonly { principal: string; action: string; resource?: string }[]) {}
  public async authorize(r: AuthzRequest): Promise<AuthzDecision> {
    this.asked.push(r);
    const who = r.principal.kind === 'role' ? r.principal.arn : r.principal.kind;
    const glob = (p: string, s: string): boolean => new RegExp(`^${p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(s);
    const hit = this.table.some((t) => glob(t.principal, who) && glob(t.action, r.action) && glob(t.resource ?? '*', r.resource));
    return hit ? { allowed: true, reason: 'table allows' } : { allowed: false, reason: `User: ${who} is not authorized to perform: ${r.action} on resource: ${r.resource}` };
  }
}

function role(name: string): TwinRole {
  return { logicalId: name, name, arn: `arn:aws:iam::123456789012:role/${name}`, trust: { Statement: [] }, policies: [], accessKeyId: `AKIA${name.toUpperCase()}`, secretAccessKey: 'secret' };
}

const app = role('app');
const reader = role('reader');
const intruder = role('intruder');
const world = new TwinWorld();
for (const r of [app, reader, intruder]) world.roles.set(r.logicalId, r);
const authorizer = new TableAuthorizer([
  { principal: app.arn, action: '*' },
  { principal: reader.arn, action: 's3:GetObject*', resource: 'arn:aws:s3:::data/*' },
  { principal: reader.arn, action: 's3:GetObject*', resource: 'arn:aws:s3:::sse/*' },
  { principal: reader.arn, action: 's3:ListBucket', resource: 'arn:aws:s3:::data' },
]);
const invalidated: (string | undefined)[] = [];
const grants: GrantSource = { grantsFor: async (): Promise<KmsGrant[]> => [], invalidate: (k) => void invalidated.push(k) };
const observed: { req: AwsRequest; reply: ProxyReply }[] = [];

let moto: PrivateMoto;
let proxy: TwinProxy;
let keyArn: string;

/**
 * A client acting as role `r` with its clock at CALLER_CLOCK. The clock is simulated with
 * systemClockOffset; since the SDK retries any error after re-sampling a skew of 4 minutes or more
 * (AwsSdkSigV4Signer.errorHandler, @aws-sdk/core), test clients make one attempt only.
 */
const cfg = (r: TwinRole) => ({
  endpoint: proxy.url,
  region: 'us-east-1',
  credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey },
  systemClockOffset: CALLER_CLOCK - Date.now(),
  maxAttempts: 1,
});
const direct = () => ({ endpoint: moto.url, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });

/** The questions the proxy asked during `fn`. */
async function questions(fn: () => Promise<unknown>): Promise<AuthzRequest[]> {
  authorizer.asked = [];
  await fn();
  return authorizer.asked;
}

/** The error a call fails with. */
async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; $metadata: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (err) {
    return err as { name: string; message: string; $metadata: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  moto = await startPrivateMoto();
  const s3 = new S3Client(direct());
  await s3.send(new CreateBucketCommand({ Bucket: 'data' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'data', VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new CreateBucketCommand({ Bucket: 'sse' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }));
  keyArn = (await new KMSClient(direct()).send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
  world.keys.set('Key', { logicalId: 'Key', keyId: keyArn.split('/')[1] ?? '', arn: keyArn, policy: { Statement: [] } });
  world.buckets.set('data', { name: 'data', arn: 'arn:aws:s3:::data', versioning: true, eventBridge: false });
  world.buckets.set('sse', { name: 'sse', arn: 'arn:aws:s3:::sse', versioning: false, eventBridge: false, kmsKeyArn: keyArn });
  world.buckets.set('locked', { name: 'locked', arn: 'arn:aws:s3:::locked', versioning: true, eventBridge: false, objectLock: { mode: 'COMPLIANCE', days: 30 } });
  proxy = await startTwinProxy({
    world,
    motoUrl: moto.url,
    authorizer,
    grants,
    hooks: {
      // The twin serves these itself; shapes: Invoke (Lambda API Reference: 200 + payload,
      // X-Amz-Executed-Version), PutEvents ({FailedEntryCount, Entries[{EventId}]}), StartExecution
      // ({executionArn, startDate}), DescribeStacks (awsQuery DescribeStacksResult).
      handle: (req) => {
        if (req.operation === 'Invoke') return { status: 200, headers: { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' }, body: Buffer.from('"served"') };
        if (req.operation === 'PutEvents') return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Buffer.from(JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] })) };
        if (req.operation === 'StartExecution') return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.from(JSON.stringify({ executionArn: `${String(req.params['stateMachineArn'])}:x`, startDate: req.at / 1000 })) };
        if (req.operation === 'DescribeStacks') {
          const xml = `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>Rekey</StackName><StackId>${stackArn(world)}</StackId><CreationTime>2027-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs><member><OutputKey>Bucket</OutputKey><OutputValue>data</OutputValue></member></Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>`;
          return { status: 200, headers: { 'content-type': 'text/xml' }, body: Buffer.from(xml) };
        }
        if (req.operation === 'DescribeReplicationGroups') return awsErrorReply('elasticache', 404, 'ReplicationGroupNotFoundFault', 'not here');
        return undefined;
      },
      after: (req, reply) => void observed.push({ req, reply }),
    },
  });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
});

describe('S3 (REST-XML, path-style)', () => {
  it('uses path-style for the IP endpoint without forcePathStyle, and AWS_ENDPOINT_URL reaches the proxy', async () => {
    const before = process.env['AWS_ENDPOINT_URL'];
    process.env['AWS_ENDPOINT_URL'] = proxy.url;
    try {
      const { endpoint: _unused, ...noEndpoint } = cfg(app);
      await new S3Client(noEndpoint).send(new PutObjectCommand({ Bucket: 'data', Key: 'dir/a.txt', Body: 'hello' }));
    } finally {
      if (before === undefined) delete process.env['AWS_ENDPOINT_URL'];
      else process.env['AWS_ENDPOINT_URL'] = before;
    }
    expect(observed.at(-1)?.req.raw.path).toBe('/data/dir/a.txt');
    expect(observed.at(-1)?.req.operation).toBe('PutObject');
  });

  it('forwards an allowed GetObject to moto and returns its answer', async () => {
    const out = await new S3Client(cfg(reader)).send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/a.txt' }));
    expect(await out.Body?.transformToString()).toBe('hello');
  });

  it('denies as S3 does: AccessDenied 403 with the authorizer reason, nothing reaches moto', async () => {
    const err = await failure(new S3Client(cfg(reader)).send(new PutObjectCommand({ Bucket: 'data', Key: 'dir/b.txt', Body: 'x' })));
    expect(err.name).toBe('AccessDenied');
    expect(err.$metadata.httpStatusCode).toBe(403);
    expect(err.message).toContain('s3:PutObject on resource: arn:aws:s3:::data/dir/b.txt');
    await expect(new S3Client(direct()).send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/b.txt' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  // "Actions, resources, and condition keys for Amazon S3": GetObject with a versionId is
  // s3:GetObjectVersion (condition key s3:versionid); ListBucket carries s3:prefix.
  it('maps GetObject with VersionId to s3:GetObjectVersion and ListObjectsV2 Prefix to s3:prefix', async () => {
    const put = await new S3Client(cfg(app)).send(new PutObjectCommand({ Bucket: 'data', Key: 'v.txt', Body: 'one' }));
    const asked = await questions(() => new S3Client(cfg(reader)).send(new GetObjectCommand({ Bucket: 'data', Key: 'v.txt', VersionId: put.VersionId })));
    expect(asked).toEqual([expect.objectContaining({ action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::data/v.txt', context: expect.objectContaining({ 's3:versionid': put.VersionId, 'aws:SecureTransport': true }) })]);
    const listed = await questions(() => new S3Client(cfg(reader)).send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'dir/' })));
    expect(listed).toEqual([expect.objectContaining({ action: 's3:ListBucket', resource: 'arn:aws:s3:::data', context: expect.objectContaining({ 's3:prefix': 'dir/' }) })]);
  });

  it('reports aws:SecureTransport false when the request carries x-twin-insecure-transport: 1', async () => {
    const client = new S3Client(cfg(reader));
    client.middlewareStack.add((next) => async (args) => { (args.request as { headers: Record<string, string> }).headers['x-twin-insecure-transport'] = '1'; return next(args); }, { step: 'build' });
    const asked = await questions(() => client.send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/a.txt' })));
    expect(asked[0]?.context?.['aws:SecureTransport']).toBe(false);
  });

  // SSE-KMS: S3 calls KMS as the caller (kms:GenerateDataKey to write, kms:Decrypt to read) with
  // kms:ViaService s3.<region>.amazonaws.com; with an S3 Bucket Key the context is the bucket ARN
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key.html).
  it('adds the KMS calls S3 makes for an SSE-KMS bucket, and a KMS deny fails the S3 call', async () => {
    const viaS3 = { 'kms:ViaService': 's3.us-east-1.amazonaws.com', 'kms:CallerAccount': '123456789012', 'kms:EncryptionContext:aws:s3:arn': 'arn:aws:s3:::sse', 'kms:EncryptionContextKeys': ['aws:s3:arn'] };
    const wrote = await questions(() => new S3Client(cfg(app)).send(new PutObjectCommand({ Bucket: 'sse', Key: 'k', Body: 'secret' })));
    expect(wrote.map((q) => q.action)).toEqual(['s3:PutObject', 'kms:GenerateDataKey']);
    expect(wrote[1]).toMatchObject({ resource: keyArn, principal: { kind: 'role', arn: app.arn }, context: viaS3 });
    authorizer.asked = [];
    const err = await failure(new S3Client(cfg(reader)).send(new GetObjectCommand({ Bucket: 'sse', Key: 'k' })));
    expect(authorizer.asked.map((q) => q.action)).toEqual(['s3:GetObject', 'kms:Decrypt']);
    expect(authorizer.asked[1]).toMatchObject({ resource: keyArn, context: viaS3 });
    expect(err.name).toBe('AccessDenied');
    expect(err.message).toContain('kms:Decrypt');
  });

  it('applies the bucket default retention from the caller clock, for PutObject and multipart uploads', async () => {
    const s3 = new S3Client(cfg(app));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'locked', Key: 'r', Body: 'x' }));
    // moto 5.2.1 has no GetObjectRetention handler (it answers the object); HeadObject reports the lock headers.
    const head = await new S3Client(direct()).send(new HeadObjectCommand({ Bucket: 'locked', Key: 'r', VersionId: put.VersionId }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const expected = Math.floor(CALLER_CLOCK / 1000) * 1000 + 30 * 86_400_000;
    expect(Math.abs((head.ObjectLockRetainUntilDate?.getTime() ?? 0) - expected)).toBeLessThan(5_000);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'locked', Key: 'm' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'locked', Key: 'm', UploadId, PartNumber: 1, Body: 'part' }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'locked', Key: 'm', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const mpu = await new S3Client(direct()).send(new HeadObjectCommand({ Bucket: 'locked', Key: 'm', VersionId: done.VersionId }));
    expect(mpu.ObjectLockMode).toBe('COMPLIANCE');
    expect(Math.abs((mpu.ObjectLockRetainUntilDate?.getTime() ?? 0) - expected)).toBeLessThan(5_000);
  });

  it('answers an unknown access key with InvalidAccessKeyId and logs it as denied', async () => {
    const err = await failure(new S3Client({ ...cfg(app), credentials: { accessKeyId: 'AKIANOBODY', secretAccessKey: 'x' } }).send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/a.txt' })));
    expect(err.name).toBe('InvalidAccessKeyId');
    expect(world.requestLog.at(-1)).toMatchObject({ allowed: false, status: 403, caller: 'anonymous', reason: 'unknown access key AKIANOBODY' });
  });
});

describe('KMS (AWS JSON 1.1)', () => {
  // "AWS KMS condition keys": kms:EncryptionContext:<key>, kms:EncryptionContextKeys, kms:CallerAccount.
  it('authorizes Decrypt on the key that encrypted (read from the ciphertext) with the encryption context keys', async () => {
    const kms = new KMSClient(cfg(app));
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('k'), EncryptionContext: { keyring: 'payments', version: '3' } }));
    const asked = await questions(() => kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { keyring: 'payments', version: '3' } })));
    expect(asked).toEqual([
      expect.objectContaining({
        action: 'kms:Decrypt',
        resource: keyArn,
        context: expect.objectContaining({ 'kms:EncryptionContext:keyring': 'payments', 'kms:EncryptionContext:version': '3', 'kms:EncryptionContextKeys': ['keyring', 'version'], 'kms:CallerAccount': '123456789012' }),
      }),
    ]);
    const err = await failure(new KMSClient(cfg(intruder)).send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { keyring: 'payments', version: '3' } })));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it('resolves an alias KeyId to its key ARN (kms:RequestAlias)', async () => {
    await new KMSClient(direct()).send(new CreateAliasCommand({ AliasName: 'alias/twin', TargetKeyId: keyArn }));
    const asked = await questions(() => new KMSClient(cfg(app)).send(new EncryptCommand({ KeyId: 'alias/twin', Plaintext: Buffer.from('k') })));
    expect(asked[0]).toMatchObject({ action: 'kms:Encrypt', resource: keyArn, context: { 'kms:RequestAlias': 'alias/twin' } });
  });

  // "kms:GrantOperations", "kms:GranteePrincipal", "kms:GrantConstraintType", "kms:GrantIsForAWSResource" (AWS KMS condition keys).
  it('maps CreateGrant to the grant condition keys, reaches moto, and invalidates the grant cache', async () => {
    invalidated.length = 0;
    const kms = new KMSClient(cfg(app));
    const asked = await questions(() =>
      kms.send(new CreateGrantCommand({ KeyId: keyArn, GranteePrincipal: reader.arn, Operations: ['Decrypt'], Constraints: { EncryptionContextEquals: { keyring: 'payments', version: '3' } }, Name: 'rekey-v3' })),
    );
    expect(asked[0]).toMatchObject({
      action: 'kms:CreateGrant',
      resource: keyArn,
      context: { 'kms:GrantOperations': ['Decrypt'], 'kms:GranteePrincipal': reader.arn, 'kms:GrantConstraintType': 'EncryptionContextEquals', 'kms:EncryptionContext:keyring': 'payments', 'kms:EncryptionContextKeys': ['keyring', 'version'], 'kms:GrantIsForAWSResource': false },
    });
    expect(invalidated).toEqual([keyArn]);
    const listed = await kms.send(new ListGrantsCommand({ KeyId: keyArn }));
    expect(listed.Grants?.map((g) => g.Name)).toContain('rekey-v3');
  });

  it('answers an unknown access key with UnrecognizedClientException', async () => {
    const err = await failure(new KMSClient({ ...cfg(app), credentials: { accessKeyId: 'AKIANOBODY', secretAccessKey: 'x' } }).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('k') })));
    expect(err.name).toBe('UnrecognizedClientException');
  });
});

describe('SQS, SNS, CloudWatch, ElastiCache (JSON 1.0 query-compatible and awsQuery)', () => {
  it('SQS: allowed SendMessage reaches moto; a deny is AccessDenied', async () => {
    const { QueueUrl } = await new SQSClient(direct()).send(new CreateQueueCommand({ QueueName: 'q' }));
    const asked = await questions(() => new SQSClient(cfg(app)).send(new SendMessageCommand({ QueueUrl, MessageBody: 'hi' })));
    expect(asked[0]).toMatchObject({ action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:123456789012:q' });
    const got = await new SQSClient(direct()).send(new ReceiveMessageCommand({ QueueUrl }));
    expect(got.Messages?.[0]?.Body).toBe('hi');
    const err = await failure(new SQSClient(cfg(intruder)).send(new SendMessageCommand({ QueueUrl, MessageBody: 'no' })));
    expect(err.name).toBe('AccessDenied');
    expect(err.$metadata.httpStatusCode).toBe(403);
  });

  it('SNS: allowed Publish reaches moto; a deny is AuthorizationError (403)', async () => {
    const { TopicArn } = await new SNSClient(direct()).send(new CreateTopicCommand({ Name: 't' }));
    const out = await new SNSClient(cfg(app)).send(new PublishCommand({ TopicArn, Message: 'm' }));
    expect(out.MessageId).toBeDefined();
    const err = await failure(new SNSClient(cfg(intruder)).send(new PublishCommand({ TopicArn, Message: 'm' })));
    expect(err.name).toBe('AuthorizationErrorException');
    expect(err.$metadata.httpStatusCode).toBe(403);
    const unknown = await failure(new SNSClient({ ...cfg(app), credentials: { accessKeyId: 'AKIANOBODY', secretAccessKey: 'x' } }).send(new PublishCommand({ TopicArn, Message: 'm' })));
    expect(unknown.name).toBe('InvalidClientTokenId');
  });

  it('CloudWatch: moto accepts the JSON 1.0 PutMetricData the SDK sends; a deny is AccessDenied', async () => {
    const asked = await questions(() => new CloudWatchClient(cfg(app)).send(new PutMetricDataCommand({ Namespace: 'Rekey', MetricData: [{ MetricName: 'Decrypts', Value: 1 }] })));
    expect(asked[0]).toMatchObject({ action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Rekey' } });
    const metrics = await new CloudWatchClient(direct()).send(new ListMetricsCommand({ Namespace: 'Rekey' }));
    expect(metrics.Metrics?.map((m) => m.MetricName)).toContain('Decrypts');
    const err = await failure(new CloudWatchClient(cfg(intruder)).send(new PutMetricDataCommand({ Namespace: 'Rekey', MetricData: [{ MetricName: 'X', Value: 1 }] })));
    expect(err.name).toBe('AccessDenied');
  });

  it('ElastiCache: DescribeReplicationGroups is asked on the replication group ARN', async () => {
    const asked = await questions(() => failure(new ElastiCacheClient(cfg(app)).send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: 'rekey-cache' }))));
    expect(asked[0]).toMatchObject({ action: 'elasticache:DescribeReplicationGroups', resource: 'arn:aws:elasticache:us-east-1:123456789012:replicationgroup:rekey-cache' });
    const err = await failure(new ElastiCacheClient(cfg(intruder)).send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: 'rekey-cache' })));
    expect(err.name).toBe('AccessDenied');
  });
});

describe('twin-served requests (hooks)', () => {
  it('EventBridge PutEvents: one check per entry with events:source / events:detail-type, served by the hook', async () => {
    const asked = await questions(() =>
      new EventBridgeClient(cfg(app)).send(new PutEventsCommand({ Entries: [{ Source: 'rekey', DetailType: 'KeyRotated', Detail: '{}' }, { Source: 'rekey', DetailType: 'Audit', Detail: '{}', EventBusName: 'audit' }] })),
    );
    expect(asked.map((q) => [q.resource, q.context?.['events:source'], q.context?.['events:detail-type']])).toEqual([
      ['arn:aws:events:us-east-1:123456789012:event-bus/default', 'rekey', 'KeyRotated'],
      ['arn:aws:events:us-east-1:123456789012:event-bus/audit', 'rekey', 'Audit'],
    ]);
    const err = await failure(new EventBridgeClient(cfg(intruder)).send(new PutEventsCommand({ Entries: [{ Source: 'rekey', DetailType: 'X', Detail: '{}' }] })));
    expect(err.name).toBe('AccessDeniedException');
  });

  it('Lambda Invoke: lambda:InvokeFunction on the function ARN, served by the hook; a deny is AccessDeniedException 403', async () => {
    const asked = await questions(async () => {
      const out = await new LambdaClient(cfg(app)).send(new InvokeCommand({ FunctionName: 'rekey-sweeper', InvocationType: 'Event', Payload: Buffer.from('{}') }));
      expect(Buffer.from(out.Payload ?? new Uint8Array()).toString()).toBe('"served"');
    });
    expect(asked[0]).toMatchObject({ action: 'lambda:InvokeFunction', resource: 'arn:aws:lambda:us-east-1:123456789012:function:rekey-sweeper' });
    expect(observed.at(-1)?.req.params['InvocationType']).toBe('Event');
    const err = await failure(new LambdaClient(cfg(intruder)).send(new InvokeCommand({ FunctionName: 'rekey-sweeper' })));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.$metadata.httpStatusCode).toBe(403);
  });

  it('Step Functions StartExecution and CloudFormation DescribeStacks are authorized on their ARNs and served', async () => {
    const sm = 'arn:aws:states:us-east-1:123456789012:stateMachine:sweep';
    const started = await questions(async () => expect((await new SFNClient(cfg(app)).send(new StartExecutionCommand({ stateMachineArn: sm }))).executionArn).toBe(`${sm}:x`));
    expect(started[0]).toMatchObject({ action: 'states:StartExecution', resource: sm });
    const described = await questions(async () => {
      const out = await new CloudFormationClient(cfg(app)).send(new DescribeStacksCommand({ StackName: 'Rekey' }));
      expect(out.Stacks?.[0]?.Outputs).toEqual([{ OutputKey: 'Bucket', OutputValue: 'data' }]);
    });
    expect(described[0]).toMatchObject({ action: 'cloudformation:DescribeStacks', resource: stackArn(world, 'Rekey') });
    const err = await failure(new CloudFormationClient(cfg(intruder)).send(new DescribeStacksCommand({ StackName: 'Rekey' })));
    expect(err.name).toBe('AccessDenied');
  });
});

describe('request log', () => {
  it('records service, action, caller, resources, decision, sizes, status and the caller clock', async () => {
    world.requestLog.length = 0;
    await failure(new S3Client(cfg(intruder)).send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/a.txt' })));
    await new S3Client(cfg(app)).send(new PutObjectCommand({ Bucket: 'data', Key: 'log.txt', Body: '12345' }));
    const [denied, allowed] = world.requestLog;
    expect(denied).toMatchObject({ service: 's3', action: 's3:GetObject', caller: intruder.arn, resources: ['arn:aws:s3:::data/dir/a.txt'], allowed: false, status: 403 });
    expect(denied?.reason).toContain('is not authorized');
    expect(allowed).toMatchObject({ service: 's3', action: 's3:PutObject', caller: app.arn, allowed: true, status: 200, bytesIn: 5 });
    expect(Math.abs((allowed?.at ?? 0) - CALLER_CLOCK)).toBeLessThan(5_000);
  });
});

describe('mapRequest (pure)', () => {
  const signed = (service: string, extra: Record<string, string> = {}): Record<string, string> => ({
    authorization: `AWS4-HMAC-SHA256 Credential=${app.accessKeyId}/20270301/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    'x-amz-date': '20270301T120000Z',
    ...extra,
  });
  const raw = (r: Partial<RawHttpRequest> & { headers: Record<string, string> }): RawHttpRequest => ({ method: 'POST', path: '/', query: '', body: Buffer.alloc(0), ...r });

  // UploadPartCopy needs read access to the source version and s3:PutObject on the target ("UploadPartCopy", S3 API Reference, Permissions).
  it('UploadPartCopy from a version: s3:GetObjectVersion on the source, s3:PutObject on the target, time from x-amz-date', () => {
    const req = mapRequest(world, raw({ method: 'PUT', path: '/data/big', query: 'partNumber=2&uploadId=u1', headers: signed('s3', { 'x-amz-copy-source': 'data/big?versionId=v1' }) }));
    expect(req.operation).toBe('UploadPartCopy');
    expect(req.authz.map((a) => [a.action, a.resource, a.context?.['s3:versionid']])).toEqual([
      ['s3:GetObjectVersion', 'arn:aws:s3:::data/big', 'v1'],
      ['s3:PutObject', 'arn:aws:s3:::data/big', undefined],
    ]);
    expect(req.principal).toEqual({ kind: 'role', arn: app.arn });
    expect(req.at).toBe(CALLER_CLOCK);
  });

  it('DeleteObjects: one s3:DeleteObject / s3:DeleteObjectVersion per key', () => {
    const body = Buffer.from('<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>v9</VersionId></Object></Delete>');
    const req = mapRequest(world, raw({ path: '/data', query: 'delete', headers: signed('s3'), body }));
    expect(req.authz.map((a) => [a.action, a.resource])).toEqual([
      ['s3:DeleteObject', 'arn:aws:s3:::data/a&b'],
      ['s3:DeleteObjectVersion', 'arn:aws:s3:::data/c'],
    ]);
  });

  it('ReEncrypt: kms:ReEncryptFrom on the key inside the ciphertext, kms:ReEncryptTo on the destination', () => {
    const keyId = keyArn.split('/')[1] ?? '';
    const blob = Buffer.concat([Buffer.from(keyId), Buffer.alloc(12 + 16 + 8)]).toString('base64');
    const body = Buffer.from(JSON.stringify({ CiphertextBlob: blob, SourceEncryptionContext: { keyring: 'a' }, DestinationKeyId: 'other-key', DestinationEncryptionContext: { keyring: 'b' } }));
    const req = mapRequest(world, raw({ headers: signed('kms', { 'x-amz-target': 'TrentService.ReEncrypt', 'content-type': 'application/x-amz-json-1.1' }), body }));
    expect(req.authz.map((a) => [a.action, a.resource, a.context?.['kms:EncryptionContext:keyring']])).toEqual([
      ['kms:ReEncryptFrom', keyArn, 'a'],
      ['kms:ReEncryptTo', 'arn:aws:kms:us-east-1:123456789012:key/other-key', 'b'],
    ]);
  });

  it('an unsigned request is anonymous; an unknown key is flagged', () => {
    expect(mapRequest(world, raw({ method: 'GET', path: '/data/x', headers: {} })).principal).toEqual({ kind: 'anonymous' });
    const unknown = mapRequest(world, raw({ method: 'GET', path: '/data/x', headers: { ...signed('s3'), authorization: 'AWS4-HMAC-SHA256 Credential=AKIAX/20270301/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0' } }));
    expect(unknown.unknownAccessKey).toBe(true);
  });
});
