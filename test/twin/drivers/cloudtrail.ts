/**
 * CloudTrail on the twin: every KMS request the proxy judged (allowed, with moto's reply, or
 * denied, with the AccessDenied reply) becomes the CloudTrail record AWS would log, delivered
 * asynchronously to the account's default bus as EventBridge delivers CloudTrail events.
 *
 * Shapes, from AWS's documentation:
 * - The record ("CloudTrail record contents for management, data, and network activity events",
 *   https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html):
 *   eventVersion, userIdentity, eventTime, eventSource, eventName, awsRegion, sourceIPAddress,
 *   userAgent, errorCode / errorMessage (only when the request failed), requestParameters,
 *   responseElements, requestID, eventID, readOnly, resources, eventType `AwsApiCall`,
 *   managementEvent, recipientAccountId, eventCategory `Management`.
 * - userIdentity of a role session ("CloudTrail userIdentity element",
 *   https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html):
 *   type `AssumedRole`, principalId `<role id>:<session>`, arn
 *   `arn:aws:sts::<account>:assumed-role/<role name>/<session>`, accountId, accessKeyId, and
 *   sessionContext { sessionIssuer { type `Role`, principalId, arn, accountId, userName },
 *   attributes { creationDate, mfaAuthenticated } }. A Lambda function's session is named after
 *   the function ("Lambda execution role": the runtime assumes the role with the function name).
 * - KMS Decrypt ("Decrypt", AWS KMS Developer Guide, https://docs.aws.amazon.com/kms/latest/developerguide/ct-decrypt.html):
 *   requestParameters always carry `encryptionAlgorithm` (SYMMETRIC_DEFAULT when the request
 *   named none), `keyId` when the request gave one, `encryptionContext`; the ciphertext and the
 *   plaintext are omitted; responseElements is null; resources [{ accountId, type
 *   `AWS::KMS::Key`, ARN }]; readOnly true. A failed call carries errorCode and errorMessage
 *   ("Decrypt failure with a standard symmetric encryption key", same page).
 * - The EventBridge envelope ("AWS service events delivered via AWS CloudTrail",
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html):
 *   detail-type `AWS API Call via CloudTrail`, source `aws.<service>` (here `aws.kms`), delivered
 *   to the default bus, detail = the CloudTrail record. Read-only management events (Decrypt)
 *   reach only rules in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS
 *   (eb-service-event-cloudtrail-management.html; enforced by event-bus.ts `receives`).
 * Simplifications: responseElements of non-cryptographic calls are the reply's fields in
 * camelCase without key material or grant tokens; delivery happens as background work of the
 * simulated instant (AWS's typical delay of minutes is not simulated: `settle()` waits for it).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AwsRequest, ProxyReply } from '../proxy';
import type { TwinWorld } from '../world';
import { isoSeconds, type EventEnvelope } from './types';

/** detail-type of every CloudTrail API call event on EventBridge. */
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

/** One CloudTrail record (the fields the twin emits). */
export interface CloudTrailRecord {
  readonly eventVersion: string;
  readonly userIdentity: Record<string, unknown>;
  readonly eventTime: string;
  readonly eventSource: string;
  readonly eventName: string;
  readonly awsRegion: string;
  readonly sourceIPAddress: string;
  readonly userAgent: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly requestParameters: Record<string, unknown> | null;
  readonly responseElements: Record<string, unknown> | null;
  readonly requestID: string;
  readonly eventID: string;
  readonly readOnly: boolean;
  readonly resources: readonly { readonly accountId: string; readonly type: string; readonly ARN: string }[];
  readonly eventType: 'AwsApiCall';
  readonly managementEvent: true;
  readonly recipientAccountId: string;
  readonly eventCategory: 'Management';
}

/** Where the driver delivers its events (the twin's TwinEventBus). */
export interface CloudTrailBus {
  dispatch(event: EventEnvelope, busName: string): Promise<unknown>;
}

/** Options of {@link TwinCloudTrail}. */
export interface TwinCloudTrailOptions {
  readonly world: TwinWorld;
  readonly bus: CloudTrailBus;
}

/** Cryptographic KMS operations: read-only, responseElements null (the KMS Developer Guide's ct-* examples). */
const KMS_CRYPTO = new Set(['Decrypt', 'Encrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateRandom', 'GenerateMac', 'VerifyMac', 'Sign', 'Verify']);

/** Request and reply fields CloudTrail never logs: key material, ciphertexts, grant tokens. */
const OMITTED = new Set(['CiphertextBlob', 'Plaintext', 'PrivateKeyPlaintext', 'PrivateKeyCiphertextBlob', 'GrantToken', 'GrantTokens', 'KeyMaterial', 'EncryptedKeyMaterial', 'Mac', 'Signature', 'Message']);

function camel(key: string): string {
  return key.length === 0 ? key : `${key[0]?.toLowerCase() ?? ''}${key.slice(1)}`;
}

/** The request's or reply's fields in CloudTrail's camelCase (nested too), without what CloudTrail omits; context keys are the caller's and stay as given. */
function loggedFields(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (OMITTED.has(k)) continue;
    out[camel(k)] = /EncryptionContext(Equals|Subset)?$/.test(k) ? v : loggedValue(v);
  }
  return out;
}

function loggedValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(loggedValue);
  if (typeof v === 'object' && v !== null) return loggedFields(v as Record<string, unknown>);
  return v;
}

function isReadOnly(operation: string): boolean {
  return KMS_CRYPTO.has(operation) || /^(Describe|Get|List)/.test(operation);
}

/** The error code and message of a JSON-protocol error reply (`{"__type", "message"}`), if it is one. */
function errorOfReply(reply: ProxyReply): { errorCode: string; errorMessage: string } | undefined {
  if (reply.status < 300) return undefined;
  try {
    const body = JSON.parse(reply.body.toString('utf8')) as { __type?: string; message?: string; Message?: string };
    const code = (body.__type ?? 'InternalFailure').split('#').pop() ?? 'InternalFailure';
    return { errorCode: code, errorMessage: body.message ?? body.Message ?? '' };
  } catch {
    return { errorCode: 'InternalFailure', errorMessage: `HTTP ${reply.status}` };
  }
}

/** A stable IAM-style unique id (`AROA…`) for a role ARN. */
function roleId(roleArn: string): string {
  return `AROA${createHash('sha256').update(roleArn).digest('hex').slice(0, 17).toUpperCase()}`;
}

/**
 * The CloudTrail record of one KMS request as the proxy judged it; undefined for requests that
 * CloudTrail would not attribute to a role session (unsigned, unknown key) or that are not KMS.
 */
export function kmsCloudTrailRecord(world: TwinWorld, req: AwsRequest, reply: ProxyReply): CloudTrailRecord | undefined {
  if (req.service !== 'kms' || req.principal.kind !== 'role' || req.role === undefined) return undefined;
  const role = req.role;
  // A function's role is assumed with the function's name as the session name; other roles (applications, operators) by their name.
  const session = [...world.functions.values()].find((f) => f.roleArn === role.arn)?.name ?? role.name;
  const id = roleId(role.arn);
  const roleName = role.arn.split('/').pop() ?? role.name;
  // A caller of another account is named with its own account; the record still lands in the key
  // owner's trail (recipientAccountId): "Operations that use KMS keys in other accounts are logged in
  // both the caller's account and the KMS key owner account" (AWS KMS Developer Guide,
  // key-policy-modifying-external-accounts.html). The twin keeps the owner's trail only.
  const callerAccount = role.arn.split(':')[4] || world.account;
  const userIdentity = {
    type: 'AssumedRole',
    principalId: `${id}:${session}`,
    arn: `arn:${world.partition}:sts::${callerAccount}:assumed-role/${roleName}/${session}`,
    accountId: callerAccount,
    accessKeyId: req.credential?.accessKeyId ?? role.accessKeyId,
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: id, arn: role.arn, accountId: callerAccount, userName: roleName },
      attributes: { creationDate: isoSeconds(req.at), mfaAuthenticated: 'false' },
    },
  };
  const error = errorOfReply(reply);
  const params = loggedFields(req.params);
  // Decrypt always logs the algorithm, SYMMETRIC_DEFAULT when the request named none (ct-decrypt.html).
  const requestParameters = req.operation === 'Decrypt' ? { encryptionAlgorithm: 'SYMMETRIC_DEFAULT', ...params } : params;
  let responseElements: Record<string, unknown> | null = null;
  if (error === undefined && !KMS_CRYPTO.has(req.operation) && reply.body.length > 0) {
    try {
      const parsed = JSON.parse(reply.body.toString('utf8')) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) responseElements = loggedFields(parsed as Record<string, unknown>);
    } catch {
      responseElements = null;
    }
  }
  const keyArns = [...new Set(req.authz.map((a) => a.resource).filter((r) => r.startsWith(`arn:${world.partition}:kms:`) && r.includes(':key/')))];
  return {
    eventVersion: '1.11',
    userIdentity,
    eventTime: isoSeconds(req.at),
    eventSource: 'kms.amazonaws.com',
    eventName: req.operation,
    awsRegion: world.region,
    sourceIPAddress: '127.0.0.1',
    userAgent: req.raw.headers['user-agent'] ?? 'aws-sdk',
    ...(error ?? {}),
    requestParameters,
    responseElements,
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: isReadOnly(req.operation),
    resources: keyArns.map((ARN) => ({ accountId: world.account, type: 'AWS::KMS::Key', ARN })),
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: world.account,
    eventCategory: 'Management',
  };
}

/** The EventBridge event that carries a CloudTrail record (eb-service-event-cloudtrail.html). */
export function cloudTrailEvent(world: TwinWorld, record: CloudTrailRecord): EventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': CLOUDTRAIL_DETAIL_TYPE,
    source: `aws.${record.eventSource.split('.')[0] ?? ''}`,
    account: world.account,
    time: record.eventTime,
    region: world.region,
    resources: [],
    detail: record as unknown as Record<string, unknown>,
  };
}

/**
 * The twin's CloudTrail: records every KMS request and delivers its event to the default bus.
 *
 * @example
 * const trail = new TwinCloudTrail({ world, bus });
 * background(trail.observe(req, reply)); // from the proxy's after/denied hooks
 * trail.records.filter((r) => r.eventName === 'Decrypt');
 */
export class TwinCloudTrail {
  /** Every record so far, in request order (the account's event history). */
  public readonly records: CloudTrailRecord[] = [];

  public constructor(private readonly opts: TwinCloudTrailOptions) {}

  /** Whether the driver records this request (KMS, signed by a known role). */
  public static covers(req: AwsRequest): boolean {
    return req.service === 'kms' && req.principal.kind === 'role';
  }

  /** Records the request and delivers its event; resolves when every matching rule's targets were called. */
  public async observe(req: AwsRequest, reply: ProxyReply): Promise<void> {
    const record = kmsCloudTrailRecord(this.opts.world, req, reply);
    if (record === undefined) return;
    this.records.push(record);
    await this.opts.bus.dispatch(cloudTrailEvent(this.opts.world, record), 'default');
  }
}
