/**
 * The cdk-nag (AwsSolutions) findings the rekey stack keeps on purpose, each acknowledged on
 * the one construct it concerns, for the one finding id it raises, with the reason. Everything
 * else cdk-nag reports is fixed in the stack instead (KMS rotation, TLS-only buckets, queues
 * and topic, access logs, state machine logging and tracing, latest runtime, no managed policies).
 */
import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { CfnEventBusPolicy } from 'aws-cdk-lib/aws-events';
import type { IConstruct } from 'constructs';
import type { Rekey } from './rekey';
import type { RekeyStack } from './rekey-stack';
import { CONSUMER_REGISTRY_PREFIX } from '../shared/vocabulary/consumer-registry';
import { CATALOG_READERS, CATALOG_WRITERS } from './parts/function-permissions';
import { REVOCATION_LEDGER_PREFIX, SWEEP_REPORT_PREFIX } from './parts/storage';
import { KEY_USE_READERS } from './parts/key-use';
import { CENSUS_READERS } from './parts/record-census';
import { CENSUS_PREFIX } from '../shared/vocabulary/record-census';
import { KEY_USE_PREFIX } from '../shared/vocabulary/key-use-names';

/** One acknowledgement as recorded: where, which finding, why. */
export interface NagAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function logicalId(construct: IConstruct): string {
  return String(Stack.of(construct).resolve((construct.node.defaultChild as CfnElement).logicalId));
}

/**
 * cdk-nag's EventBusOpenAccess rule reads `CfnEventBusPolicy.principal`, a deprecated property
 * the stack never sets (its bus policies are `statement`s), and aws-cdk-lib prints a deprecation
 * warning for that read which says nothing about this app. jsii records each deprecated name
 * as reported before it decides whether to print, once per process: reading the property once
 * with printing off marks exactly that one name as reported. Every other deprecation still prints.
 */
function acknowledgeNagDeprecatedRead(): void {
  const read = Object.getOwnPropertyDescriptor(CfnEventBusPolicy.prototype, 'principal')?.get;
  if (read === undefined) return;
  const mode = process.env['JSII_DEPRECATED'];
  process.env['JSII_DEPRECATED'] = 'quiet';
  try {
    read.call(Object.create(CfnEventBusPolicy.prototype));
  } finally {
    if (mode === undefined) delete process.env['JSII_DEPRECATED'];
    else process.env['JSII_DEPRECATED'] = mode;
  }
}

/**
 * Acknowledges the findings that cannot be fixed and returns them (for the report and tests).
 *
 * @example
 * Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
 * acknowledgeNagFindings(stack);
 */
export function acknowledgeNagFindings(target: RekeyStack | Rekey): NagAcknowledgement[] {
  acknowledgeNagDeprecatedRead();
  const rekey: Rekey = 'rekey' in target ? target.rekey : target;
  const done: NagAcknowledgement[] = [];
  const ack = (construct: IConstruct, id: string, reason: string): void => {
    Validations.of(construct).acknowledge({ id, reason });
    done.push({ path: construct.node.path, id, reason });
  };
  const iam5 = (construct: IConstruct, resource: string, reason: string): void => ack(construct, `AwsSolutions-IAM5[Resource::${resource}]`, reason);
  const fns = rekey.functions;
  const config = rekey.config;
  const catalog = logicalId(rekey.catalogBucket);

  for (const [name, fn] of Object.entries(fns)) {
    iam5(
      fn.role,
      `<${catalog}.Arn>/${config.catalogPrefix}*`,
      `${name} reads${(CATALOG_WRITERS as readonly string[]).includes(name) ? ' and writes' : ''} catalog documents (one object per keyring, named by keyring): objects under the catalog prefix only.`,
    );
    if (fn.failureQueue !== undefined) {
      ack(fn.failureQueue, 'AwsSolutions-SQS3', `This queue is the on-failure destination of the ${name} function's asynchronous invocations: it is itself the dead-letter queue.`);
    }
  }
  for (const t of config.recordTargets) {
    const resource = `arn:<AWS::Partition>:s3:::${t.bucket}/${t.prefix}*`;
    iam5(fns.reencrypt.role, resource, `The sweep worker reads and rewrites any record under the target prefix s3://${t.bucket}/${t.prefix}; record keys are application data.`);
    iam5(fns.revoke.role, resource, `A revocation of a small keyring re-encrypts its records inline: any record under s3://${t.bucket}/${t.prefix}.`);
    iam5(fns['grace-period'].role, resource, `The reconciler counts references per version before disabling one: it reads record headers under s3://${t.bucket}/${t.prefix}.`);
  }
  const escrowObjects = `<${logicalId(rekey.escrowBucket)}.Arn>/*`;
  iam5(fns.escrow.role, escrowObjects, 'One escrow record per keyring version, named at run time; the escrow bucket holds nothing else and Object Lock (compliance) prevents deletes and overwrites.');
  for (const name of ['grace-period', 'revoke'] as const) {
    iam5(
      fns[name].role,
      escrowObjects,
      `${name} reconciles the lifecycle, which destroys a version only once its escrow record (one per keyring version, named at run time) exists: it reads records (GET, and the newest version behind a delete marker) and cannot unwrap them (the escrow key admits it through S3 only).`,
    );
  }
  const marks = `<${logicalId(rekey.escrowBucket)}.Arn>/${REVOCATION_LEDGER_PREFIX}*`;
  for (const [name, fn] of Object.entries(fns)) {
    if (!(CATALOG_WRITERS as readonly string[]).includes(name) && !(CATALOG_READERS as readonly string[]).includes(name)) continue;
    iam5(
      fn.role,
      marks,
      name === 'revoke'
        ? 'The revocation ledger: one Object Lock mark per revoked keyring version, named at run time; revoke writes them (the bucket policy denies every other writer) and reads them like every catalog reader.'
        : `${name} reads catalogs through the revocation ledger (one Object Lock mark per revoked keyring version, named at run time): it lists and reads marks only, never writes them (the bucket policy denies it).`,
    );
  }
  // Observed key use (parts/key-use.ts): one small document per keyring, named by keyring at run time.
  for (const name of ['key-use', ...KEY_USE_READERS] as const) {
    iam5(
      fns[name].role,
      `<${catalog}.Arn>/${KEY_USE_PREFIX}*`,
      name === 'key-use'
        ? 'The key-use function records the last use per version in one document per keyring (named by keyring), read and conditionally rewritten: objects under the key-use prefix only.'
        : `${name} reads the key-use log (one document per keyring, named by keyring) before a version stops decrypting, and starts it (a conditional create) when a keyring has none.`,
    );
  }
  // The record census (parts/record-census.ts): a document per S3 target, a mark per reported write.
  if (config.recordTargets.length > 0) {
    for (const name of ['key-use', 'reencrypt', ...CENSUS_READERS] as const) {
      iam5(
        fns[name].role,
        name === 'key-use' ? `<${catalog}.Arn>/${CENSUS_PREFIX}*/writes/*` : `<${catalog}.Arn>/${CENSUS_PREFIX}*.json`,
        name === 'key-use'
          ? 'The key-use function writes one empty census mark per reported record write (named by target, time, version and event id at run time): objects under the census prefix only, never read.'
          : name === 'reencrypt'
            ? 'The sweep\'s census step reads and conditionally replaces one census document per record target (named by target at run time): objects under the census prefix only.'
            : `${name} counts S3 record targets from their census: it reads the census documents (one per target, named at run time) and lists the write marks under the census prefix only.`,
      );
    }
    iam5(fns.reencrypt.role, `<${catalog}.Arn>/${SWEEP_REPORT_PREFIX}*`, 'The census step reads the map run\'s result files (named by Step Functions at run time) under the sweep report prefix only, read only.');
    for (const t of config.recordTargets) {
      iam5(fns['key-use'].role, `arn:<AWS::Partition>:s3:::${t.bucket}/${t.prefix}*`, `The key-use function reads the header of each record S3 reports written under s3://${t.bucket}/${t.prefix} (GetObject only) to mark its version in the census.`);
    }
  }
  // The consumer registry (parts/consumer-registry.ts): one document per keyring, named by keyring.
  iam5(
    fns['key-access'].role,
    `<${catalog}.Arn>/${CONSUMER_REGISTRY_PREFIX}*`,
    'key-access reads the consumer registry (one document per keyring, named by keyring at run time) to reconcile its grants: objects under the registry prefix only, read only.',
  );
  const eni = 'ENI management for a VPC function (ec2:Describe/Create/DeleteNetworkInterface): EC2 offers no resource-level permission for DescribeNetworkInterfaces.';
  const metricData = 'The circuit breaker reads decrypt metrics with cloudwatch:GetMetricData, which has no resource type or condition key in the Service Authorization Reference; it reads metrics only.';
  iam5(fns['grace-period'].role, '*', config.cache !== undefined ? `${metricData} ${eni}` : metricData);
  if (config.cache !== undefined) {
    for (const name of ['cache-invalidate', 'revoke'] as const) iam5(fns[name].role, '*', eni);
  }

  const sm = rekey.sweep.stateMachine;
  const smId = logicalId(sm);
  const smRole = sm.role;
  iam5(smRole, `<${catalog}.Arn>/${SWEEP_REPORT_PREFIX}*`, 'The Distributed Map writes its result files (one per map run, named by Step Functions) under the sweep report prefix only.');
  iam5(smRole, `<${logicalId(fns.reencrypt.fn)}.Arn>:*`, 'Step Functions invokes the reencrypt function; the qualifier wildcard lets a retried task reach the same function version.');
  iam5(smRole, '*', 'CloudWatch Logs vended log delivery and X-Ray trace APIs used by the state machine have no resource-level permissions.');
  const execution = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${smId}"}]}]}`;
  const mapPolicy = sm.node.tryFindChild('DistributedMapPolicy') ?? sm;
  iam5(mapPolicy, `${execution}:*`, 'Distributed Map child executions of this state machine only, named by Step Functions at run time (Describe/Stop).');
  for (const label of ['Sweep', 'SweepVersion', 'SweepTable', 'SweepTableVersion']) {
    iam5(mapPolicy, `${execution}/${label}:*`, `Redrive of map runs of this state machine (label ${label}) only, named by Step Functions at run time.`);
  }

  for (const [id, reason] of [
    ['SchedulerDlq', 'Dead-letter queue of every EventBridge Scheduler schedule of the stack: it is itself the DLQ.'],
    ['CompromiseRuleDlq', 'Dead-letter queue of the EventBridge rule targets (Key Version Compromised, catalog written): it is itself the DLQ.'],
    ['KeyUseRuleDlq', 'Dead-letter queue of the key-use rule target (KMS Decrypts from CloudTrail): it is itself the DLQ.'],
    ['RecordWrittenRuleDlq', 'Dead-letter queue of the record-written rule target (S3 Object Created of record targets): it is itself the DLQ.'],
  ] as const) {
    const queue = rekey.node.tryFindChild(id);
    if (queue !== undefined) ack(queue, 'AwsSolutions-SQS3', reason);
  }
  return done;
}
