/**
 * The function roles' permissions against their code paths (infra/access/function-access.ts):
 * keyring provisioning, wrapped-only version generation, revoke, grace-period, escrow, record
 * targets, the catalog and the escrow retention variable.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { ENV } from '../../shared/config/env-names';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type Resource = { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] };
type Statement = Record<string, unknown>;

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** Identity statements of one function's role (its DefaultPolicy). */
function roleStatements(template: Template, fn: string): Statement[] {
  const id = `Fn${fn.replace(/-/g, '')}RoleDefaultPolicy`;
  const policies = Object.entries(template.findResources('AWS::IAM::Policy') as Record<string, Resource>).filter(([logicalId]) => logicalId.startsWith(id));
  expect(policies).toHaveLength(1);
  return (policies[0]?.[1].Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
}

/** Every action a role's identity policy grants on resources whose JSON contains `resourceHint`. */
function actionsOn(statements: readonly Statement[], resourceHint: string): Set<string> {
  return new Set(statements.filter((s) => JSON.stringify(s['Resource']).includes(resourceHint)).flatMap((s) => asList(s['Action']) as string[]));
}

/** Key-policy statements of the keys whose description contains `hint`. */
function keyStatements(template: Template, hint: string): Statement[] {
  return Object.values(template.findResources('AWS::KMS::Key') as Record<string, Resource>)
    .filter((k) => String(k.Properties?.['Description']).includes(hint))
    .flatMap((k) => (k.Properties?.['KeyPolicy'] as { Statement: Statement[] }).Statement);
}

function principalsOf(s: Statement): string {
  return JSON.stringify(s['Principal']);
}

/** The revocation ledger's objects: marks under `revocations/` of the escrow bucket. */
const LEDGER = '/revocations/*';

/** Statements that are not the revocation ledger's (its marks, its listing, the escrow key through S3). */
function withoutLedger(statements: readonly Statement[]): Statement[] {
  return statements.filter((s) => {
    const r = JSON.stringify(s['Resource']);
    const c = JSON.stringify(s['Condition'] ?? {});
    return !r.includes(LEDGER) && !c.includes('revocations/') && !(r.includes('EscrowKey') && c.includes('kms:ViaService'));
  });
}

/** The fixture's S3 record targets. */
const RECORD_TARGETS = FULL_CONFIG.recordTargets ?? [];

const VIA_S3 = { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } };
const ESCROW_BUCKET = { 'Fn::GetAtt': [expect.stringMatching(/^Escrow[0-9A-F]{8}$/), 'Arn'] };
const MARKS = { 'Fn::Join': ['', [ESCROW_BUCKET, LEDGER]] };

describe('function permissions', () => {
  let template: Template;
  let resources: Record<string, Resource>;

  beforeAll(() => {
    ({ template } = synthStack(FULL_CONFIG));
    resources = template.toJSON()['Resources'] as Record<string, Resource>;
  });

  describe('keyring provisioning', () => {
    it('declares one Custom::RekeyKeyring per keyring, served directly by the provision function', () => {
      // Prepare
      const custom = Object.values(template.findResources('Custom::RekeyKeyring') as Record<string, Resource>);
      // Act
      const byKeyring = Object.fromEntries(custom.map((r) => [r.Properties?.['Keyring'], r.Properties]));
      // Assess
      expect(custom).toHaveLength(2);
      expect(byKeyring['pii']).toEqual({
        ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^FnprovisionFunction/), 'Arn'] },
        ServiceTimeout: '300',
        Keyring: 'pii',
        RotateEvery: '30d',
        Grace: '7d',
        Propagation: '15m',
        Retention: '30d',
        // The quiet period and the destruction opt-in (off by default) reach the catalog too (usecases/provision.ts).
        Quiet: '7d',
        DestroyAfterRetention: 'false',
        Sensitivity: 'high',
      });
      // The defaults of the policy are spelled out, so the template says what is provisioned.
      expect(byKeyring['ops']).toMatchObject({ RotateEvery: '90d', Grace: '7d', Propagation: '10m', Retention: '30d', Quiet: '7d', DestroyAfterRetention: 'false', Sensitivity: 'moderate' });
    });

    it('uses no CDK Provider framework (no extra function, no state machine but the sweep)', () => {
      // Prepare / Act
      const fns = Object.keys(template.findResources('AWS::Lambda::Function'));
      const machines = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
      // Assess
      expect(fns.filter((id) => /Provider|framework/i.test(id))).toEqual([]);
      expect(fns).toHaveLength(9);
      expect(machines).toHaveLength(1);
    });

    it('waits for the provider role policy and the catalog-written rule before the first request', () => {
      // Prepare
      const custom = Object.values(template.findResources('Custom::RekeyKeyring') as Record<string, Resource>);
      // Act / Assess
      for (const r of custom) {
        expect(r.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^FnprovisionRoleDefaultPolicy/), expect.stringMatching(/^CatalogWritten[0-9A-F]{8}$/), expect.stringMatching(/^CatalogPolicy/)]));
      }
    });

    it('lets provision read and write catalogs and generate version keys wrapped only, nothing else', () => {
      // Prepare
      const statements = roleStatements(template, 'provision');
      // Act
      const all = new Set(statements.flatMap((s) => asList(s['Action']) as string[]));
      const generators = keyStatements(template, 'keyring').filter((s) => principalsOf(s).includes('Fnprovision'));
      // Assess
      expect(actionsOn(statements, '/catalog/*')).toEqual(new Set(['s3:GetObject', 's3:PutObject']));
      // s3:GetObjectVersion and s3:ListBucketVersions are the revocation ledger's (see below), on the escrow bucket only.
      expect(all).toEqual(
        new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage', 's3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:ListBucket', 's3:ListBucketVersions', 'kms:Decrypt', 'kms:GenerateDataKey', 'events:PutEvents']),
      );
      expect(new Set(withoutLedger(statements).flatMap((s) => asList(s['Action']) as string[]))).toEqual(
        new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage', 's3:GetObject', 's3:PutObject', 's3:ListBucket', 'kms:Decrypt', 'kms:GenerateDataKey', 'events:PutEvents']),
      );
      expect(generators.map((s) => s['Action'])).toEqual(['kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyWithoutPlaintext']);
      // The identity kms:* statements are the ops key's (catalog via S3) and the escrow key's
      // (ledger marks, through S3 only), never a keyring key's.
      const kmsResources = statements.filter((s) => (asList(s['Action']) as string[]).some((a) => a.startsWith('kms:'))).map((s) => JSON.stringify(s['Resource']));
      expect(kmsResources).toEqual([expect.stringContaining('OpsKey'), expect.stringContaining('EscrowKey')]);
    });
  });

  describe('version keys', () => {
    it('grants no role kms:GenerateDataKey (with plaintext) on a keyring key', () => {
      // Prepare
      const statements = keyStatements(template, 'wraps the version keys');
      // Act
      const actions = statements.filter((s) => s['Sid'] !== 'KeyAdministrationOnly').flatMap((s) => asList(s['Action']) as string[]);
      // Assess
      expect(actions).toContain('kms:GenerateDataKeyWithoutPlaintext');
      expect(actions).not.toContain('kms:GenerateDataKey');
    });
  });

  describe('revoke', () => {
    it('may create the replacement version (wrapped only) and decrypt any version of each keyring', () => {
      // Prepare
      const statements = keyStatements(template, 'wraps the version keys').filter((s) => principalsOf(s).includes('Fnrevoke'));
      // Act
      const actions = statements.map((s) => s['Action']).sort();
      // Assess
      expect(actions).toEqual(['kms:Decrypt', 'kms:Decrypt', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyWithoutPlaintext']);
      for (const s of statements) expect(s['Condition']).toMatchObject({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyring', 'version'] } });
    });

    it('may start the sweep, reach the cache, read escrow records and rewrite record targets', () => {
      // Prepare
      const statements = roleStatements(template, 'revoke');
      // Act / Assess
      expect(actionsOn(statements, 'Sweep')).toEqual(new Set(['states:StartExecution']));
      expect(actionsOn(statements, 'elasticache')).toEqual(new Set(['elasticache:DescribeReplicationGroups', 'elasticache:DescribeServerlessCaches', 'elasticache:Connect']));
      expect(actionsOn(withoutLedger(statements), 'Escrow')).toEqual(new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 'kms:Decrypt']));
      // The version actions delete exposed noncurrent copies (see 'record targets' below).
      expect(actionsOn(statements, 'orders-records/pii/*')).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:GetObjectTagging', 's3:PutObjectTagging', 's3:GetObjectVersion', 's3:DeleteObjectVersion']));
    });
  });

  describe('revocation ledger', () => {
    // Every catalog read on AWS goes through StickyRevocationCatalogStore (compose/aws/aws-core.ts,
    // key-access-services.ts), which lists and reads the marks (S3RevocationLedger.revoked:
    // ListObjectVersions, GetObject with a VersionId); only the revoke function marks.
    const READERS = ['rotate', 'grace-period', 'escrow', 'provision', 'reencrypt', 'cache-invalidate', 'key-access'];

    it('lets every catalog reader list and read marks by version id (s3:GetObjectVersion, never s3:GetObject), through S3 only', () => {
      for (const fn of [...READERS, 'revoke']) {
        // Prepare
        const statements = roleStatements(template, fn);
        // Act
        const marks = statements.filter((s) => JSON.stringify(s['Resource']).includes(LEDGER));
        const listing = statements.filter((s) => JSON.stringify(s['Condition'] ?? {}).includes('revocations/'));
        // Assess
        const expected = fn === 'revoke' ? ['s3:GetObjectVersion', 's3:PutObject', 's3:PutObjectRetention'] : 's3:GetObjectVersion';
        expect({ fn, marks }).toEqual({ fn, marks: [{ Action: expected, Effect: 'Allow', Resource: MARKS }] });
        expect({ fn, listing }).toEqual({ fn, listing: [{ Action: 's3:ListBucketVersions', Condition: { StringLike: { 's3:prefix': ['revocations/*'] } }, Effect: 'Allow', Resource: ESCROW_BUCKET }] });
      }
    });

    it('lets only revoke write marks, and the escrow key decrypt marks for the readers and generate for the writer, through S3 only', () => {
      // Prepare
      const escrowKey = keyStatements(template, 'escrowed version keys');
      const bucketPolicy = Object.values(template.findResources('AWS::S3::BucketPolicy') as Record<string, Resource>)
        .filter((p) => JSON.stringify(p.Properties?.['Bucket']).includes('Escrow'))
        .flatMap((p) => (p.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement);
      // Act
      const readers = escrowKey.find((s) => s['Sid'] === 'RevocationLedgerReaders');
      const writer = escrowKey.find((s) => s['Sid'] === 'RevocationLedgerWriter');
      const onlyRevoke = bucketPolicy.find((s) => s['Sid'] === 'OnlyTheRevokeFunctionMarks');
      const neverDeleted = bucketPolicy.find((s) => s['Sid'] === 'RevocationMarksAreNeverDeleted');
      // Assess
      expect(readers).toMatchObject({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: '*', Condition: VIA_S3 });
      const readerRoles = (asList((readers?.['Principal'] as { AWS: unknown }).AWS) as unknown[]).map((p) => JSON.stringify(p).match(/Fn([a-z]+)Role/)?.[1]).sort();
      expect(readerRoles).toEqual(['cacheinvalidate', 'escrow', 'graceperiod', 'keyaccess', 'provision', 'reencrypt', 'revoke', 'rotate']);
      expect(writer).toMatchObject({ Action: 'kms:GenerateDataKey', Effect: 'Allow', Resource: '*', Condition: VIA_S3, Principal: { AWS: { 'Fn::GetAtt': [expect.stringMatching(/^FnrevokeRole/), 'Arn'] } } });
      expect(onlyRevoke).toEqual({
        Sid: 'OnlyTheRevokeFunctionMarks',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: ['s3:PutObject', 's3:PutObjectRetention'],
        Resource: MARKS,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [expect.stringMatching(/^FnrevokeRole/), 'Arn'] } } },
      });
      expect(neverDeleted).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:BypassGovernanceRetention', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectLegalHold'], Resource: MARKS });
      for (const fn of READERS) {
        const writes = roleStatements(template, fn).filter((s) => JSON.stringify(s['Resource']).includes(LEDGER)).flatMap((s) => asList(s['Action']) as string[]);
        expect({ fn, writes: writes.filter((a) => a !== 's3:GetObjectVersion') }).toEqual({ fn, writes: [] });
      }
    });
  });

  describe('grace-period', () => {
    it('may read the breaker metrics (GetMetricData has no resource type: "*")', () => {
      // Prepare
      const statements = roleStatements(template, 'grace-period');
      // Act
      const metric = statements.filter((s) => asList(s['Action']).includes('cloudwatch:GetMetricData'));
      const others = metric.flatMap((s) => asList(s['Action']) as string[]).filter((a) => a !== 'cloudwatch:GetMetricData');
      // Assess
      expect(metric).toHaveLength(1);
      expect(metric[0]).toMatchObject({ Effect: 'Allow', Resource: '*' });
      expect(metric[0]?.['Condition']).toBeUndefined();
      // Merged by minimizePolicies with the VPC function's ENI actions (also resource "*"), and nothing else.
      for (const a of others) expect(a).toMatch(/^ec2:(Create|Describe|Delete)NetworkInterfaces?$|^ec2:(Assign|Unassign)PrivateIpAddresses$/);
    });

    it('may read escrow records through S3 (and the newest version behind a delete marker), never unwrap them', () => {
      // Prepare
      const statements = roleStatements(template, 'grace-period');
      const escrowKey = keyStatements(template, 'escrowed version keys').filter((s) => principalsOf(s).includes('Fngraceperiod'));
      // Act / Assess
      expect(actionsOn(withoutLedger(statements), 'Escrow')).toEqual(new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 'kms:Decrypt']));
      // Its only escrow-key statements: the ledger readers' and the escrow records', both Decrypt through S3.
      expect(escrowKey.map((s) => s['Sid'])).toEqual(['RevocationLedgerReaders', expect.stringMatching(/^EscrowBucketReader/)]);
      expect(escrowKey).toEqual([
        expect.objectContaining({ Action: 'kms:Decrypt', Condition: VIA_S3 }),
        expect.objectContaining({ Action: 'kms:Decrypt', Condition: VIA_S3 }),
      ]);
    });

    it('may plan create-pending: generates version keys wrapped only, decrypts none', () => {
      // Prepare
      const statements = keyStatements(template, 'wraps the version keys').filter((s) => principalsOf(s).includes('Fngraceperiod'));
      // Act / Assess
      expect(statements.map((s) => s['Action'])).toEqual(['kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyWithoutPlaintext']);
    });

    it('only reads record targets', () => {
      // Prepare / Act
      const statements = roleStatements(template, 'grace-period');
      // Assess
      expect(actionsOn(statements, 'orders-records/pii/*')).toEqual(new Set(['s3:GetObject']));
      // GetBucketNotification: the census counts only while the bucket still sends its events (parts/record-census.ts).
      expect(actionsOn(statements, 'ops-records')).toEqual(new Set(['s3:GetObject', 's3:ListBucket', 's3:GetBucketNotification']));
    });
  });

  describe('escrow', () => {
    it('has exactly the S3 actions of S3EscrowStore put/get/list (no GetObjectRetention, which nothing calls)', () => {
      // Prepare / Act
      const statements = roleStatements(template, 'escrow');
      // Assess
      expect(actionsOn(statements, 'Escrow')).toEqual(
        new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:PutObjectRetention', 's3:ListBucket', 's3:ListBucketVersions', 'kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey']),
      );
    });
  });

  describe('record targets', () => {
    it('gives the sweep worker exactly GetObject/PutObject (with AbortMultipartUpload of its own rewrites and the tagging a copy keeps) on objects and a prefix-bound ListBucket', () => {
      // Prepare
      const statements = roleStatements(template, 'reencrypt');
      // Act
      const objects = actionsOn(statements, 'orders-records/pii/*');
      const listing = statements.filter((s) => JSON.stringify(s['Resource']).endsWith(':::orders-records"]]}'));
      // Assess
      expect(objects).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:GetObjectTagging', 's3:PutObjectTagging']));
      expect(listing).toEqual([expect.objectContaining({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['pii/*'] } } })]);
    });

    it('gives writers the tagging actions a metadata-layout copy of a tagged record needs, on every target, and readers none', () => {
      // Prepare: one target in the metadata layout, one in the default (which may still hold such objects).
      const targets = [{ ...FULL_CONFIG.recordTargets![0]!, layout: 'metadata' as const }, FULL_CONFIG.recordTargets![1]!];
      const { template: withLayout } = synthStack({ ...FULL_CONFIG, recordTargets: targets });
      // Act
      const worker = roleStatements(withLayout, 'reencrypt');
      const counter = roleStatements(withLayout, 'grace-period');
      // Assess
      for (const objects of ['orders-records/pii/*', 'ops-records/*']) {
        expect(actionsOn(worker, objects)).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:GetObjectTagging', 's3:PutObjectTagging']));
      }
      expect(actionsOn(counter, 'orders-records/pii/*')).toEqual(new Set(['s3:GetObject']));
    });

    it('lets revoke alone also list, read and delete noncurrent object versions under the prefix (exposed copies of a revoked key)', () => {
      // Prepare
      const statements = roleStatements(template, 'revoke');
      // Act
      const objects = actionsOn(statements, 'orders-records/pii/*');
      const listing = statements.filter((s) => JSON.stringify(s['Resource']).endsWith(':::orders-records"]]}'));
      // Assess
      expect(objects).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:GetObjectTagging', 's3:PutObjectTagging', 's3:GetObjectVersion', 's3:DeleteObjectVersion']));
      // CDK merges the two prefix-bound bucket statements into one.
      expect(listing).toEqual([expect.objectContaining({ Action: ['s3:ListBucket', 's3:ListBucketVersions'], Condition: { StringLike: { 's3:prefix': ['pii/*'] } } })]);
      for (const fn of ['reencrypt', 'grace-period', 'rotate', 'escrow']) {
        const others = actionsOn(roleStatements(template, fn), 'orders-records');
        expect(others.has('s3:DeleteObjectVersion')).toBe(false);
        expect(others.has('s3:ListBucketVersions')).toBe(false);
      }
    });
  });

  describe('catalog', () => {
    it('grants no function the catalog history (GetObjectVersion, ListBucketVersions), which none reads', () => {
      for (const fn of ['rotate', 'grace-period', 'reencrypt', 'cache-invalidate', 'escrow', 'revoke', 'key-access', 'provision']) {
        // Prepare / Act
        const actions = actionsOn(roleStatements(template, fn), 'Catalog');
        // Assess
        expect(actions.has('s3:GetObject')).toBe(true);
        expect(actions.has('s3:GetObjectVersion')).toBe(false);
        expect(actions.has('s3:ListBucketVersions')).toBe(false);
      }
    });
  });

  describe('key-use', () => {
    it('reads and writes only the key-use documents (under the ops key), writes census marks, reads record headers, and no keyring key', () => {
      // Prepare
      const statements = roleStatements(template, 'key-use');
      const targetObjects = RECORD_TARGETS.map((t) => JSON.stringify({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${t.bucket}/${t.prefix ?? ''}*`]] }));
      const s3Statements = statements.filter((s) => asList(s['Action']).some((a) => String(a).startsWith('s3:')));
      // Act
      const kmsActions = statements.filter((s) => asList(s['Action']).some((a) => String(a).startsWith('kms:')) && !JSON.stringify(s['Condition'] ?? {}).includes('kms:ViaService'));
      const headerReads = s3Statements.filter((s) => !JSON.stringify(s['Resource']).includes('Catalog'));
      // Assess
      expect(actionsOn(statements, '/key-use/*')).toEqual(new Set(['s3:GetObject', 's3:PutObject']));
      // The census (parts/record-census.ts): marks written, never read; headers of written records read, nothing else of them.
      expect(actionsOn(statements, '/census/*/writes/*')).toEqual(new Set(['s3:PutObject']));
      expect(actionsOn(statements, '/census/*.json')).toEqual(new Set());
      expect(new Set(headerReads.flatMap((s) => asList(s['Action'])))).toEqual(new Set(['s3:GetObject']));
      expect(new Set(headerReads.flatMap((s) => asList(s['Resource']).map((r) => JSON.stringify(r))))).toEqual(new Set(targetObjects));
      expect(kmsActions).toEqual([expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^OpsKey/), 'Arn'] } })]);
      expect(keyStatements(template, 'wraps the version keys').filter((s) => principalsOf(s).includes('Fnkeyuse'))).toEqual([]);
      expect(actionsOn(statements, 'catalog/')).toEqual(new Set());
    });

    it('lets the census step read only the sweep results and read and write only the census documents (never a mark), and ask only the target buckets about notifications', () => {
      // Prepare
      const statements = roleStatements(template, 'reencrypt');
      const buckets = [...new Set(RECORD_TARGETS.map((t) => t.bucket))];
      // Act
      const notification = statements.filter((s) => asList(s['Action']).includes('s3:GetBucketNotification'));
      // Assess
      expect(actionsOn(statements, '/sweeps/*')).toEqual(new Set(['s3:GetObject']));
      expect(actionsOn(statements, '/census/*.json')).toEqual(new Set(['s3:GetObject', 's3:PutObject']));
      expect(actionsOn(statements, '/writes/')).toEqual(new Set());
      expect(notification).toHaveLength(1);
      expect(new Set(asList(notification[0]?.['Resource']).map((r) => JSON.stringify(r)))).toEqual(new Set(buckets.map((b) => JSON.stringify({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${b}`]] }))));
    });

    it('lets the census readers (grace-period, revoke) read census documents and list marks, never write them', () => {
      for (const fn of ['grace-period', 'revoke']) {
        // Prepare / Act
        const statements = roleStatements(template, fn);
        const listing = statements.filter((s) => asList(s['Action']).includes('s3:ListBucket') && JSON.stringify(s['Condition'] ?? {}).includes('census/'));
        // Assess
        expect(actionsOn(statements, '/census/*.json')).toEqual(new Set(['s3:GetObject']));
        expect(actionsOn(statements, '/writes/')).toEqual(new Set());
        expect(listing.map((s) => s['Condition'])).toEqual([{ StringLike: { 's3:prefix': ['census/*'] } }]);
        // The evidence at each count: the loss queues' depth (those two queues only) and the buckets' notifications.
        // (The function's own failure queue, as an on-failure destination, is another statement.)
        const depth = statements.filter((st) => asList(st['Action']).length === 1 && asList(st['Action'])[0] === 'sqs:GetQueueAttributes');
        expect(depth).toHaveLength(1);
        expect(asList(depth[0]?.['Resource']).map((r) => JSON.stringify(r).replace(/[0-9A-F]{8}"/, '"')).sort()).toEqual([
          JSON.stringify({ 'Fn::GetAtt': ['FnkeyuseFailureQueue', 'Arn'] }),
          JSON.stringify({ 'Fn::GetAtt': ['RecordWrittenRuleDlq', 'Arn'] }),
        ]);
      }
      // Nobody else touches the census.
      for (const fn of ['rotate', 'escrow', 'cache-invalidate', 'key-access', 'provision']) expect(actionsOn(roleStatements(template, fn), '/census/*')).toEqual(new Set());
    });

    it('routes S3 Object Created events of the record target buckets and prefixes to the key-use function, with a DLQ', () => {
      // Prepare
      const rules = Object.values(template.findResources('AWS::Events::Rule') as Record<string, Resource>).filter((r) => JSON.stringify(r.Properties?.['EventPattern'] ?? {}).includes('Object Created') && JSON.stringify(r.Properties?.['Targets'] ?? []).includes('Fnkeyuse'));
      // Act
      const rule = rules[0]?.Properties ?? {};
      const pattern = rule['EventPattern'] as { source: string[]; detail: { bucket: { name: string[] }; object?: unknown } };
      const target = (rule['Targets'] as Record<string, unknown>[])[0] ?? {};
      // Assess
      expect(rules).toHaveLength(1);
      expect(pattern.source).toEqual(['aws.s3']);
      expect(new Set(pattern.detail.bucket.name)).toEqual(new Set(RECORD_TARGETS.map((t) => t.bucket)));
      // A target without a prefix takes its whole bucket: no key filter then.
      if (RECORD_TARGETS.some((t) => (t.prefix ?? '') === '')) expect(pattern.detail.object).toBeUndefined();
      else expect(pattern.detail.object).toEqual({ key: RECORD_TARGETS.map((t) => ({ prefix: t.prefix })) });
      expect(target).toMatchObject({ DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^RecordWrittenRuleDlq/), 'Arn'] } } });
    });

    it('lets the reconcilers (grace-period, revoke) read the key-use log, never write it (only recorded events start it)', () => {
      for (const fn of ['grace-period', 'revoke']) {
        // Prepare / Act
        const actions = new Set(roleStatements(template, fn).filter((s) => JSON.stringify(s['Resource']).includes('/key-use/*')).flatMap((s) => asList(s['Action']) as string[]));
        // Assess
        expect(actions).toEqual(new Set(['s3:GetObject']));
      }
    });

    it('routes successful Decrypts of the keyring keys from the default bus, read-only management events included, with a DLQ', () => {
      // Prepare
      const rules = Object.values(template.findResources('AWS::Events::Rule') as Record<string, Resource>).filter((r) => JSON.stringify(r.Properties?.['EventPattern'] ?? {}).includes('"Decrypt"'));
      const keyArns = Object.keys(template.findResources('AWS::KMS::Key')).filter((id) => id.startsWith('Keyring'));
      // Act
      const rule = rules[0]?.Properties ?? {};
      const pattern = rule['EventPattern'] as { detail: { resources: { ARN: unknown[] }; errorCode: unknown; eventName: unknown } };
      const target = (rule['Targets'] as Record<string, unknown>[])[0] ?? {};
      // Assess
      expect(rules).toHaveLength(1);
      expect(rule['State']).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
      expect(rule['EventBusName']).toBeUndefined();
      expect(pattern.detail.eventName).toEqual(['Decrypt']);
      expect(pattern.detail.errorCode).toEqual([{ exists: false }]);
      expect(pattern.detail.resources.ARN).toEqual(keyArns.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })));
      expect(target).toMatchObject({ Arn: { 'Fn::GetAtt': [expect.stringMatching(/^FnkeyuseFunction/), 'Arn'] }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^KeyUseRuleDlq/), 'Arn'] } } });
    });

    it("tells the function the escrow role, whose unwraps are not use", () => {
      // Prepare
      const fn = Object.entries(resources).find(([id, r]) => id.startsWith('FnkeyuseFunction') && r.Type === 'AWS::Lambda::Function')?.[1];
      // Act
      const value = JSON.stringify((fn?.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables['REKEY_KEY_USE_IGNORED_ROLES']);
      // Assess
      expect(value).toMatch(/FnescrowRole[0-9A-F]+/);
    });
  });

  describe('configuration', () => {
    it('tells every function the escrow retention of the props (400 days, as the bucket lock)', () => {
      // Prepare
      const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
      const bucket = Object.values(resources).find((r) => r.Type === 'AWS::S3::Bucket' && r.Properties?.['ObjectLockEnabled'] === true);
      // Act
      const values = fns.map((f) => (f.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables[ENV.escrowRetentionDays]);
      // Assess
      expect(values).toEqual(fns.map(() => '400'));
      expect(JSON.stringify(bucket?.Properties?.['ObjectLockConfiguration'])).toContain('"Days":400');
    });
  });
});
