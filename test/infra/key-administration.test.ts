/**
 * Issue 11, "On AWS, revocation is sticky": who may report a compromise (bus policy), who may
 * administer the keys (key policies, no account-wide kms admin), who may write revocation marks
 * (bucket policy), and the CloudTrail rules that alarm on key administration and foreign grants.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { KEY_ADMIN_ACTIONS } from '../../infra/constructs/key-policy';
import { ALARMED_KEY_ADMIN_CALLS } from '../../infra/parts/key-administration';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type Statement = { Sid?: string; Effect: string; Principal?: unknown; Action: string | string[]; Condition?: Record<string, Record<string, unknown>>; Resource?: unknown };
const OPERATOR = 'arn:aws:iam::111122223333:role/rekey-operator';
const SECURITY = 'arn:aws:iam::111122223333:role/security-automation';
const BREAK_GLASS = 'arn:aws:iam::111122223333:role/kms-break-glass';

function statementsOf(template: Template, type: string, field: string): Statement[] {
  return Object.values(template.findResources(type)).flatMap((r) => ((r.Properties as Record<string, { Statement: Statement[] }>)[field]?.Statement ?? []));
}
function busStatements(template: Template): Statement[] {
  // CDK prefixes the Sid of a bus policy statement with `cdk-`.
  return Object.values(template.findResources('AWS::Events::EventBusPolicy')).map((r) => {
    const s = (r.Properties as { Statement: Statement }).Statement;
    return { ...s, Sid: s.Sid?.replace(/^cdk-/, '') };
  });
}
const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('key administration and compromise reports', () => {
  const { template } = synthStack({ ...FULL_CONFIG, operatorRoleArns: [OPERATOR], securityPrincipalArns: [SECURITY, OPERATOR], breakGlassRoleArn: BREAK_GLASS });

  describe('bus policy', () => {
    it('denies Key Version Compromised to every principal but the security principals, whatever their IAM policies', () => {
      const deny = busStatements(template).find((s) => s.Sid === 'OnlySecurityPrincipalsReportCompromise');
      expect(deny).toMatchObject({
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'events:PutEvents',
        Condition: { 'ForAnyValue:StringEquals': { 'events:detail-type': ['Key Version Compromised'] }, ArnNotEquals: { 'aws:PrincipalArn': [SECURITY, OPERATOR] } },
      });
    });

    it('lets the security principals put the report on the bus side (source rekey, that detail-type only)', () => {
      const allow = busStatements(template).find((s) => s.Sid === 'SecurityPrincipalsReportCompromise');
      expect(allow).toMatchObject({ Effect: 'Allow', Condition: { 'ForAnyValue:StringEquals': { 'events:source': ['rekey'], 'events:detail-type': ['Key Version Compromised'] } } });
      expect(JSON.stringify(allow?.Principal)).toContain(SECURITY);
    });

    it('defaults the security principals to the operator roles, and denies everyone without any', () => {
      const operatorsOnly = synthStack({ ...FULL_CONFIG, operatorRoleArns: [OPERATOR] }).template;
      const none = synthStack(FULL_CONFIG).template;
      expect(busStatements(operatorsOnly).find((s) => s.Sid === 'OnlySecurityPrincipalsReportCompromise')?.Condition?.['ArnNotEquals']).toEqual({ 'aws:PrincipalArn': [OPERATOR] });
      const denyAll = busStatements(none).find((s) => s.Sid === 'OnlySecurityPrincipalsReportCompromise');
      expect(denyAll?.Condition).toEqual({ 'ForAnyValue:StringEquals': { 'events:detail-type': ['Key Version Compromised'] } });
    });
  });

  describe('key policies', () => {
    const keys = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy');

    it('gives the account root no administrative and no cryptographic action on any key', () => {
      const rootStatements = keys.filter((s) => JSON.stringify(s.Principal).includes(':root'));
      expect(rootStatements.length).toBeGreaterThan(0);
      for (const s of rootStatements) {
        expect(actions(s).every((a) => /^kms:(Describe|Get|List)/.test(a))).toBe(true);
      }
    });

    it('limits PutKeyPolicy, ScheduleKeyDeletion and DisableKey to the CloudFormation execution role and the break-glass role', () => {
      const admin = keys.filter((s) => actions(s).some((a) => ['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DisableKey'].includes(a)));
      // Two keyrings, the ops key and the escrow key.
      expect(admin).toHaveLength(4);
      for (const s of admin) {
        expect(s.Sid).toBe('KeyAdministrationOnly');
        expect(actions(s)).toEqual([...KEY_ADMIN_ACTIONS]);
        const principals = JSON.stringify(s.Principal);
        expect(principals).toContain('cfn-exec-role');
        expect(principals).toContain(BREAK_GLASS);
        expect(principals).not.toContain(':root');
      }
    });

    it('renders the bootstrap role through Fn::Sub, so CloudFormation resolves its account and region', () => {
      const admin = keys.find((s) => s.Sid === 'KeyAdministrationOnly');
      expect(JSON.stringify(admin?.Principal)).toMatch(/Fn::Sub.*cdk-hnb659fds-cfn-exec-role-\$\{AWS::AccountId\}-\$\{AWS::Region\}/);
    });

    it('uses deployRoleArn instead of the bootstrap role when given', () => {
      const deployRoleArn = 'arn:aws:iam::111122223333:role/pipeline-deploy';
      const keysOf = statementsOf(synthStack({ ...FULL_CONFIG, deployRoleArn }).template, 'AWS::KMS::Key', 'KeyPolicy').filter((s) => s.Sid === 'KeyAdministrationOnly');
      for (const s of keysOf) expect(s.Principal).toEqual({ AWS: deployRoleArn });
    });
  });

  describe('revocation ledger', () => {
    const bucket = statementsOf(template, 'AWS::S3::BucketPolicy', 'PolicyDocument');

    it('denies writing marks to every principal but the revoke function, and deleting them to everyone', () => {
      const writes = bucket.find((s) => s.Sid === 'OnlyTheRevokeFunctionMarks');
      expect(writes).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:PutObject', 's3:PutObjectRetention'] });
      expect(JSON.stringify(writes?.Condition)).toMatch(/ArnNotEquals.*aws:PrincipalArn.*FnrevokeRole/);
      expect(JSON.stringify(writes?.Resource)).toContain('/revocations/*');
      const deletes = bucket.find((s) => s.Sid === 'RevocationMarksAreNeverDeleted');
      expect(deletes).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
      expect(deletes?.Condition).toBeUndefined();
    });
  });

  describe('CloudTrail alarms', () => {
    it('sends every key-administration call on a stack key to the alarm topic', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.kms'],
          'detail-type': ['AWS API Call via CloudTrail'],
          detail: { eventSource: ['kms.amazonaws.com'], eventName: [...ALARMED_KEY_ADMIN_CALLS], resources: { ARN: Match.arrayWith([Match.objectLike({ 'Fn::GetAtt': Match.arrayWith([Match.stringLikeRegexp('EscrowKey')]) })]) } },
        },
        Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('AlarmTopic') }, DeadLetterConfig: Match.anyValue() })],
      });
    });

    it('alarms on a grant on a keyring key that the key-access role did not make (any other role, or no role session)', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          detail: {
            eventName: ['CreateGrant'],
            $or: [
              { userIdentity: { type: [{ 'anything-but': 'AssumedRole' }] } },
              { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': { 'Fn::GetAtt': [Match.stringLikeRegexp('FnkeyaccessRole'), 'Arn'] } }] } } } },
            ],
          },
        },
      });
    });

    it('lets EventBridge publish to the encrypted alarm topic (topic policy and the ops key)', () => {
      const topicPolicies = statementsOf(template, 'AWS::SNS::TopicPolicy', 'PolicyDocument');
      expect(topicPolicies.some((s) => JSON.stringify(s.Principal).includes('events.amazonaws.com') && actions(s).includes('sns:Publish'))).toBe(true);
      const opsKey = statementsOf(template, 'AWS::KMS::Key', 'KeyPolicy').find((s) => s.Sid === 'EventBridgeAlarmRulesPublish');
      expect(opsKey).toMatchObject({ Principal: { Service: 'events.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] });
    });
  });
});
