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
        Sensitivity: 'high',
      });
      // The defaults of the policy are spelled out, so the template says what is provisioned.
      expect(byKeyring['ops']).toMatchObject({ RotateEvery: '90d', Grace: '7d', Propagation: '10m', Retention: '30d', Sensitivity: 'moderate' });
    });

    it('uses no CDK Provider framework (no extra function, no state machine but the sweep)', () => {
      // Prepare / Act
      const fns = Object.keys(template.findResources('AWS::Lambda::Function'));
      const machines = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
      // Assess
      expect(fns.filter((id) => /Provider|framework/i.test(id))).toEqual([]);
      expect(fns).toHaveLength(8);
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
      expect(all).toEqual(
        new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage', 's3:GetObject', 's3:PutObject', 's3:ListBucket', 'kms:Decrypt', 'kms:GenerateDataKey', 'events:PutEvents']),
      );
      expect(generators.map((s) => s['Action'])).toEqual(['kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyWithoutPlaintext']);
      // The identity kms:* statement is the ops key's (catalog via S3), never a keyring key's.
      const kmsResources = statements.filter((s) => (asList(s['Action']) as string[]).some((a) => a.startsWith('kms:'))).map((s) => JSON.stringify(s['Resource']));
      expect(kmsResources).toEqual([expect.stringContaining('OpsKey')]);
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
      expect(actionsOn(statements, 'Escrow')).toEqual(new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 'kms:Decrypt']));
      expect(actionsOn(statements, 'orders-records/pii/*')).toEqual(new Set(['s3:GetObject', 's3:PutObject']));
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
      expect(actionsOn(statements, 'Escrow')).toEqual(new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 'kms:Decrypt']));
      expect(escrowKey).toEqual([
        expect.objectContaining({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } } }),
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
      expect(actionsOn(statements, 'ops-records')).toEqual(new Set(['s3:GetObject', 's3:ListBucket']));
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
    it('gives the sweep worker and revoke exactly GetObject/PutObject on objects and a prefix-bound ListBucket', () => {
      for (const fn of ['reencrypt', 'revoke']) {
        // Prepare
        const statements = roleStatements(template, fn);
        // Act
        const objects = actionsOn(statements, 'orders-records/pii/*');
        const listing = statements.filter((s) => JSON.stringify(s['Resource']).endsWith(':::orders-records"]]}'));
        // Assess
        expect(objects).toEqual(new Set(['s3:GetObject', 's3:PutObject']));
        expect(listing).toEqual([expect.objectContaining({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['pii/*'] } } })]);
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
