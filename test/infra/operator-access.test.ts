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

    it('lets the operator list, read and write catalog documents through the bucket policy', () => {
      // Prepare
      const statements = naming(statementsOf(template, 'AWS::S3::BucketPolicy', 'PolicyDocument'), OPERATOR);
      // Act
      const byAction = statements.map((s) => ({ actions: asList(s['Action']), resource: JSON.stringify(s['Resource']), condition: s['Condition'] }));
      // Assess
      expect(byAction).toHaveLength(2);
      expect(byAction).toEqual(
        expect.arrayContaining([
          { actions: ['s3:GetObject', 's3:PutObject'], resource: expect.stringContaining('/catalog/*'), condition: undefined },
          { actions: ['s3:ListBucket'], resource: expect.stringContaining('Catalog'), condition: { StringLike: { 's3:prefix': ['catalog/*'] } } },
        ]),
      );
    });

    it('admits the operator to the ops key through S3 only, and to no keyring or escrow key', () => {
      // Prepare
      const keys = Object.values(template.findResources('AWS::KMS::Key') as Record<string, Resource>);
      // Act
      const withOperator = keys.filter((k) => JSON.stringify(k.Properties?.['KeyPolicy']).includes(OPERATOR));
      const statement = naming((withOperator[0]?.Properties?.['KeyPolicy'] as { Statement: Statement[] }).Statement, OPERATOR);
      // Assess
      expect(withOperator).toHaveLength(1);
      expect(String(withOperator[0]?.Properties?.['Description'])).toContain('catalog bucket');
      expect(statement).toEqual([
        expect.objectContaining({
          Sid: 'CatalogWriters',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Condition: { StringEquals: { 'kms:ViaService': expect.anything() } },
        }),
      ]);
    });

    it('lets the operator put only Key Version Compromised reports and audit events on the bus', () => {
      // Prepare
      const policies = Object.values(template.findResources('AWS::Events::EventBusPolicy') as Record<string, Resource>).map((p) => p.Properties?.['Statement'] as Statement);
      // Act
      const mine = naming(policies, OPERATOR);
      // Assess
      expect(mine.map((s) => s['Condition'])).toEqual([
        // Multivalued keys need a set operator (IAM "Single-valued vs. multivalued context keys").
        { 'ForAnyValue:StringEquals': { 'events:source': 'rekey', 'events:detail-type': 'Key Version Compromised' } },
        { 'ForAnyValue:StringEquals': { 'events:source': 'rekey.audit', 'events:detail-type': 'Rekey Audit Event' } },
      ]);
      for (const s of mine) expect(s).toMatchObject({ Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Bus/), 'Arn'] } });
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
      expect(actions).toEqual(
        new Set(['s3:GetObject', 's3:PutObject', 's3:ListBucket', 'kms:Decrypt', 'kms:GenerateDataKey', 'events:PutEvents', 'lambda:InvokeFunction', 'cloudformation:DescribeStacks']),
      );
      expect(describe?.['Resource']).toEqual({ Ref: 'AWS::StackId' });
      expect(events).toHaveLength(2);
      for (const e of events) expect(e['Condition']).toMatchObject({ 'ForAnyValue:StringEquals': { 'events:source': expect.any(String), 'events:detail-type': expect.any(String) } });
    });

    it('gets no key material: KMS only on the ops key and the target bucket key, each through S3', () => {
      // Prepare
      const kmsStatements = statements.filter((s) => (asList(s['Action']) as string[]).some((a) => a.startsWith('kms:')));
      // Act
      const resources = kmsStatements.map((s) => JSON.stringify(s['Resource']));
      // Assess
      expect(resources).toEqual([expect.stringContaining('OpsKey'), expect.stringContaining('key/1234abcd')]);
      for (const s of kmsStatements) expect(JSON.stringify(s['Condition'])).toContain('kms:ViaService');
      expect(JSON.stringify(statements)).not.toMatch(/Keyring(pii|ops)Key|EscrowKey/);
    });

    it('reads record targets for status --count-records, never writes them', () => {
      // Prepare / Act
      const onTargets = statements.filter((s) => JSON.stringify(s['Resource']).includes('records'));
      // Assess
      expect(new Set(onTargets.flatMap((s) => asList(s['Action'])))).toEqual(new Set(['s3:GetObject', 's3:ListBucket']));
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
