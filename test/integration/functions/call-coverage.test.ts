/**
 * Every AWS call a function's code path makes, recorded on moto (versioned record and catalog
 * buckets, the Object Lock escrow bucket), must be granted to that function's role in the
 * synthesized template: its identity policy for S3, CloudWatch, EventBridge and Step Functions,
 * the keyring key policy for KMS (the escrow function decrypts through per-version grants).
 * moto enforces no policy, so this compares the calls with the template instead.
 *
 * IAM actions per API call: Service Authorization Reference, "Actions, resources, and condition
 * keys for Amazon S3" (GetObject/HeadObject → s3:GetObject, with a versionId → s3:GetObjectVersion;
 * ListObjectsV2 → s3:ListBucket; ListObjectVersions → s3:ListBucketVersions; PutObject with an
 * Object Lock retain-until date → also s3:PutObjectRetention; multipart parts → s3:PutObject;
 * AbortMultipartUpload → s3:AbortMultipartUpload).
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { S3KeyUseLog } from '../../../shared/adapters/aws/s3-key-use-log';
import type { HandlerExecutionContext, InitializeHandler, MetadataBearer } from '@smithy/types';
import type { Template } from 'aws-cdk-lib/assertions';
import { createEscrowHandler } from '../../../functions/escrow/handler';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import { createReencryptHandler } from '../../../functions/reencrypt/handler';
import { createRevokeHandler } from '../../../functions/revoke/handler';
import { createRotateHandler } from '../../../functions/rotate/handler';
import { createProvisionHandler } from '../../../shared/lambda/provision-handler';
import { runProvision } from '../../../shared/usecases/provision';
import { FULL_CONFIG, synthStack } from '../../infra/support/stack-fixture';
import { createHarness, lambdaContext, putRecords, uniqueName, type Harness } from './support/harness';

type Statement = Record<string, unknown>;
type BucketKind = 'catalog' | 'escrow' | 'records';
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

type Handler = InitializeHandler<object, MetadataBearer>;
interface Stackable {
  readonly middlewareStack: { add(middleware: (next: Handler, context: HandlerExecutionContext) => Handler, options: { step: 'initialize'; name: string }): void };
}

/** `<kind>:<action>` of every call made while `run` runs. */
class CallRecorder {
  private active = false;
  public readonly actions = new Set<string>();

  public constructor(private readonly h: Harness) {
    // The five clients' stacks differ only in their input/output types, which the recorder ignores.
    const clients = [h.clients.s3, h.clients.kms, h.clients.cloudWatch, h.clients.eventBridge, h.clients.sfn] as unknown as Stackable[];
    for (const client of clients) {
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (this.active) for (const a of this.actionsOf(String(context.commandName), args.input as Record<string, unknown>)) this.actions.add(a);
          return next(args);
        },
        { step: 'initialize', name: `record-${uniqueName('calls')}` },
      );
    }
  }

  public async during<T>(run: () => Promise<T>): Promise<T> {
    this.active = true;
    try {
      return await run();
    } finally {
      this.active = false;
    }
  }

  private actionsOf(command: string, input: Record<string, unknown>): string[] {
    const op = command.replace(/Command$/, '');
    const bucket = this.kindOf(input['Bucket']);
    const versioned = input['VersionId'] !== undefined;
    switch (op) {
      case 'GetObject':
      case 'HeadObject':
        return [`${bucket}:${versioned ? 's3:GetObjectVersion' : 's3:GetObject'}`];
      case 'PutObject':
        return [`${bucket}:s3:PutObject`, ...(input['ObjectLockRetainUntilDate'] !== undefined ? [`${bucket}:s3:PutObjectRetention`] : [])];
      case 'ListObjectsV2':
        return [`${bucket}:s3:ListBucket`];
      case 'ListObjectVersions':
        return [`${bucket}:s3:ListBucketVersions`];
      case 'CreateMultipartUpload':
      case 'UploadPart':
      case 'UploadPartCopy':
      case 'CompleteMultipartUpload':
        return [`${bucket}:s3:PutObject`];
      case 'AbortMultipartUpload':
        return [`${bucket}:s3:AbortMultipartUpload`];
      case 'DeleteObject':
        // With a VersionId it deletes that version: s3:DeleteObjectVersion
        // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html, "Permissions").
        return [`${bucket}:${versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject'}`];
      default: {
        const service = command.includes('MetricData') ? 'cloudwatch' : op === 'PutEvents' ? 'events' : op === 'StartExecution' ? 'states' : 'kms';
        return [`${service}:${op}`];
      }
    }
  }

  private kindOf(bucket: unknown): BucketKind | 'other' {
    const { catalog, escrow, data } = this.h.buckets;
    return bucket === catalog ? 'catalog' : bucket === escrow ? 'escrow' : bucket === data ? 'records' : 'other';
  }
}

/** What the template grants one function's role, in the recorder's vocabulary. */
function grantedTo(template: Template, fn: string): Set<string> {
  const id = fn.replace(/-/g, '');
  const resources = template.toJSON()['Resources'] as Record<string, { Type: string; Properties: Record<string, unknown> }>;
  const out = new Set<string>();
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Policy' && logicalId.startsWith(`Fn${id}RoleDefaultPolicy`)) {
      for (const s of (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement) {
        // minimizePolicies merges statements: classify each resource of a statement on its own.
        for (const resource of asList(s['Resource'])) {
          const where = JSON.stringify(resource);
          const kind = where.includes('Catalog') ? 'catalog' : /Escrow[0-9A-F]{8}"/.test(where) ? 'escrow' : where.includes('records') ? 'records' : undefined;
          for (const a of asList(s['Action']) as string[]) {
            if (a.startsWith('s3:') && kind !== undefined) out.add(`${kind}:${a}`);
            else if (!a.startsWith('s3:') && !a.startsWith('kms:')) out.add(a);
          }
        }
      }
    }
    // KMS on keyring keys: the key policy names the role.
    if (r.Type === 'AWS::KMS::Key' && String(r.Properties['Description']).includes('wraps the version keys')) {
      for (const s of (r.Properties['KeyPolicy'] as { Statement: Statement[] }).Statement) {
        if (JSON.stringify(s['Principal']).includes(`Fn${id}Role`)) for (const a of asList(s['Action']) as string[]) out.add(a);
      }
    }
  }
  return out;
}

/** Recorded calls the grant does not cover (calls to buckets outside the stack's view are ignored). */
function missing(recorded: ReadonlySet<string>, granted: ReadonlySet<string>): string[] {
  return [...recorded].filter((a) => !a.startsWith('other:') && !granted.has(a)).sort();
}

// A 60 s quiet period and destruction opted in, so that a few ticks reach destroy.
const POLICY = { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 120, retentionSeconds: 300, quietSeconds: 60, destroyAfterRetention: true };

describe('function calls on moto are granted by the synthesized template', () => {
  let template: Template;
  let h: Harness;
  beforeAll(() => {
    ({ template } = synthStack(FULL_CONFIG));
  });
  afterEach(async () => h?.close());

  it('grace-period: lifecycle to destroy, create-pending, breaker facts and an escrow record behind a delete marker', async () => {
    // Prepare
    h = await createHarness({ policy: POLICY });
    // An application's unwrap, as the key-use function records it: key use is observed from here.
    await new S3KeyUseLog({ client: h.clients.s3, bucket: h.buckets.catalog, clock: h.now }).recordUse(h.keyring, 1, { at: h.now() });
    const calls = new CallRecorder(h);
    const grace = createGracePeriodHandler(h.deps);
    const escrow = createEscrowHandler(h.deps);
    // Archived while readable, as the hourly schedule does: a disabled version's grant is gone.
    await escrow({ keyring: h.keyring, action: 'archive' }, lambdaContext());
    // Rotation, propagation, grace, quiet period, retention.
    for (const step of [3601, 61, 121, 60, 301]) {
      h.advance(step);
      await calls.during(() => grace({ keyring: h.keyring }, lambdaContext()));
    }
    await escrow({ keyring: h.keyring, action: 'drill' }, lambdaContext());
    // A delete without a version id only hides the locked record: the store reads behind it.
    await h.clients.s3.send(new DeleteObjectCommand({ Bucket: h.buckets.escrow, Key: `escrow/${h.keyring}/1.json` }));
    // Act
    const out = await calls.during(() => grace({ keyring: h.keyring }, lambdaContext()));
    // Assess
    expect(out).toMatchObject({ ok: true, results: [{ applied: [{ kind: 'destroy', version: 1 }] }] });
    // Key use (S3KeyUseLog, catalog bucket) and the revocation ledger (escrow bucket) are read on every tick.
    for (const a of ['kms:GenerateDataKeyWithoutPlaintext', 'cloudwatch:GetMetricData', 'escrow:s3:ListBucketVersions', 'escrow:s3:GetObjectVersion', 'catalog:s3:PutObject']) expect(calls.actions.has(a)).toBe(true);
    expect(missing(calls.actions, grantedTo(template, 'grace-period'))).toEqual([]);
  });

  it('revoke: replacement version, inline re-encryption of records on a versioned bucket, closing tick', async () => {
    // Prepare
    h = await createHarness();
    await putRecords(h, 2);
    const calls = new CallRecorder(h);
    const event = { version: '0', id: uniqueName('evt'), source: 'rekey', 'detail-type': 'Key Version Compromised', account: '123456789012', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: { keyring: h.keyring, version: 1, reason: 'SEC-42' } };
    const handler = createRevokeHandler(h.deps);
    // Act
    // The first invocation settles (retryable); the invoker's retry a minute later completes it.
    await expect(calls.during(() => handler(event, lambdaContext()))).rejects.toThrow(/settles at/);
    h.advance(61);
    const out = await calls.during(() => handler(event, lambdaContext()));
    // Assess
    expect(out).toMatchObject({ ok: true, revokedNow: false, complete: true });
    // The ledger mark (PutObject under Object Lock) and its reads, besides the re-encryption; the
    // noncurrent copies under v1 of the re-encrypted records go once they are re-encrypted.
    for (const a of ['kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'records:s3:PutObject', 'escrow:s3:PutObject', 'escrow:s3:PutObjectRetention', 'escrow:s3:ListBucketVersions', 'records:s3:DeleteObjectVersion']) {
      expect({ a, called: calls.actions.has(a) }).toEqual({ a, called: true });
    }
    expect(missing(calls.actions, grantedTo(template, 'revoke'))).toEqual([]);
  });

  it('reencrypt: a rewrap batch over a versioned record bucket', async () => {
    // Prepare
    h = await createHarness({ policy: { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 86_400, retentionSeconds: 300 } });
    const keys = await putRecords(h, 3);
    await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'v2' });
    h.advance(61);
    await h.services.keyrings.tick({ keyring: h.keyring });
    const calls = new CallRecorder(h);
    const event = { BatchInput: { keyring: h.keyring, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'rewrap' }, Items: keys.map((Key) => ({ Key })) };
    // Act
    const out = await calls.during(() => createReencryptHandler(h.deps)(event, lambdaContext()));
    // Assess
    expect(out).toMatchObject({ ok: true, counts: { done: 3 } });
    expect(missing(calls.actions, grantedTo(template, 'reencrypt'))).toEqual([]);
  });

  it('rotate and provision: version keys generated wrapped only', async () => {
    // Prepare
    h = await createHarness({ createKeyring: false });
    const calls = new CallRecorder(h);
    const provision = createProvisionHandler({ run: runProvision, services: () => h.services, logger: h.deps.logger, metrics: h.metrics, responder: { allowLoopbackHttp: true, attempts: 1, timeoutMs: 5000 } });
    const other = await createHarness();
    const otherCalls = new CallRecorder(other);
    // Act: provision answers to a closed port (the delivery fails; the keyring is created first).
    await calls.during(() =>
      provision(
        {
          RequestType: 'Create',
          ResponseURL: 'http://127.0.0.1:9/closed',
          StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Rekey/x',
          RequestId: 'r1',
          LogicalResourceId: 'K',
          ResourceType: 'Custom::RekeyKeyring',
          ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:p', Keyring: h.keyring, RotateEvery: '30d', Grace: '7d', Propagation: '10m', Retention: '30d' },
        },
        lambdaContext(),
      ).catch(() => undefined),
    );
    await otherCalls.during(() => createRotateHandler(other.deps)({ keyring: other.keyring, force: true, actor: 'cli:alice', reason: 'now' }, lambdaContext()));
    // Assess
    expect(calls.actions.has('kms:GenerateDataKeyWithoutPlaintext')).toBe(true);
    expect(otherCalls.actions.has('kms:GenerateDataKeyWithoutPlaintext')).toBe(true);
    expect(missing(calls.actions, grantedTo(template, 'provision'))).toEqual([]);
    expect(missing(otherCalls.actions, grantedTo(template, 'rotate'))).toEqual([]);
    await other.close();
  });

  it('escrow: archive and drill (keyring keys through per-version grants, not the key policy)', async () => {
    // Prepare
    h = await createHarness();
    const calls = new CallRecorder(h);
    const escrow = createEscrowHandler(h.deps);
    // Act
    await calls.during(async () => {
      await escrow({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      await escrow({ keyring: h.keyring, action: 'drill' }, lambdaContext());
    });
    // Assess: the escrow key's Encrypt/Decrypt are in its own key policy (EscrowWrapAndDrill); the
    // keyring key's Decrypt comes from a grant; everything else must be in the role's policy.
    const granted = grantedTo(template, 'escrow');
    for (const a of ['kms:Encrypt', 'kms:Decrypt']) granted.add(a);
    expect(calls.actions.has('escrow:s3:PutObjectRetention')).toBe(true);
    expect(missing(calls.actions, granted)).toEqual([]);
  });
});
