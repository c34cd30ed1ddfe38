/**
 * Operator roles (`operatorRoleArns`, RekeyStack.grantOperatorAccess): exactly what the CLI's
 * AWS mode calls, on both sides where the resource has a policy, and no key material.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ValidationError } from '../../shared/errors';
import { acknowledgeNagFindings } from '../../infra/nag-acknowledgements';
import { resolveRekeyProps } from '../../infra/props';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Statement = Record<string, unknown>;

const OPERATOR = 'arn:aws:iam::111122223333:role/rekey-operator';
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function statementsOf(template: Template, type: string, field: string): Statement[] {
  return Object.values(template.findResources(type) as Record<string, Resource>).flatMap((r) => asList((r.Properties?.[field] as { Statement?: unknown })?.Statement ?? []) as Statement[]);
}

function naming(statements: readonly Statement[], arn: string): Statement[] {
  return statements.filter((s) => JSON.stringify(s['Principal'] ?? '').includes(arn));
}

describe('operator access', () => {
  describe('imported operator roles (operatorRoleArns)', () => {
    let template: Template;
    beforeAll(() => {
      ({ template } = synthStack({ ...FULL_CONFIG, operatorRoleArns: [OPERATOR] }));
    });

    it('lets the operator list, read and write catalog documents and the consumer registry, read key use, the census and the revocation marks, through the bucket policies', () => {
      // Prepare
      const statements = naming(statementsOf(template, 'AWS::S3::BucketPolicy', 'PolicyDocument'), OPERATOR);
      // Act
      const byAction = statements.map((s) => ({ actions: asList(s['Action']), resource: JSON.stringify(s['Resource']), condition: s['Condition'] }));
      // Assess
      // status shows the last use of each version (S3KeyUseLog under key-use/), and every catalog
      // read of the CLI's AWS mode overlays the revocation ledger (marks read by version id only).
      expect(byAction).toEqual([
        { actions: ['s3:GetObject'], resource: expect.stringMatching(/Catalog[0-9A-F]{8}.*\/key-use\/\*/), condition: undefined },
        // `status --count-records` counts S3 targets from their census (parts/record-census.ts): read documents, list marks.
        { actions: ['s3:GetObject'], resource: expect.stringMatching(/Catalog[0-9A-F]{8}.*\/census\/\*/), condition: undefined },
        { actions: ['s3:ListBucket'], resource: expect.stringMatching(/^\{"Fn::GetAtt":\["Catalog[0-9A-F]{8}","Arn"\]\}$/), condition: { StringLike: { 's3:prefix': ['census/*'] } } },
        { actions: ['s3:GetObject', 's3:PutObject'], resource: expect.stringMatching(/Catalog[0-9A-F]{8}.*\/catalog\/\*/), condition: undefined },
        { actions: ['s3:ListBucket'], resource: expect.stringMatching(/^\{"Fn::GetAtt":\["Catalog[0-9A-F]{8}","Arn"\]\}$/), condition: { StringLike: { 's3:prefix': ['catalog/*'] } } },
        // `rekey consumers add|remove|list`: the registry documents, outside the catalog prefix.
        { actions: ['s3:GetObject', 's3:PutObject'], resource: expect.stringMatching(/Catalog[0-9A-F]{8}.*\/consumers\/\*/), condition: undefined },
        { actions: ['s3:ListBucket'], resource: expect.stringMatching(/^\{"Fn::GetAtt":\["Catalog[0-9A-F]{8}","Arn"\]\}$/), condition: { StringLike: { 's3:prefix': ['consumers/*'] } } },
        { actions: ['s3:GetObjectVersion'], resource: expect.stringMatching(/Escrow[0-9A-F]{8}.*\/revocations\/\*/), condition: undefined },
        { actions: ['s3:ListBucketVersions'], resource: expect.stringMatching(/^\{"Fn::GetAtt":\["Escrow[0-9A-F]{8}","Arn"\]\}$/), condition: { StringLike: { 's3:prefix': ['revocations/*'] } } },
      ]);
    });

    it('admits the operator to the ops key and, for the revocation marks, the escrow key, through S3 only, and to no keyring key', () => {
      // Prepare
      const keys = Object.values(template.findResources('AWS::KMS::Key') as Record<string, Resource>);
      // Act
      const withOperator = keys.filter((k) => JSON.stringify(k.Properties?.['KeyPolicy']).includes(OPERATOR));
      const byKey = withOperator.map((k) => ({
        key: String(k.Properties?.['Description']),
        statements: naming((k.Properties?.['KeyPolicy'] as { Statement: Statement[] }).Statement, OPERATOR).map((s) => ({ Sid: s['Sid'], Action: s['Action'], Condition: s['Condition'] })),
      }));
      // Assess
      // Through S3 the escrow key opens only objects the operator may GET: the marks (above), never an escrow record.
      const viaS3 = { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } };
      expect(byKey).toEqual([
        { key: expect.stringContaining('catalog bucket'), statements: [{ Sid: 'CatalogWriters', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Condition: viaS3 }] },
        { key: expect.stringContaining('escrowed version keys'), statements: [{ Sid: 'RevocationLedgerReaders', Action: 'kms:Decrypt', Condition: viaS3 }] },
      ]);
    });

    it('lets the operator put only Key Version Compromised reports and audit events on the bus', () => {
      // Prepare
      const policies = Object.values(template.findResources('AWS::Events::EventBusPolicy') as Record<string, Resource>).map((p) => p.Properties?.['Statement'] as Statement);
      // Act
      const mine = naming(policies, OPERATOR);
      const deny = policies.find((s) => s['Sid'] === 'cdk-OnlySecurityPrincipalsReportCompromise');
      // Assess
      // The operator roles are the default security principals (securityPrincipalArns), hence the
      // second Allow of compromise reports; every other principal is denied them by the bus.
      expect(mine.map((s) => [String(s['Sid']).replace(/^cdk-(OperatorEvents\d)RekeyTestOperator0[0-9A-F]{8}$/, '$1'), s['Condition']])).toEqual([
        ['cdk-SecurityPrincipalsReportCompromise', { 'ForAnyValue:StringEquals': { 'events:source': ['rekey'], 'events:detail-type': ['Key Version Compromised'] } }],
        // Multivalued keys need a set operator (IAM "Single-valued vs. multivalued context keys").
        ['OperatorEvents0', { 'ForAnyValue:StringEquals': { 'events:source': 'rekey', 'events:detail-type': 'Key Version Compromised' } }],
        ['OperatorEvents1', { 'ForAnyValue:StringEquals': { 'events:source': 'rekey.audit', 'events:detail-type': 'Rekey Audit Event' } }],
      ]);
      for (const s of mine) expect(s).toMatchObject({ Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Bus/), 'Arn'] } });
      expect(deny).toMatchObject({
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'events:PutEvents',
        Condition: { 'ForAnyValue:StringEquals': { 'events:detail-type': ['Key Version Compromised'] }, ArnNotEquals: { 'aws:PrincipalArn': [OPERATOR] } },
      });
    });

    it('keeps cdk-nag clean with the stack acknowledgements', () => {
      // Prepare
      const { stack } = synthStack({ ...FULL_CONFIG, operatorRoleArns: [OPERATOR] }, (s) => {
        acknowledgeNagFindings(s);
      });
      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);
      // Assess
      expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    });

    it('lets the operator invoke the rotate and escrow functions only', () => {
      // Prepare
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission') as Record<string, Resource>).filter((p) => p.Properties?.['Principal'] === OPERATOR);
      // Act
      const targets = permissions.map((p) => JSON.stringify(p.Properties?.['FunctionName'])).sort();
      // Assess
      expect(permissions.map((p) => p.Properties?.['Action'])).toEqual(['lambda:InvokeFunction', 'lambda:InvokeFunction']);
      expect(targets).toEqual([expect.stringContaining('FnescrowFunction'), expect.stringContaining('FnrotateFunction')]);
    });
  });

  describe('a role of this app (grantOperatorAccess)', () => {
    let statements: Statement[];
    beforeAll(() => {
      const { template } = synthStack(FULL_CONFIG, (s) => {
        s.grantOperatorAccess(new iam.Role(s, 'OwnOperator', { assumedBy: new iam.AccountRootPrincipal() }));
      });
      const policy = Object.entries(template.findResources('AWS::IAM::Policy') as Record<string, Resource>).find(([id]) => id.startsWith('OwnOperatorDefaultPolicy'));
      statements = (policy?.[1].Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
    });

    it('gets the identity side too: DescribeStacks on this stack, invoke, events with conditions, catalog via S3', () => {
      // Prepare / Act
      const actions = new Set(statements.flatMap((s) => asList(s['Action']) as string[]));
      const describe = statements.find((s) => asList(s['Action']).includes('cloudformation:DescribeStacks'));
      const events = statements.filter((s) => asList(s['Action']).includes('events:PutEvents'));
      // Assess
      // s3:GetObjectVersion and s3:ListBucketVersions: the revocation marks only (next test).
      expect(actions).toEqual(
        // s3:GetBucketNotification and sqs:GetQueueAttributes: the census's evidence for status --count-records.
        new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketNotification', 'sqs:GetQueueAttributes', 'kms:Decrypt', 'kms:GenerateDataKey', 'events:PutEvents', 'lambda:InvokeFunction', 'cloudformation:DescribeStacks']),
      );
      expect(describe?.['Resource']).toEqual({ Ref: 'AWS::StackId' });
      expect(events).toHaveLength(2);
      for (const e of events) expect(e['Condition']).toMatchObject({ 'ForAnyValue:StringEquals': { 'events:source': expect.any(String), 'events:detail-type': expect.any(String) } });
    });

    it('gets no key material: KMS only on the ops key, the target bucket key and the escrow key (marks), each through S3', () => {
      // Prepare
      const kmsStatements = statements.filter((s) => (asList(s['Action']) as string[]).some((a) => a.startsWith('kms:')));
      // Act
      const resources = kmsStatements.map((s) => JSON.stringify(s['Resource']));
      const onEscrow = statements.filter((s) => JSON.stringify(s['Resource']).includes('Escrow'));
      // Assess
      expect(resources).toEqual([expect.stringContaining('OpsKey'), expect.stringMatching(/key\/1234abcd.*EscrowKey/)]);
      for (const s of kmsStatements) expect(JSON.stringify(s['Condition'])).toContain('kms:ViaService');
      expect(JSON.stringify(statements)).not.toMatch(/Keyring(pii|ops)Key/);
      // On the escrow bucket: the revocation marks by version id and their listing, no escrow record.
      expect(onEscrow.filter((s) => !(asList(s['Action']) as string[]).some((a) => a.startsWith('kms:'))).map((s) => [s['Action'], JSON.stringify(s['Resource'])])).toEqual([
        ['s3:GetObjectVersion', expect.stringContaining('/revocations/*')],
        ['s3:ListBucketVersions', expect.not.stringContaining('/')],
      ]);
    });

    it('reads record targets for status --count-records, never writes them', () => {
      // Prepare / Act
      const onTargets = statements.filter((s) => JSON.stringify(s['Resource']).includes('records'));
      // Assess
      expect(new Set(onTargets.flatMap((s) => asList(s['Action'])))).toEqual(new Set(['s3:GetObject', 's3:ListBucket', 's3:GetBucketNotification']));
    });
  });

  describe('operatorRoleArns validation', () => {
    it('accepts role ARNs and defaults to none', () => {
      // Prepare / Act / Assess
      expect(resolveRekeyProps({ keyrings: [{ name: 'pii' }] }).operatorRoleArns).toEqual([]);
      expect(resolveRekeyProps({ keyrings: [{ name: 'pii' }], operatorRoleArns: [OPERATOR] }).operatorRoleArns).toEqual([OPERATOR]);
    });

    it.each([
      ['a user ARN', ['arn:aws:iam::111122223333:user/alice'], 'operatorRoleArns.0: must be an IAM role ARN'],
      ['a duplicate', [OPERATOR, OPERATOR], 'operatorRoleArns: duplicate role ARN'],
      ['21 roles', Array.from({ length: 21 }, (_, i) => `arn:aws:iam::111122223333:role/op-${i}`), 'operatorRoleArns: at most 20 operator roles'],
    ])('refuses %s', (_label, operatorRoleArns, message) => {
      // Prepare / Act
      const act = (): unknown => resolveRekeyProps({ keyrings: [{ name: 'pii' }], operatorRoleArns });
      // Assess
      expect(act).toThrow(ValidationError);
      expect(act).toThrow(message);
    });
  });
});
