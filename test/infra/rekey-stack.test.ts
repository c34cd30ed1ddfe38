import * as iam from 'aws-cdk-lib/aws-iam';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { UnknownKeyringError } from '../../shared/errors';
import { ENV } from '../../shared/config/env-names';
import type { RekeyStack } from '../../infra/rekey-stack';
import { STACK_OUTPUTS } from '../../infra/outputs';
import { COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE } from '../../shared/vocabulary/event-names';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: unknown }>;

function statementsOf(template: Template, type: string, field: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const r of Object.values(template.findResources(type) as Resources)) {
    const doc = r.Properties?.[field] as { Statement?: Record<string, unknown>[] } | undefined;
    out.push(...(doc?.Statement ?? []));
  }
  return out;
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

describe('RekeyStack', () => {
  let stack: RekeyStack;
  let template: Template;

  beforeAll(() => {
    // A role added from code after construction must reach the key policy and key-access function too.
    ({ stack, template } = synthStack(FULL_CONFIG, (s) =>
      s.grantKeyringUse(iam.Role.fromRoleArn(s, 'LateApp', 'arn:aws:iam::111122223333:role/reports', { mutable: false }), 'ops'),
    ));
  });

  describe('keys', () => {
    it('creates one rotating KMS key per keyring, plus escrow and ops keys, none with kms:* in its policy', () => {
      // Prepare
      const keys = Object.values(template.findResources('AWS::KMS::Key') as Resources);
      // Act
      const actions = keys.flatMap((k) => ((k.Properties?.['KeyPolicy'] as { Statement: { Action: unknown }[] }).Statement ?? []).flatMap((s) => asList(s.Action)));
      // Assess
      expect(keys).toHaveLength(FULL_CONFIG.keyrings.length + 2);
      for (const k of keys) expect(k.Properties?.['EnableKeyRotation']).toBe(true);
      expect(actions).not.toContain('kms:*');
    });

    it('lets the account administer keys but never decrypt, generate or grant', () => {
      // Prepare
      const statements = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy').filter((s) => s['Sid'] === 'KeyAdministrationOnly');
      // Act
      const actions = new Set(statements.flatMap((s) => asList(s['Action'])));
      // Assess
      expect(statements.length).toBe(4);
      for (const forbidden of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:CreateGrant']) expect(actions.has(forbidden)).toBe(false);
      expect(actions.has('kms:PutKeyPolicy')).toBe(true);
    });

    it('binds version-key generation and re-encryption to the keyring context', () => {
      // Prepare / Act / Assess
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 'kms:GenerateDataKeyWithoutPlaintext',
              Condition: Match.objectLike({
                StringEquals: { 'kms:EncryptionContext:keyring': 'pii' },
                'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyring', 'version'] },
              }),
            }),
            Match.objectLike({ Action: 'kms:Decrypt', Condition: Match.objectLike({ StringEquals: { 'kms:EncryptionContext:keyring': 'pii' } }) }),
          ]),
        }),
      });
    });

    it('lets the key-access role create only Decrypt grants with an exact keyring context for listed grantees', () => {
      // Prepare
      const grantStatements = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy').filter((s) => s['Sid'] === 'CreateVersionGrants');
      // Act
      const piiGrant = grantStatements.find((s) => JSON.stringify(s).includes('"kms:EncryptionContext:keyring":"pii"'));
      const opsGrant = grantStatements.find((s) => JSON.stringify(s).includes('"kms:EncryptionContext:keyring":"ops"'));
      // Assess
      expect(grantStatements).toHaveLength(2);
      expect(piiGrant?.['Condition']).toMatchObject({
        'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'] },
        StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals', 'kms:EncryptionContext:keyring': 'pii' },
        // The deploy-time grantees exactly, and any role of the consumer accounts (default: the stack's own).
        StringLike: {
          'kms:GranteePrincipal': expect.arrayContaining([
            'arn:aws:iam::111122223333:role/orders-service',
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':role/*']] },
          ]),
        },
      });
      expect(JSON.stringify(opsGrant)).toContain('arn:aws:iam::111122223333:role/reports');
    });

    it('gives application roles no key-policy permission on keyring keys (they decrypt through grants)', () => {
      // Prepare
      const keyringKeyStatements = Object.values(template.findResources('AWS::KMS::Key') as Resources)
        .filter((k) => JSON.stringify(k).includes('rekey:keyring'))
        .flatMap((k) => (k.Properties?.['KeyPolicy'] as { Statement: Record<string, unknown>[] }).Statement);
      // Act
      const naming = keyringKeyStatements.filter((s) => JSON.stringify(s['Principal'] ?? {}).includes('orders-service'));
      // Assess
      expect(keyringKeyStatements.length).toBeGreaterThan(0);
      expect(naming).toEqual([]);
    });
  });

  describe('buckets', () => {
    it('blocks public access, versions, encrypts and logs every data bucket', () => {
      // Prepare
      const buckets = Object.values(template.findResources('AWS::S3::Bucket') as Resources);
      // Act
      const logged = buckets.filter((b) => b.Properties?.['LoggingConfiguration'] !== undefined);
      // Assess
      expect(buckets).toHaveLength(3);
      for (const b of buckets) {
        expect(b.Properties?.['PublicAccessBlockConfiguration']).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
        expect(b.Properties?.['VersioningConfiguration']).toEqual({ Status: 'Enabled' });
        expect(b.Properties?.['BucketEncryption']).toBeDefined();
      }
      expect(logged).toHaveLength(2);
    });

    it('denies non-TLS requests on every bucket', () => {
      // Prepare
      const policies = Object.values(template.findResources('AWS::S3::BucketPolicy') as Resources);
      // Act
      const tlsDenies = policies.filter((p) =>
        (p.Properties?.['PolicyDocument'] as { Statement: Record<string, unknown>[] }).Statement.some(
          (s) => s['Effect'] === 'Deny' && JSON.stringify(s['Condition']).includes('"aws:SecureTransport":"false"'),
        ),
      );
      // Assess
      expect(policies).toHaveLength(3);
      expect(tlsDenies).toHaveLength(3);
    });

    it('puts the escrow bucket under Object Lock in compliance mode with the configured retention', () => {
      // Prepare / Act / Assess
      template.hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 400 } } },
      });
    });

    it('encrypts the catalog with a customer key and sends its writes to EventBridge', () => {
      // Prepare / Act / Assess
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ BucketKeyEnabled: true, ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      });
    });
  });

  describe('functions', () => {
    it('deploys nine arm64 Node.js 24 functions, each with its own role', () => {
      // Prepare
      const fns = Object.values(template.findResources('AWS::Lambda::Function') as Resources);
      // Act
      const roles = new Set(fns.map((f) => JSON.stringify(f.Properties?.['Role'])));
      // Assess
      // key-use records observed KMS Decrypts (CloudTrail through EventBridge) as last use per version.
      expect(fns.map((f) => f.Properties?.['Description']).sort()).toEqual([
        'rekey cache-invalidate', 'rekey escrow', 'rekey grace-period', 'rekey key-access', 'rekey key-use', 'rekey provision', 'rekey reencrypt', 'rekey revoke', 'rekey rotate',
      ]);
      expect(roles.size).toBe(9);
      for (const f of fns) {
        expect(f.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
        expect(f.Properties?.['MemorySize']).toBeGreaterThanOrEqual(256);
      }
    });

    it('gives every function the configuration variables the config loader requires', () => {
      // Prepare
      const fns = Object.values(template.findResources('AWS::Lambda::Function') as Resources);
      // Act
      const names = fns.map((f) => Object.keys((f.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables));
      // Assess
      for (const vars of names) {
        expect(vars).toEqual(expect.arrayContaining([ENV.catalogBucket, ENV.keyringKeys, ENV.escrowBucket, ENV.escrowKeyArn, ENV.eventBusName, ENV.recordTargets, ENV.cacheName, 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE']));
      }
    });

    it('hands each record target\'s layout to the functions, and says nothing of a target that keeps the default', () => {
      // Prepare
      const targets = [{ ...FULL_CONFIG.recordTargets![0]!, layout: 'metadata' as const }, FULL_CONFIG.recordTargets![1]!];
      const { template: withLayout } = synthStack({ ...FULL_CONFIG, recordTargets: targets });
      // Act
      const envs = Object.values(withLayout.findResources('AWS::Lambda::Function') as Resources).map((f) => (f.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables);
      const declared = envs.map((v) => JSON.parse(String(v[ENV.recordTargets])) as { bucket: string; layout?: string }[]);
      // Assess
      expect(declared.length).toBeGreaterThan(0);
      for (const d of declared) expect(d.map((t) => [t.bucket, t.layout])).toEqual([['orders-records', 'metadata'], ['ops-records', undefined]]);
    });

    it('reserves concurrency for revoke, key-access and the sweep worker', () => {
      // Prepare / Act / Assess
      template.hasResourceProperties('AWS::Lambda::Function', { Description: 'rekey revoke', ReservedConcurrentExecutions: 2 });
      template.hasResourceProperties('AWS::Lambda::Function', { Description: 'rekey key-access', ReservedConcurrentExecutions: 1 });
      template.hasResourceProperties('AWS::Lambda::Function', { Description: 'rekey reencrypt', ReservedConcurrentExecutions: 10 });
    });

    it('runs the cache-facing functions in the cache VPC and no other', () => {
      // Prepare
      const fns = Object.values(template.findResources('AWS::Lambda::Function') as Resources);
      // Act
      const inVpc = fns.filter((f) => f.Properties?.['VpcConfig'] !== undefined).map((f) => f.Properties?.['Description']);
      // Assess
      expect(inVpc.sort()).toEqual(['rekey cache-invalidate', 'rekey grace-period', 'rekey revoke']);
    });

    it('sends failed asynchronous invocations to a failure queue after retries', () => {
      // Prepare
      const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig') as Resources);
      // Act / Assess
      // Every asynchronously invoked function; reencrypt is invoked synchronously by the sweep's Distributed Map.
      expect(configs.map((c) => JSON.stringify(c.Properties?.['FunctionName']).match(/Fn([a-z]+)Function/)?.[1]).sort()).toEqual([
        'cacheinvalidate', 'escrow', 'graceperiod', 'keyaccess', 'keyuse', 'provision', 'revoke', 'rotate',
      ]);
      for (const c of configs) {
        expect(c.Properties).toMatchObject({ MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: expect.anything() } } });
      }
    });
  });

  describe('least privilege', () => {
    let identityStatements: Record<string, unknown>[];
    beforeAll(() => {
      identityStatements = statementsOf(template, 'AWS::IAM::Policy', 'PolicyDocument');
    });

    it('never grants kms:* or s3:* and never uses an action wildcard', () => {
      // Prepare / Act
      const actions = identityStatements.flatMap((s) => asList(s['Action']) as string[]);
      // Assess
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    });

    it('never grants a KMS or S3 data action on Resource "*"', () => {
      // Prepare
      const dataAction = /^(kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt|CreateGrant)|s3:(Get|Put|Delete)Object)/;
      // Act
      const offenders = identityStatements.filter((s) => asList(s['Resource']).includes('*') && (asList(s['Action']) as string[]).some((a) => dataAction.test(a)));
      // Assess
      expect(offenders).toEqual([]);
    });

    it('scopes catalog access to the catalog prefix', () => {
      // Prepare
      // key-access also lists the consumer registry (consumers/), the census readers the census marks (census/), outside the catalog prefix.
      const listing = identityStatements.filter(
        (s) =>
          asList(s['Action']).includes('s3:ListBucket') &&
          JSON.stringify(s['Resource']).includes('Catalog') &&
          !JSON.stringify(s['Condition']).includes('consumers/') &&
          !JSON.stringify(s['Condition']).includes('census/'),
      );
      // Act / Assess
      expect(listing.length).toBeGreaterThanOrEqual(7);
      for (const s of listing) expect(s['Condition']).toEqual({ StringLike: { 's3:prefix': ['catalog/*'] } });
    });

    it('lets only the version-creating roles generate (wrapped) version keys and only re-encryption roles decrypt any version', () => {
      // Prepare
      const stmts = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy');
      // Act
      const generators = stmts.filter((s) => String(s['Sid']).startsWith('GenerateVersionKeys')).map((s) => JSON.stringify(s['Principal']));
      const decrypters = stmts.filter((s) => String(s['Sid']).startsWith('ReencryptAnyVersion')).map((s) => JSON.stringify(s['Principal']));
      // Assess
      // rotate, grace-period, revoke and provision, on each of the two keyring keys.
      expect(generators).toHaveLength(8);
      for (const g of generators) expect(g).toMatch(/Fnrotate|Fngraceperiod|Fnrevoke|Fnprovision/);
      expect(decrypters).toHaveLength(4);
      for (const d of decrypters) expect(d).toMatch(/Fnreencrypt|Fnrevoke/);
    });
  });

  describe('schedules and rules', () => {
    it('schedules the reconcilers per keyring, the grant backstop and a sweep per record target, each with retries and a DLQ', () => {
      // Prepare
      const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule') as Resources);
      // Act
      const inputs = schedules.map((s) => JSON.parse((s.Properties?.['Target'] as { Input: string }).Input) as Record<string, unknown>);
      // Assess
      expect(schedules).toHaveLength(FULL_CONFIG.keyrings.length * 5 + 1 + 2);
      for (const s of schedules) {
        expect(s.Properties?.['Target']).toMatchObject({ RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 }, DeadLetterConfig: { Arn: expect.anything() } });
      }
      expect(inputs).toEqual(expect.arrayContaining([{ keyring: 'pii' }, { keyring: 'ops', action: 'drill' }, { keyring: 'pii', action: 'archive' }, { keyring: 'pii', bucket: 'orders-records', prefix: 'pii/', mode: 'rewrap' }]));
    });

    it('encrypts every queue and refuses plain-text access to it', () => {
      // Prepare
      const found = template.findResources('AWS::SQS::Queue') as Resources;
      const queues = Object.values(found);
      const policies = statementsOf(template, 'AWS::SQS::QueuePolicy', 'PolicyDocument');
      // Act
      const tlsDenies = policies.filter((s) => s['Effect'] === 'Deny' && JSON.stringify(s['Condition']).includes('"aws:SecureTransport":"false"'));
      // Assess
      // A failure queue per asynchronously invoked function, and a DLQ per rule or schedule group.
      expect(Object.keys(found).map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
        'CompromiseRuleDlq', 'FncacheinvalidateFailureQueue', 'FnescrowFailureQueue', 'FngraceperiodFailureQueue', 'FnkeyaccessFailureQueue', 'FnkeyuseFailureQueue',
        'FnprovisionFailureQueue', 'FnrevokeFailureQueue', 'FnrotateFailureQueue', 'KeyUseRuleDlq', 'RecordWrittenRuleDlq', 'SchedulerDlq',
      ]);
      for (const q of queues) expect(q.Properties?.['SqsManagedSseEnabled']).toBe(true);
      expect(tlsDenies).toHaveLength(queues.length);
    });

    it('routes Key Version Compromised events of known keyrings to revoke and key-access, with retries and a DLQ', () => {
      // Prepare / Act / Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: [COMPROMISE_EVENT_SOURCE],
          'detail-type': [COMPROMISE_EVENT_DETAIL_TYPE],
          detail: { keyring: ['pii', 'ops'], version: [{ numeric: ['>', 0] }], reason: [{ exists: true }] },
        },
        Targets: [
          Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 }, DeadLetterConfig: { Arn: Match.anyValue() } }),
          Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 }, DeadLetterConfig: { Arn: Match.anyValue() } }),
        ],
      });
    });

    it('fans the sweep out with a Distributed Map over an S3 listing in batches', () => {
      // Prepare
      const sm = Object.values(template.findResources('AWS::StepFunctions::StateMachine') as Resources)[0];
      // Act
      const definition = JSON.stringify(sm?.Properties?.['DefinitionString']);
      // Assess
      expect(definition).toContain('\\"Mode\\":\\"DISTRIBUTED\\"');
      expect(definition).toContain('listObjectsV2');
      expect(definition).toContain('\\"MaxItemsPerBatch\\":100');
      // A revocation's sweep carries the revoked version through to every batch.
      expect(definition).toContain('\\"IsPresent\\":true');
      expect(definition).toContain('\\"version.$\\":\\"$.version\\"');
      // Two S3 maps (batch input), their two census steps and two table maps (item selector) carry the keyring.
      expect(definition.split('\\"keyring.$\\":\\"$.keyring\\"')).toHaveLength(7);
      expect(definition).toContain('\\"results.$\\":\\"$.map.ResultWriterDetails\\"');
      expect(sm?.Properties).toMatchObject({ TracingConfiguration: { Enabled: true }, LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false } });
    });
  });

  describe('monitoring', () => {
    it('alarms on decrypt failures, overdue rotation, stalled sweeps, failed drills, handler failures and non-empty DLQs', () => {
      // Prepare
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm') as Resources);
      const queues = Object.keys(template.findResources('AWS::SQS::Queue')).length;
      const keyrings = FULL_CONFIG.keyrings.length;
      // Act
      const text = alarms.map((a) => JSON.stringify(a.Properties));
      // Assess: per keyring decrypt failures, age, breaker, drill and failed sweep items; per
      // function handler failures; per queue (DLQs and failure queues) a non-empty alarm.
      expect(text.filter((t) => t.includes('DecryptFailures'))).toHaveLength(keyrings);
      expect(text.filter((t) => t.includes('OldestReferencedVersionAge'))).toHaveLength(keyrings);
      expect(text.filter((t) => t.includes('EscrowDrillFailures'))).toHaveLength(keyrings);
      expect(text.filter((t) => t.includes('SweepItemsFailed'))).toHaveLength(keyrings);
      expect(text.filter((t) => t.includes('ExecutionsTimedOut'))).toHaveLength(1);
      expect(text.filter((t) => t.includes('HandlerFailures'))).toHaveLength(Object.keys(stack.functions).length);
      expect(text.filter((t) => t.includes('ApproximateNumberOfMessagesVisible'))).toHaveLength(queues);
      for (const a of alarms) expect(a.Properties?.['AlarmActions']).toHaveLength(1);
    });

    it('alarms on the first decrypt failure of a high-sensitivity keyring', () => {
      // Prepare
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm') as Resources);
      // Act
      const pii = alarms.find((a) => JSON.stringify(a.Properties).includes("SUM(DecryptFailures) FROM \\\"Rekey\\\" WHERE keyring = 'pii'"));
      // Assess
      expect(pii?.Properties?.['Threshold']).toBe(1);
    });

    it('sends alarms to a KMS-encrypted, TLS-only topic and builds a dashboard with the version distribution', () => {
      // Prepare / Act / Assess
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
      const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard') as Resources);
      expect(dashboards).toHaveLength(1);
      expect(JSON.stringify(dashboards[0]?.Properties)).toContain('RecordsByVersion');
      expect(JSON.stringify(dashboards[0]?.Properties)).toContain('GROUP BY version');
    });
  });

  describe('outputs', () => {
    it('exports every output the CLI maps to configuration', () => {
      // Prepare
      const outputs = Object.keys(template.toJSON()['Outputs'] as Record<string, unknown>);
      // Act / Assess
      expect(outputs.sort()).toEqual(Object.keys(STACK_OUTPUTS).sort());
    });
  });

  describe('synthesis', () => {
    it('raises no warning (the imported cache subnets acknowledge their missing route table)', () => {
      // Prepare / Act
      const warnings = Annotations.fromStack(stack).findWarning('*', Match.anyValue());
      // Assess
      expect(warnings).toEqual([]);
    });
  });

  describe('grantKeyringUse', () => {
    it('lets an application role read only its keyring catalog document', () => {
      // Prepare
      const bucketStatements = statementsOf(template, 'AWS::S3::BucketPolicy', 'PolicyDocument');
      // Act
      const reads = bucketStatements.filter((s) => String(s['Sid']).startsWith('ReadCatalog'));
      // Assess
      expect(reads).toHaveLength(2);
      expect(JSON.stringify(reads)).toContain('/catalog/pii.json');
      expect(JSON.stringify(reads)).toContain('/catalog/ops.json');
    });

    it('throws UnknownKeyringError for a keyring the stack does not have', () => {
      // Prepare
      const role = iam.Role.fromRoleArn(stack, 'Stranger', 'arn:aws:iam::111122223333:role/stranger', { mutable: false });
      // Act / Assess
      expect(() => stack.grantKeyringUse(role, 'payments')).toThrow(UnknownKeyringError);
    });
  });
});
