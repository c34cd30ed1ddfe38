/**
 * A hand-filled TwinWorld for the authorizer's tests, its policies copied in shape from the
 * synthesized stack (cdk.out/Rekey.template.json: FnrotateRoleDefaultPolicy, CatalogPolicy,
 * KeyringpiiKey, OpsKey, AlarmTopicPolicy, CompromiseRuleDlqPolicy, the
 * KeyVersionCompromised/CatalogWritten Lambda permissions, SchedulerRolerotate's trust policy,
 * the bus policy of compromise reports), with the intrinsics resolved by hand to the ARNs below.
 * Key policies as infra/constructs/key-policy.ts builds them: administration for the deploying
 * role and the break-glass role only, read-only metadata for the account root.
 */
import { TwinWorld, TWIN_ACCOUNT as A, type PolicyDocument, type TwinRole } from '../world';

const R = 'us-east-1';
const V = '2012-10-17';

/** ARNs of the fixture's resources. */
export const ARNS = {
  rotateRole: `arn:aws:iam::${A}:role/Rekey-FnrotateRole`,
  reencryptRole: `arn:aws:iam::${A}:role/Rekey-FnreencryptRole`,
  escrowRole: `arn:aws:iam::${A}:role/Rekey-FnescrowRole`,
  keyaccessRole: `arn:aws:iam::${A}:role/Rekey-FnkeyaccessRole`,
  schedulerRole: `arn:aws:iam::${A}:role/Rekey-SchedulerRolerotate`,
  appRole: `arn:aws:iam::${A}:role/application`,
  /** The CDK bootstrap's CloudFormation execution role (the deploying role). */
  deployRole: `arn:aws:iam::${A}:role/cdk-hnb659fds-cfn-exec-role-${A}-${R}`,
  breakGlassRole: `arn:aws:iam::${A}:role/rekey-break-glass`,
  /** A security principal (props securityPrincipalArns): may report a compromise. */
  securityRole: `arn:aws:iam::${A}:role/security-operations`,
  catalogBucket: 'arn:aws:s3:::rekey-catalog',
  escrowBucket: 'arn:aws:s3:::rekey-escrow',
  alarmTopic: `arn:aws:sns:${R}:${A}:Rekey-AlarmTopic`,
  dlq: `arn:aws:sqs:${R}:${A}:Rekey-CompromiseRuleDlq`,
  bus: `arn:aws:events:${R}:${A}:event-bus/Rekey-events`,
  compromisedRule: `arn:aws:events:${R}:${A}:rule/Rekey-events/Rekey-KeyVersionCompromised`,
  catalogWrittenRule: `arn:aws:events:${R}:${A}:rule/Rekey-events/Rekey-CatalogWritten`,
  keyaccessFn: `arn:aws:lambda:${R}:${A}:function:Rekey-keyaccess`,
  rotateFn: `arn:aws:lambda:${R}:${A}:function:Rekey-rotate`,
} as const;

const ROOT = `arn:aws:iam::${A}:root`;

/** infra/constructs/key-policy.ts KEY_ADMIN_ACTIONS, as the template lists them. */
export const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion', 'kms:CreateAlias', 'kms:DeleteAlias', 'kms:DescribeKey', 'kms:DisableKey', 'kms:DisableKeyRotation',
  'kms:EnableKey', 'kms:EnableKeyRotation', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:ListAliases', 'kms:ListGrants',
  'kms:ListKeyPolicies', 'kms:ListResourceTags', 'kms:PutKeyPolicy', 'kms:RevokeGrant', 'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion', 'kms:TagResource', 'kms:UntagResource', 'kms:UpdateAlias', 'kms:UpdateKeyDescription',
];
/** infra/constructs/key-policy.ts KEY_METADATA_ACTIONS: all the account root keeps. */
const KEY_METADATA_ACTIONS = ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:ListAliases', 'kms:ListGrants', 'kms:ListKeyPolicies', 'kms:ListResourceTags'];
const adminStatement = { Sid: 'KeyAdministrationOnly', Effect: 'Allow', Principal: { AWS: [ARNS.deployRole, ARNS.breakGlassRole] }, Action: KEY_ADMIN_ACTIONS, Resource: '*' };
const metadataStatement = { Sid: 'KeyMetadataForAccount', Effect: 'Allow', Principal: { AWS: ROOT }, Action: KEY_METADATA_ACTIONS, Resource: '*' };

/** The CDK enforceSSL bucket statements (CatalogPolicy). */
function tlsOnly(bucketArn: string, service: string): Record<string, unknown>[] {
  const resource = service === 's3' ? [bucketArn, `${bucketArn}/*`] : bucketArn;
  return [
    { Action: `${service}:*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Effect: 'Deny', Principal: { AWS: '*' }, Resource: resource },
    ...(service === 's3' ? [{ Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } }, Effect: 'Deny', Principal: { AWS: '*' }, Resource: resource }] : []),
  ];
}

/** A keyring key policy (KeyringpiiKey) for `keyring`. */
export function keyringKeyPolicy(keyring: string): PolicyDocument {
  const versioned = {
    StringEquals: { 'kms:EncryptionContext:keyring': keyring },
    'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyring', 'version'] },
    Null: { 'kms:EncryptionContext:version': 'false' },
  };
  return {
    Version: V,
    Statement: [
      adminStatement,
      metadataStatement,
      { Sid: 'GenerateVersionKeys', Effect: 'Allow', Principal: { AWS: ARNS.rotateRole }, Action: 'kms:GenerateDataKeyWithoutPlaintext', Resource: '*', Condition: versioned },
      { Sid: 'ReencryptAnyVersion', Effect: 'Allow', Principal: { AWS: ARNS.reencryptRole }, Action: 'kms:Decrypt', Resource: '*', Condition: versioned },
      {
        Sid: 'CreateVersionGrants',
        Effect: 'Allow',
        Principal: { AWS: ARNS.keyaccessRole },
        Action: 'kms:CreateGrant',
        Resource: '*',
        Condition: {
          'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'], 'kms:EncryptionContextKeys': ['keyring', 'version'] },
          StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals', 'kms:EncryptionContext:keyring': keyring, 'kms:GranteePrincipal': [ARNS.escrowRole] },
          Bool: { 'kms:GrantIsForAWSResource': 'false' },
        },
      },
      { Sid: 'MaintainVersionGrants', Effect: 'Allow', Principal: { AWS: ARNS.keyaccessRole }, Action: ['kms:ListGrants', 'kms:RevokeGrant'], Resource: '*' },
    ],
  };
}

/** OpsKey's policy: S3-only use by the catalog readers and writers, CloudWatch for encrypted alarm topics. */
const opsKeyPolicy = (): PolicyDocument => ({
  Version: V,
  Statement: [
    adminStatement,
    metadataStatement,
    { Sid: 'CatalogReaders', Effect: 'Allow', Principal: { AWS: [ARNS.keyaccessRole, ARNS.reencryptRole] }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:ViaService': `s3.${R}.amazonaws.com` } } },
    { Sid: 'CatalogWriters', Effect: 'Allow', Principal: { AWS: [ARNS.rotateRole, ARNS.escrowRole] }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*', Condition: { StringEquals: { 'kms:ViaService': `s3.${R}.amazonaws.com` } } },
    { Sid: 'CloudWatchAlarmsPublish', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*', Condition: { StringEquals: { 'aws:SourceAccount': A } } },
  ],
});

/**
 * The bus policy infra/parts/key-administration.ts `restrictCompromiseReports` writes: Deny
 * PutEvents of `Key Version Compromised` to every principal whose aws:PrincipalArn is not listed,
 * and the listed principals' Allow (EventBridge condition keys events:source and
 * events:detail-type: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
 */
export function compromiseReportsPolicy(securityPrincipalArns: readonly string[]): PolicyDocument {
  const compromise = { 'ForAnyValue:StringEquals': { 'events:detail-type': ['Key Version Compromised'] } };
  return {
    Version: V,
    Statement: [
      {
        Sid: 'OnlySecurityPrincipalsReportCompromise',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'events:PutEvents',
        Resource: ARNS.bus,
        Condition: securityPrincipalArns.length === 0 ? compromise : { ...compromise, ArnNotEquals: { 'aws:PrincipalArn': [...securityPrincipalArns] } },
      },
      ...(securityPrincipalArns.length === 0
        ? []
        : [
            {
              Sid: 'SecurityPrincipalsReportCompromise',
              Effect: 'Allow',
              Principal: { AWS: securityPrincipalArns.length === 1 ? securityPrincipalArns[0] : [...securityPrincipalArns] },
              Action: 'events:PutEvents',
              Resource: ARNS.bus,
              Condition: { 'ForAnyValue:StringEquals': { 'events:source': ['rekey'], 'events:detail-type': ['Key Version Compromised'] } },
            },
          ]),
    ],
  };
}

function role(name: string, arn: string, trust: PolicyDocument, policies: PolicyDocument[]): TwinRole {
  return { logicalId: name, name: arn.split('/').pop()!, arn, trust, policies, accessKeyId: `AKIA${name.toUpperCase().slice(0, 12)}`, secretAccessKey: 'not-used' };
}

const lambdaTrust: PolicyDocument = { Version: V, Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }] };

/** ARNs of the fixture's two KMS keys: real moto keys, so ListGrants and CreateGrant work on them. */
export interface FixtureKeys {
  readonly keyring: string;
  readonly ops: string;
}

/** Builds the fixture world around two real moto keys. */
export function buildWorld(keys: FixtureKeys): TwinWorld {
  const world = new TwinWorld();
  const rotatePolicy: PolicyDocument = {
    Version: V,
    Statement: [
      { Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], Effect: 'Allow', Resource: ARNS.dlq },
      { Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'], Effect: 'Allow', Resource: `${ARNS.catalogBucket}/catalog/*` },
      { Action: ['s3:ListBucket', 's3:ListBucketVersions'], Condition: { StringLike: { 's3:prefix': ['catalog/*'] } }, Effect: 'Allow', Resource: ARNS.catalogBucket },
      { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: keys.ops },
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: ARNS.bus },
      { Action: 's3:*', Effect: 'Allow', Resource: `${ARNS.escrowBucket}/*` },
    ],
  };
  const escrowPolicy: PolicyDocument = {
    Version: V,
    Statement: [{ Action: ['s3:GetObject', 's3:GetObjectRetention', 's3:PutObject', 's3:PutObjectRetention', 's3:DeleteObject'], Effect: 'Allow', Resource: `${ARNS.escrowBucket}/*` }],
  };
  // The application role may use KMS on every key by IAM: key policies must still name it.
  const appPolicy: PolicyDocument = { Version: V, Statement: [{ Action: 'kms:*', Effect: 'Allow', Resource: '*' }] };
  const schedulerTrust: PolicyDocument = {
    Version: V,
    Statement: [{ Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': A } }, Effect: 'Allow', Principal: { Service: 'scheduler.amazonaws.com' } }],
  };
  const schedulerPolicy: PolicyDocument = { Version: V, Statement: [{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: ARNS.rotateFn }] };
  for (const r of [
    role('FnrotateRole', ARNS.rotateRole, lambdaTrust, [rotatePolicy]),
    role('FnreencryptRole', ARNS.reencryptRole, lambdaTrust, []),
    role('FnescrowRole', ARNS.escrowRole, lambdaTrust, [escrowPolicy]),
    role('FnkeyaccessRole', ARNS.keyaccessRole, lambdaTrust, [{ Version: V, Statement: [{ Action: 'kms:Decrypt', Effect: 'Allow', Resource: keys.ops }] }]),
    role('SchedulerRolerotate', ARNS.schedulerRole, schedulerTrust, [schedulerPolicy]),
    role('application', ARNS.appRole, lambdaTrust, [appPolicy]),
    // Broad IAM policies, as an account administrator would hold: the key policies decide anyway.
    role('deploy', ARNS.deployRole, lambdaTrust, [appPolicy]),
    role('breakglass', ARNS.breakGlassRole, lambdaTrust, [appPolicy]),
    role('security', ARNS.securityRole, lambdaTrust, []),
  ]) world.roles.set(r.arn, r);

  world.buckets.set('rekey-catalog', { name: 'rekey-catalog', arn: ARNS.catalogBucket, versioning: true, eventBridge: true, policy: { Version: V, Statement: tlsOnly(ARNS.catalogBucket, 's3') } });
  // Escrow: only the escrow function may delete (aws:PrincipalArn), on top of the TLS rule.
  world.buckets.set('rekey-escrow', {
    name: 'rekey-escrow',
    arn: ARNS.escrowBucket,
    versioning: true,
    eventBridge: false,
    policy: {
      Version: V,
      Statement: [
        ...tlsOnly(ARNS.escrowBucket, 's3'),
        { Sid: 'OnlyEscrowDeletes', Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:DeleteObject', Resource: `${ARNS.escrowBucket}/*`, Condition: { StringNotEquals: { 'aws:PrincipalArn': ARNS.escrowRole } } },
      ],
    },
  });
  world.keys.set('OpsKey', { logicalId: 'OpsKey', keyId: keys.ops.split('/')[1]!, arn: keys.ops, policy: opsKeyPolicy() });
  world.keys.set('KeyringpiiKey', { logicalId: 'KeyringpiiKey', keyId: keys.keyring.split('/')[1]!, arn: keys.keyring, policy: keyringKeyPolicy('pii') });
  world.topics.set('AlarmTopic', {
    logicalId: 'AlarmTopic',
    name: 'Rekey-AlarmTopic',
    arn: ARNS.alarmTopic,
    kmsKeyArn: keys.ops,
    subscriptions: [],
    policy: { Version: V, Statement: [{ Sid: 'AllowPublishThroughSSLOnly', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Effect: 'Deny', Principal: '*', Resource: ARNS.alarmTopic }] },
  });
  const fromRule = (rule: string, sid: string): Record<string, unknown> => ({
    Sid: sid, Action: 'sqs:SendMessage', Condition: { ArnEquals: { 'aws:SourceArn': rule } }, Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Resource: ARNS.dlq,
  });
  world.queues.set('CompromiseRuleDlq', {
    logicalId: 'CompromiseRuleDlq',
    name: 'Rekey-CompromiseRuleDlq',
    arn: ARNS.dlq,
    url: `https://sqs.${R}.amazonaws.com/${A}/Rekey-CompromiseRuleDlq`,
    policy: { Version: V, Statement: [...tlsOnly(ARNS.dlq, 'sqs'), fromRule(ARNS.compromisedRule, 'AllowKeyVersionCompromised'), fromRule(ARNS.catalogWrittenRule, 'AllowCatalogWritten')] },
  });
  // The bus policy of compromise reports (infra/parts/key-administration.ts restrictCompromiseReports).
  world.buses.set('Rekey-events', { name: 'Rekey-events', arn: ARNS.bus, policy: compromiseReportsPolicy([ARNS.securityRole]) });
  const fn = (name: string, arn: string, roleArn: string, permissions: { principal: string; action: string; sourceArn?: string }[]): void => {
    world.functions.set(name, { logicalId: name, name, arn, roleArn, handler: 'index.handler', assetDir: '/nonexistent', runtime: 'nodejs24.x', environment: {}, timeoutSeconds: 30, memoryMiB: 256, permissions });
  };
  fn('Rekey-keyaccess', ARNS.keyaccessFn, ARNS.keyaccessRole, [
    { principal: 'events.amazonaws.com', action: 'lambda:InvokeFunction', sourceArn: ARNS.compromisedRule },
    { principal: 'events.amazonaws.com', action: 'lambda:InvokeFunction', sourceArn: ARNS.catalogWrittenRule },
  ]);
  fn('Rekey-rotate', ARNS.rotateFn, ARNS.rotateRole, []);
  return world;
}
