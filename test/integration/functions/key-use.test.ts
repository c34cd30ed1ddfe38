import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { createKeyUseHandler } from '../../../functions/key-use/handler';
import { S3KeyUseLog } from '../../../shared/adapters/aws/s3-key-use-log';
import { buildKeyUseServices, loadIgnoredRoleArns } from '../../../shared/compose/aws/key-use-services';
import { KEY_USE_IGNORED_ROLES_ENV } from '../../../shared/vocabulary/key-use-names';
import { ENV } from '../../../shared/config/env-names';
import { loadConfig } from '../../../shared/config/load-config';
import { ValidationError } from '../../../shared/errors';
import { createLogger } from '../../../shared/lambda/create-logger';
import { lambdaContext, motoClients, RecordingMetrics, uniqueName } from './support/harness';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';

const ACCOUNT = '123456789012';
const PII_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const OPS_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ff`;
const ESCROW_ROLE = `arn:aws:iam::${ACCOUNT}:role/Rekey-FnescrowRole`;
const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/orders`;

/**
 * A KMS Decrypt as CloudTrail delivers it to EventBridge, field for field the shape of "Decrypt"
 * (AWS KMS Developer Guide, ct-decrypt.html) inside the "AWS API Call via CloudTrail" envelope.
 */
function decryptEvent(o: { keyring?: string; version?: string; at?: string; key?: string; role?: string; errorCode?: string } = {}): Record<string, unknown> {
  const role = o.role ?? APP_ROLE;
  const roleName = role.split('/').pop() ?? '';
  return {
    version: '0',
    id: uniqueName('evt'),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.kms',
    account: ACCOUNT,
    time: o.at ?? '2027-03-01T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      eventVersion: '1.11',
      userIdentity: {
        type: 'AssumedRole',
        principalId: `AROAEXAMPLE:${roleName}`,
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${roleName}`,
        accountId: ACCOUNT,
        sessionContext: { sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLE', arn: role, accountId: ACCOUNT, userName: roleName }, attributes: { creationDate: '2027-03-01T09:00:00Z', mfaAuthenticated: 'false' } },
      },
      eventTime: o.at ?? '2027-03-01T10:00:00Z',
      eventSource: 'kms.amazonaws.com',
      eventName: 'Decrypt',
      awsRegion: 'us-east-1',
      sourceIPAddress: '192.0.2.0',
      userAgent: 'aws-sdk-js/3',
      ...(o.errorCode === undefined ? {} : { errorCode: o.errorCode, errorMessage: 'denied' }),
      requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: { keyring: o.keyring ?? 'pii', version: o.version ?? '1' } },
      responseElements: null,
      requestID: uniqueName('req'),
      eventID: uniqueName('id'),
      readOnly: true,
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: o.key ?? PII_KEY }],
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
    },
  };
}

describe('key-use function (moto S3)', () => {
  const clients = motoClients();
  let bucket: string;
  let handler: ReturnType<typeof createKeyUseHandler>;
  let metrics: RecordingMetrics;
  const log = (): S3KeyUseLog => new S3KeyUseLog({ client: clients.s3, bucket });

  beforeEach(async () => {
    bucket = uniqueName('rk');
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await clients.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const config = loadConfig({
      [ENV.region]: 'us-east-1',
      [ENV.catalogBucket]: bucket,
      [ENV.keyringKeys]: JSON.stringify({ pii: PII_KEY, ops: OPS_KEY }),
      [ENV.escrowBucket]: 'rekey-escrow',
      [ENV.escrowKeyArn]: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ac`,
      [ENV.eventBusName]: 'rekey',
    });
    const saved = process.env[KEY_USE_IGNORED_ROLES_ENV];
    process.env[KEY_USE_IGNORED_ROLES_ENV] = JSON.stringify([ESCROW_ROLE]);
    const services = buildKeyUseServices(config, { clients: { s3: clients.s3 } });
    if (saved === undefined) delete process.env[KEY_USE_IGNORED_ROLES_ENV];
    else process.env[KEY_USE_IGNORED_ROLES_ENV] = saved;
    metrics = new RecordingMetrics();
    handler = createKeyUseHandler({ services: () => services, logger: createLogger({ serviceName: 'rekey-test', logLevel: 'SILENT' }), metrics });
  });

  async function versionsWritten(): Promise<number> {
    const listed = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    return (listed.Versions ?? []).length;
  }

  it('records a Decrypt of a keyring key as the last use of the context version, by the caller session', async () => {
    // Act
    const out = await handler(decryptEvent({ version: '2', at: '2027-03-01T10:00:00Z' }), lambdaContext('rekey-key-use'));
    // Assess
    expect(out).toEqual({ recorded: true, keyring: 'pii', version: 2, at: '2027-03-01T10:00:00.000Z' });
    expect((await log().lastUse('pii')).get(2)).toEqual({ at: new Date('2027-03-01T10:00:00Z'), by: `arn:aws:sts::${ACCOUNT}:assumed-role/orders/orders` });
  });

  it('keeps the latest time whatever order CloudTrail delivers in', async () => {
    // Act
    await handler(decryptEvent({ at: '2027-03-02T10:00:00Z' }), lambdaContext());
    await handler(decryptEvent({ at: '2027-03-01T10:00:00Z' }), lambdaContext());
    // Assess
    expect((await log().lastUse('pii')).get(1)?.at).toEqual(new Date('2027-03-02T10:00:00Z'));
  });

  it("does not count the escrow role's unwraps", async () => {
    // Act
    const out = await handler(decryptEvent({ role: ESCROW_ROLE }), lambdaContext());
    // Assess
    expect(out).toEqual({ recorded: false, keyring: 'pii', version: 1, reason: 'ignored-principal' });
    expect(await versionsWritten()).toBe(0);
  });

  it.each([
    ['a failed Decrypt', decryptEvent({ errorCode: 'AccessDeniedException' }), 'VALIDATION'],
    ["another keyring's key", decryptEvent({ keyring: 'pii', key: OPS_KEY }), 'VALIDATION'],
    ['a keyring the stack does not have', decryptEvent({ keyring: 'payments' }), 'VALIDATION'],
    ['a version that is not a number', decryptEvent({ version: '01' }), 'VALIDATION'],
    ['a keyring name that is not one', decryptEvent({ keyring: 'Bad Name' }), 'VALIDATION'],
    ['an event that is not CloudTrail', { ...decryptEvent(), source: 'rekey' }, 'VALIDATION'],
    ['an Encrypt', { ...decryptEvent(), detail: { ...(decryptEvent().detail as object), eventName: 'Encrypt' } }, 'VALIDATION'],
  ])('refuses %s with a typed error and writes nothing', async (_what, event, code) => {
    // Act
    const out = (await handler(event, lambdaContext())) as { ok: false; error: { code: string; message: string } };
    // Assess
    expect(out.ok).toBe(false);
    expect(out.error.code).toBe(code);
    expect(await versionsWritten()).toBe(0);
  });
});

describe('loadIgnoredRoleArns', () => {
  it('reads a JSON array of role ARNs, none when unset', () => {
    expect(loadIgnoredRoleArns({})).toEqual([]);
    expect(loadIgnoredRoleArns({ [KEY_USE_IGNORED_ROLES_ENV]: JSON.stringify([ESCROW_ROLE]) })).toEqual([ESCROW_ROLE]);
  });

  it.each(['{', '"x"', JSON.stringify(['arn:aws:iam::1:user/x'])])('throws ValidationError for %s', (text) => {
    expect(() => loadIgnoredRoleArns({ [KEY_USE_IGNORED_ROLES_ENV]: text })).toThrow(ValidationError);
  });
});
