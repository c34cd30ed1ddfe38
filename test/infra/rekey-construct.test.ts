import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Rekey } from '../../infra/rekey';
import { RekeyStack } from '../../infra/rekey-stack';
import { acknowledgeNagFindings } from '../../infra/nag-acknowledgements';
import { configFromOutputs } from '../../shared/app/client-config';
import { CONSUMER_ACCOUNTS_ENV, ENV, KEY_GRANTEES_ENV, OPS_KEY_ARN_ENV } from '../../shared/config/env-names';
import { loadConfig } from '../../shared/config/load-config';
import { STACK_OUTPUTS } from '../../shared/config/stack-outputs';
import { UnknownKeyringError, ValidationError } from '../../shared/errors';
import { FULL_CONFIG, testApp } from './support/stack-fixture';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
type Statement = Record<string, unknown>;

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

const REKEY_ACCOUNT = '111122223333';
const CONSUMER_ACCOUNT = '444455556666';
const REGION = 'eu-west-1';
const KEY = (id: string): string => `arn:aws:kms:${REGION}:${REKEY_ACCOUNT}:key/${id}`;

/** The outputs of a deployed rekey stack as DescribeStacks returns them (key → value). */
const OUTPUTS: Record<string, string> = {
  CatalogBucket: 'rekey-catalog1d5c5e0b-1a2b3c4d5e6f',
  CatalogPrefix: 'catalog/',
  KeyringKeys: JSON.stringify({ pii: KEY('1111aaaa-11aa-11aa-11aa-111111aaaaaa'), ops: KEY('2222bbbb-22bb-22bb-22bb-222222bbbbbb') }),
  EscrowBucket: 'rekey-escrow11d2805b-6f5e4d3c2b1a',
  EscrowKeyArn: KEY('3333cccc-33cc-33cc-33cc-333333cccccc'),
  RecordTargets: '[]',
  EventBusName: 'Rekey-events',
  SweepStateMachineArn: `arn:aws:states:${REGION}:${REKEY_ACCOUNT}:stateMachine:Sweep1A2B3C4D-abcdefgh`,
  BreakerThreshold: '0.05',
  FunctionNames: JSON.stringify({ rotate: 'Rekey-Fnrotate-abc' }),
  AlarmTopicArn: `arn:aws:sns:${REGION}:${REKEY_ACCOUNT}:Rekey-Alarms`,
  CatalogTtlMs: '60000',
  OpsKeyArn: KEY('4444dddd-44dd-44dd-44dd-444444dddddd'),
  ConsumerAccounts: JSON.stringify([REKEY_ACCOUNT, CONSUMER_ACCOUNT]),
};

const statementsOf = (template: Template, type: string, field: string): Statement[] =>
  Object.values(template.findResources(type) as Resources).flatMap((r) => (r.Properties?.[field] as { Statement?: Statement[] } | undefined)?.Statement ?? []);

const template = (stack: Stack): Template => Template.fromStack(stack);

function consumerStack(region = REGION): Stack {
  return new Stack(testApp(), 'Orders', { env: { account: CONSUMER_ACCOUNT, region } });
}

function ordersFunction(stack: Stack): lambda.Function {
  return new lambda.Function(stack, 'Orders', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => 1;') });
}

function environmentOf(template: Template): Record<string, unknown> {
  const fns = Object.values(template.findResources('AWS::Lambda::Function') as Resources);
  return (fns[0]?.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
}

describe('Rekey', () => {
  describe('constructor', () => {
    it('synthesizes in a plain stack, with the outputs under their fixed keys whatever its id', () => {
      // Prepare
      const stack = new Stack(testApp(), 'Platform');
      // Act
      new Rekey(stack, 'Rekey', FULL_CONFIG);
      const template = Template.fromStack(stack);
      // Assess
      const outputs = Object.keys(template.findOutputs('*'));
      expect(outputs.sort()).toEqual(Object.keys(STACK_OUTPUTS).sort());
      expect(Object.keys(template.findResources('AWS::KMS::Key'))).toHaveLength(FULL_CONFIG.keyrings.length + 2);
      template.hasOutput('CatalogTtlMs', { Value: '60000' });
      template.hasOutput('OpsKeyArn', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RekeyOpsKey'), 'Arn'] } });
    });

    it('builds in RekeyStack exactly the template of a plain stack holding it under the id Default', () => {
      // Prepare
      const viaStack = new RekeyStack(testApp(), 'RekeyTest', FULL_CONFIG);
      const plain = new Stack(testApp(), 'RekeyTest');
      // Act
      new Rekey(plain, 'Default', FULL_CONFIG);
      const a = Template.fromStack(viaStack).toJSON();
      const b = Template.fromStack(plain).toJSON();
      // Assess: same resources, logical ids and properties; no logical id carries the construct id.
      expect(a).toEqual(b);
      expect(Object.keys(a['Resources'] as object).filter((id) => id.startsWith('Default'))).toEqual([]);
    });

    it('refuses a second Rekey in one stack', () => {
      // Prepare
      const stack = new RekeyStack(testApp(), 'RekeyTest', FULL_CONFIG);
      // Act / Assess
      expect(() => new Rekey(stack, 'Second', FULL_CONFIG)).toThrow(ValidationError);
      expect(() => new Rekey(stack, 'Second', FULL_CONFIG)).toThrow(/already holds a Rekey \(RekeyTest\/Default\)/);
    });

    it('passes cdk-nag with its acknowledgements when placed under another id', () => {
      // Prepare
      const stack = new Stack(testApp(), 'Platform');
      const rekey = new Rekey(stack, 'Rekey', FULL_CONFIG);
      // Act
      acknowledgeNagFindings(rekey);
      const report = new AwsSolutionsChecks().validateScope(stack);
      // Assess
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
    });
  });

  describe('consumer registry', () => {
    let template: Template;

    beforeAll(() => {
      const stack = new Stack(testApp(), 'Platform', { env: { account: REKEY_ACCOUNT, region: REGION } });
      new Rekey(stack, 'Rekey', { ...FULL_CONFIG, consumerAccounts: [REKEY_ACCOUNT, CONSUMER_ACCOUNT], operatorRoleArns: [`arn:aws:iam::${REKEY_ACCOUNT}:role/rekey-operator`] });
      template = Template.fromStack(stack);
    });

    it('gives key-access the consumer accounts and the ops key, and the registry objects to read', () => {
      // Prepare
      const keyAccess = Object.values(template.findResources('AWS::Lambda::Function') as Resources).find((f) => JSON.stringify(f).includes(KEY_GRANTEES_ENV));
      const policy = statementsOf(template, 'AWS::IAM::Policy', 'PolicyDocument');
      // Act
      const env = (keyAccess?.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
      // Assess
      expect(env[CONSUMER_ACCOUNTS_ENV]).toBe(JSON.stringify([REKEY_ACCOUNT, CONSUMER_ACCOUNT]));
      expect(env[OPS_KEY_ARN_ENV]).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RekeyOpsKey/), 'Arn'] });
      const registryRead = policy.filter((s) => asList(s['Action']).includes('s3:GetObject') && JSON.stringify(s['Resource']).includes('/consumers/*'));
      expect(registryRead).toHaveLength(1);
      expect(registryRead[0]?.['Action']).toBe('s3:GetObject');
      expect(policy).toEqual(expect.arrayContaining([expect.objectContaining({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['consumers/*'] } } })]));
    });

    it('lets key-access create keyring grants for any role of a consumer account, and only then', () => {
      // Prepare
      const statements = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy').filter((s) => s['Sid'] === 'CreateVersionGrants');
      // Act
      const patterns = statements.map((s) => JSON.stringify((s['Condition'] as { StringLike: unknown }).StringLike));
      // Assess
      expect(statements).toHaveLength(FULL_CONFIG.keyrings.length);
      for (const p of patterns) {
        for (const account of [REKEY_ACCOUNT, CONSUMER_ACCOUNT]) expect(p).toContain(`":iam::${account}:role/*"`);
        expect(p).not.toContain(':iam::999999999999:');
      }
    });

    it('lets key-access create only S3-context Decrypt grants on the ops and escrow keys, for consumer accounts, exact bucket enforced on its side', () => {
      // Prepare
      const keyStatements = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy');
      const denies = statementsOf(template, 'AWS::IAM::Policy', 'PolicyDocument').filter((s) => s['Effect'] === 'Deny');
      // Act
      const create = keyStatements.filter((s) => s['Sid'] === 'CreateCatalogReadGrants' || s['Sid'] === 'CreateLedgerReadGrants');
      const maintain = keyStatements.filter((s) => s['Sid'] === 'MaintainCatalogReadGrants' || s['Sid'] === 'MaintainLedgerReadGrants');
      // Assess
      expect(create).toHaveLength(2);
      for (const s of create) {
        expect(s['Action']).toBe('kms:CreateGrant');
        expect(s['Condition']).toMatchObject({
          'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'], 'kms:EncryptionContextKeys': ['aws:s3:arn'] },
          StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals' },
          Bool: { 'kms:GrantIsForAWSResource': 'false' },
        });
        expect(JSON.stringify(s['Condition'])).toContain(`:iam::${CONSUMER_ACCOUNT}:role/*`);
      }
      expect(maintain.map((s) => s['Action'])).toEqual([['kms:ListGrants', 'kms:RevokeGrant'], ['kms:ListGrants', 'kms:RevokeGrant']]);
      expect(denies.map((s) => s['Sid']).sort()).toEqual(['OnlyCatalogBucketGrants', 'OnlyLedgerBucketGrants']);
      for (const d of denies) {
        expect(d['Action']).toBe('kms:CreateGrant');
        expect(Object.keys((d['Condition'] as { StringNotEquals: object }).StringNotEquals)).toEqual(['kms:EncryptionContext:aws:s3:arn']);
      }
    });

    it('admits on the buckets the consumer accounts other than the stack own', () => {
      // Prepare
      const sids = statementsOf(template, 'AWS::S3::BucketPolicy', 'PolicyDocument').map((s) => String(s['Sid']));
      // Act
      const consumerSids = sids.filter((s) => s.startsWith('Consumer')).sort();
      // Assess
      expect(consumerSids).toEqual([`ConsumerCatalog${CONSUMER_ACCOUNT}`, `ConsumerLedgerList${CONSUMER_ACCOUNT}`, `ConsumerLedgerMarks${CONSUMER_ACCOUNT}`]);
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Sid: `ConsumerCatalog${CONSUMER_ACCOUNT}`, Action: 's3:GetObject', Principal: { AWS: `arn:aws:iam::${CONSUMER_ACCOUNT}:root` }, Resource: { 'Fn::Join': ['', [Match.anyValue(), '/catalog/*']] } }),
          ]),
        },
      });
    });

    it('adds no bucket statement for the default (the stack own account)', () => {
      // Prepare
      const stack = new Stack(testApp(), 'Platform');
      new Rekey(stack, 'Rekey', FULL_CONFIG);
      // Act
      const sids = statementsOf(Template.fromStack(stack), 'AWS::S3::BucketPolicy', 'PolicyDocument').map((s) => String(s['Sid']));
      // Assess
      expect(sids.filter((s) => s.startsWith('Consumer'))).toEqual([]);
    });

    it('routes registry writes to key-access like catalog writes', () => {
      // Prepare / Act / Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: Match.objectLike({ detail: Match.objectLike({ object: { key: [{ prefix: 'catalog/' }, { prefix: 'consumers/' }] } }) }),
      });
    });

    it('lets operators read and write the registry on both sides', () => {
      // Prepare
      const statements = statementsOf(template, 'AWS::S3::BucketPolicy', 'PolicyDocument');
      // Act
      const registry = statements.filter((s) => String(s['Sid']).startsWith('OperatorConsumers') || String(s['Sid']).startsWith('OperatorListConsumers'));
      // Assess
      expect(registry.map((s) => s['Action'])).toEqual([['s3:GetObject', 's3:PutObject'], 's3:ListBucket']);
      expect(JSON.stringify(registry)).toContain('rekey-operator');
    });

    it('refuses malformed or repeated consumer accounts', () => {
      // Prepare
      const stack = (): Stack => new Stack(testApp(), 'Platform');
      // Act / Assess
      expect(() => new Rekey(stack(), 'Rekey', { ...FULL_CONFIG, consumerAccounts: ['1234'] })).toThrow(/consumerAccounts\.0: must be a 12-digit AWS account id/);
      expect(() => new Rekey(stack(), 'Rekey', { ...FULL_CONFIG, consumerAccounts: [REKEY_ACCOUNT, REKEY_ACCOUNT] })).toThrow(/consumerAccounts: duplicate account/);
    });
  });

  describe('keyring (local)', () => {
    it('registers the grantee deploy-time and returns the identity statements as an iam.Grant', () => {
      // Prepare
      const stack = new Stack(testApp(), 'Platform', { env: { account: REKEY_ACCOUNT, region: REGION } });
      const rekey = new Rekey(stack, 'Rekey', FULL_CONFIG);
      const fn = ordersFunction(stack);
      // Act
      const grant = rekey.keyring('ops').grantDecrypt(fn);
      rekey.keyring('ops').bindEnvironment(fn);
      const template = Template.fromStack(stack);
      // Assess
      expect(grant.success).toBe(true);
      expect(grant.principalStatements.map((s) => s.actions)).toEqual([['s3:GetObject'], ['kms:Decrypt'], ['s3:GetObjectVersion'], ['s3:ListBucketVersions'], ['kms:Decrypt'], ['kms:Decrypt']]);
      // The escrow function's role is the keyring's first grantee.
      expect(grant.resourceStatements.map((s) => s.sid)).toEqual(['ReadCatalogops2', expect.stringMatching(/^AppLedger.*Marks$/), expect.stringMatching(/^AppLedger.*List$/)]);
      const keyAccess = Object.values(template.findResources('AWS::Lambda::Function') as Resources).find((f) => JSON.stringify(f).includes(KEY_GRANTEES_ENV));
      expect(JSON.stringify((keyAccess?.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables[KEY_GRANTEES_ENV])).toContain('OrdersServiceRole');
      const createGrants = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy').filter((s) => s['Sid'] === 'CreateVersionGrants' && JSON.stringify(s).includes('"ops"'));
      expect(JSON.stringify(createGrants)).toContain('OrdersServiceRole');
      const orders = Object.values(template.findResources('AWS::Lambda::Function') as Resources).find((f) => !JSON.stringify(f).includes(KEY_GRANTEES_ENV) && JSON.stringify(f).includes('exports.handler'));
      const vars = (orders?.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(vars).sort()).toEqual([ENV.catalogBucket, ENV.catalogPrefix, ENV.catalogTtlMs, ENV.escrowBucket, ENV.escrowKeyArn, ENV.eventBusName, ENV.keyringKeys].sort());
    });

    it('keeps one bucket statement when the same role is granted twice', () => {
      // Prepare
      const stack = new Stack(testApp(), 'Platform');
      const rekey = new Rekey(stack, 'Rekey', FULL_CONFIG);
      const role = new iam.Role(stack, 'Reports', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      const other = new iam.Role(stack, 'Billing', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      // Act
      rekey.keyring('ops').grantDecrypt(role);
      rekey.keyring('ops').grantDecrypt(other);
      rekey.keyring('ops').grantEncryptDecrypt(role);
      const sids = statementsOf(Template.fromStack(stack), 'AWS::S3::BucketPolicy', 'PolicyDocument').flatMap((s) => (s['Sid'] === undefined ? [] : [String(s['Sid'])]));
      // Assess: unique sids (S3 refuses a policy repeating one), one per grantee.
      expect(new Set(sids).size).toBe(sids.length);
      expect(sids.filter((s) => s.startsWith('ReadCatalogops'))).toEqual(['ReadCatalogops2', 'ReadCatalogops3']);
    });

    it('refuses a grantee that is not an IAM role, and an unknown keyring', () => {
      // Prepare
      const stack = new Stack(testApp(), 'Platform');
      const rekey = new Rekey(stack, 'Rekey', FULL_CONFIG);
      // Act / Assess
      expect(() => rekey.keyring('ops').grantDecrypt(new iam.User(stack, 'Someone'))).toThrow(ValidationError);
      expect(() => rekey.keyring('nope')).toThrow(UnknownKeyringError);
    });

    it('keeps grantKeyringUse working through the keyring API', () => {
      // Prepare
      const stack = new RekeyStack(testApp(), 'RekeyTest', FULL_CONFIG);
      // Act
      stack.grantKeyringUse(iam.Role.fromRoleArn(stack, 'LateApp', `arn:aws:iam::${REKEY_ACCOUNT}:role/reports`, { mutable: false }), 'ops');
      const template = Template.fromStack(stack);
      // Assess
      const createGrants = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy').filter((s) => s['Sid'] === 'CreateVersionGrants');
      expect(JSON.stringify(createGrants)).toContain(`arn:aws:iam::${REKEY_ACCOUNT}:role/reports`);
      expect(statementsOf(template, 'AWS::S3::BucketPolicy', 'PolicyDocument').map((s) => s['Sid'])).toEqual(expect.arrayContaining(['ReadCatalogops2']));
    });
  });

  describe('fromOutputs', () => {
    it('grants an imported keyring on the identity side only, exactly what the client calls', () => {
      // Prepare
      const stack = consumerStack();
      const fn = ordersFunction(stack);
      const rekey = Rekey.fromOutputs(stack, 'Rekey', OUTPUTS);
      // Act
      const grant = rekey.keyring('pii').grantDecrypt(fn);
      const template = Template.fromStack(stack);
      // Assess
      expect(grant.success).toBe(true);
      expect(grant.resourceStatements).toEqual([]);
      template.resourceCountIs('AWS::S3::BucketPolicy', 0);
      template.resourceCountIs('AWS::KMS::Key', 0);
      const viaS3 = (bucket: string): unknown => ({ StringEquals: { 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${bucket}` } });
      const expected = [
        { Action: 's3:GetObject', Effect: 'Allow', Resource: `arn:aws:s3:::${OUTPUTS['CatalogBucket']}/catalog/pii.json` },
        { Action: 'kms:Decrypt', Effect: 'Allow', Resource: OUTPUTS['OpsKeyArn'], Condition: viaS3(OUTPUTS['CatalogBucket'] as string) },
        { Action: 's3:GetObjectVersion', Effect: 'Allow', Resource: `arn:aws:s3:::${OUTPUTS['EscrowBucket']}/revocations/pii/*` },
        { Action: 's3:ListBucketVersions', Effect: 'Allow', Resource: `arn:aws:s3:::${OUTPUTS['EscrowBucket']}`, Condition: { StringLike: { 's3:prefix': ['revocations/pii/*'] } } },
        { Action: 'kms:Decrypt', Effect: 'Allow', Resource: OUTPUTS['EscrowKeyArn'], Condition: viaS3(OUTPUTS['EscrowBucket'] as string) },
        { Action: 'kms:Decrypt', Effect: 'Allow', Resource: JSON.parse(OUTPUTS['KeyringKeys'] as string).pii, Condition: { StringEquals: { 'kms:EncryptionContext:keyring': 'pii' } } },
      ];
      expect(statementsOf(template, 'AWS::IAM::Policy', 'PolicyDocument')).toEqual(expected);
      expect(grant.principalStatements.map((s) => s.toStatementJson())).toEqual(expected.map(({ Effect: _e, ...s }) => ({ Effect: 'Allow', ...s })));
    });

    it('grants the same statements for encrypt-decrypt (KMS cannot tell them apart)', () => {
      // Prepare
      const a = Rekey.fromOutputs(consumerStack(), 'Rekey', OUTPUTS).keyring('pii');
      const roleStack = consumerStack();
      const role = new iam.Role(roleStack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      // Act
      const decrypt = a.grantDecrypt(role).principalStatements.map((s) => s.toStatementJson());
      const both = Rekey.fromOutputs(roleStack, 'Again', OUTPUTS).keyring('pii').grantEncryptDecrypt(role).principalStatements.map((s) => s.toStatementJson());
      // Assess
      expect(both).toEqual(decrypt);
    });

    it('adds the identity statements to an imported role of the consumer account (another account than rekey)', () => {
      // Prepare
      const stack = consumerStack();
      const role = iam.Role.fromRoleArn(stack, 'OrdersRole', `arn:aws:iam::${CONSUMER_ACCOUNT}:role/orders`);
      // Act
      const grant = Rekey.fromOutputs(stack, 'Rekey', OUTPUTS).keyring('ops').grantDecrypt(role);
      const template = Template.fromStack(stack);
      // Assess
      expect(grant.success).toBe(true);
      template.hasResourceProperties('AWS::IAM::Policy', { Roles: ['orders'] });
      expect(statementsOf(template, 'AWS::IAM::Policy', 'PolicyDocument')).toHaveLength(6);
    });

    it('synthesizes nothing for an immutable role (its owner adds the statements on its side)', () => {
      // Prepare
      const stack = consumerStack();
      const role = iam.Role.fromRoleArn(stack, 'OrdersRole', `arn:aws:iam::${CONSUMER_ACCOUNT}:role/orders`, { mutable: false });
      ordersFunction(stack); // a stack must hold a resource to synthesize
      // Act
      const grant = Rekey.fromOutputs(stack, 'Rekey', OUTPUTS).keyring('ops').grantDecrypt(role);
      // Assess: CDK's immutable role accepts and drops statements, so the grant still lists them.
      template(stack).resourceCountIs('AWS::IAM::Policy', 0);
      expect(grant.principalStatements).toHaveLength(6);
    });

    it('binds the variables that the client configuration loader accepts', () => {
      // Prepare
      const stack = consumerStack();
      const fn = ordersFunction(stack);
      const rekey = Rekey.fromOutputs(stack, 'Rekey', OUTPUTS);
      // Act
      rekey.keyring('pii').bindEnvironment(fn);
      rekey.keyring('ops').bindEnvironment(fn);
      const env = environmentOf(Template.fromStack(stack)) as Record<string, string>;
      const config = loadConfig({ ...env, [ENV.region]: REGION });
      // Assess
      expect(config).toMatchObject({
        catalogBucket: OUTPUTS['CatalogBucket'],
        catalogPrefix: 'catalog/',
        keyringKeys: JSON.parse(OUTPUTS['KeyringKeys'] as string),
        escrowBucket: OUTPUTS['EscrowBucket'],
        escrowKeyArn: OUTPUTS['EscrowKeyArn'],
        eventBusName: 'Rekey-events',
        catalogTtlMs: 60_000,
      });
      expect(configFromOutputs(OUTPUTS, REGION)).toMatchObject({ catalogBucket: config.catalogBucket, keyringKeys: config.keyringKeys, catalogTtlMs: 60_000 });
    });

    it('binds a shorter catalog lifetime when asked, never a longer one', () => {
      // Prepare
      const stack = consumerStack();
      const fn = ordersFunction(stack);
      // Act
      Rekey.fromOutputs(stack, 'Rekey', OUTPUTS, { catalogTtlMs: 10_000 }).keyring('pii').bindEnvironment(fn);
      // Assess
      expect(environmentOf(Template.fromStack(stack))[ENV.catalogTtlMs]).toBe('10000');
      expect(() => Rekey.fromOutputs(consumerStack(), 'Rekey', OUTPUTS, { catalogTtlMs: 120_000 })).toThrow(/longer than the stack's catalog lifetime/);
    });

    it('refuses a function in another region than the rekey stack', () => {
      // Prepare
      const stack = consumerStack('us-east-1');
      const fn = ordersFunction(stack);
      // Act / Assess
      expect(() => Rekey.fromOutputs(stack, 'Rekey', OUTPUTS).keyring('pii').bindEnvironment(fn)).toThrow(/is in us-east-1 but the rekey deployment is in eu-west-1/);
    });

    it('refuses outputs that do not configure a consumer, naming what is wrong', () => {
      // Prepare
      const { OpsKeyArn: _ops, ...withoutOps } = OUTPUTS;
      const stack = consumerStack();
      // Act / Assess
      expect(() => Rekey.fromOutputs(stack, 'A', withoutOps)).toThrow(/OpsKeyArn is missing/);
      expect(() => Rekey.fromOutputs(stack, 'B', { ...OUTPUTS, KeyringKeys: '{}' })).toThrow(/REKEY_KEYRING_KEYS/);
      expect(() => Rekey.fromOutputs(stack, 'C', OUTPUTS).keyring('nope')).toThrow(UnknownKeyringError);
    });
  });

  describe('fromAttributes', () => {
    it('takes tokens (e.g. SSM parameters) and grants with them', () => {
      // Prepare
      const stack = consumerStack();
      const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      const rekey = Rekey.fromAttributes(stack, 'Rekey', {
        catalogBucketName: OUTPUTS['CatalogBucket'] as string,
        keyringKeyArns: { pii: ssm.StringParameter.valueForStringParameter(stack, '/rekey/pii-key-arn') },
        escrowBucketName: OUTPUTS['EscrowBucket'] as string,
        escrowKeyArn: OUTPUTS['EscrowKeyArn'] as string,
        opsKeyArn: OUTPUTS['OpsKeyArn'] as string,
        eventBusName: 'Rekey-events',
      });
      // Act
      const grant = rekey.keyring('pii').grantEncryptDecrypt(role);
      // Assess
      expect(grant.principalStatements).toHaveLength(6);
      expect(rekey.catalogTtlMs).toBe(60_000);
    });
  });
});
