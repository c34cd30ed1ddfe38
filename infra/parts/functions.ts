/**
 * The functions of the rekey stack and the sweep they run: one RekeyFunction per rekey
 * function (entry, sizing, environment, network, reserved concurrency) and the Distributed
 * Map state machine whose worker is the reencrypt function. What each may call is granted in
 * function-permissions.ts. Built in the stack's scope (see storage.ts for why).
 */
import { Annotations, Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ENV, KEY_GRANTEES_ENV } from '../../shared/config/env-names';
import { METRIC_NAMESPACE } from '../../shared/vocabulary/metric-names';
import type { KeyringKey } from '../constructs/keyring-key';
import { RekeyFunction, type FunctionNetwork } from '../constructs/rekey-function';
import { SweepStateMachine } from '../constructs/sweep-state-machine';
import { FUNCTION_ENTRIES, type FunctionName } from '../defaults';
import type { ResolvedRekeyConfig } from '../props';
import { SWEEP_REPORT_PREFIX, type RekeyStorage } from './storage';

/** Functions that reach the cache, hence run in its VPC when one is configured. */
export const CACHE_FUNCTIONS: ReadonlySet<FunctionName> = new Set<FunctionName>(['grace-period', 'cache-invalidate', 'revoke']);

/** What the functions are built from. */
export interface RekeyFunctionsProps {
  readonly config: ResolvedRekeyConfig;
  readonly storage: RekeyStorage;
  readonly keyrings: ReadonlyMap<string, KeyringKey>;
  readonly eventBus: events.IEventBus;
}

/**
 * The functions, by rekey name, and the sweep.
 *
 * @example
 * const { functions, sweep } = new RekeyFunctions(stack, { config, storage, keyrings, eventBus });
 */
export class RekeyFunctions {
  /** The functions, by rekey name. */
  public readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
  /** The re-encryption sweep. */
  public readonly sweep: SweepStateMachine;
  /** The environment every function shares (names from shared/config/env-names.ts). */
  public readonly environment: Readonly<Record<string, string>>;

  public constructor(scope: Construct, props: RekeyFunctionsProps) {
    const { config, keyrings } = props;
    const stack = Stack.of(scope);
    const network = cacheNetwork(scope, config);
    const environment = functionEnvironment(stack, props);
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const reserved = (n: number): { reserved?: number } => (config.reserveConcurrency ? { reserved: n } : {});
    const make = (name: FunctionName, extra: { reserved?: number; asyncInvoked?: boolean; env?: Record<string, string> } = {}): RekeyFunction =>
      new RekeyFunction(scope, `Fn-${name}`, {
        name,
        entry: FUNCTION_ENTRIES[name],
        environment: { ...environment, POWERTOOLS_SERVICE_NAME: `rekey-${name}`, ...extra.env },
        logRetention,
        ...(extra.reserved === undefined ? {} : { reservedConcurrency: extra.reserved }),
        ...(network !== undefined && CACHE_FUNCTIONS.has(name) ? { network } : {}),
        ...(extra.asyncInvoked === undefined ? {} : { asyncInvoked: extra.asyncInvoked }),
      });
    // Rendered at synthesis, so grantees added later by grantKeyringUse are included.
    const grantees = Object.fromEntries([...keyrings].map(([name, key]) => [name, Lazy.list({ produce: () => [...key.granteeArns] })]));
    const fns: Record<FunctionName, RekeyFunction> = {
      rotate: make('rotate'),
      'grace-period': make('grace-period'),
      reencrypt: make('reencrypt', { asyncInvoked: false, ...reserved(config.sweep.maxConcurrency) }),
      'cache-invalidate': make('cache-invalidate'),
      escrow: make('escrow'),
      // Reserved so that a revocation always finds capacity, whatever else runs in the account.
      revoke: make('revoke', reserved(2)),
      // One at a time: the last run always reads the last catalog (see shared/usecases/key-access.ts).
      'key-access': make('key-access', { ...reserved(1), env: { [KEY_GRANTEES_ENV]: stack.toJsonString(grantees) } }),
      // CloudFormation's custom resource provider of the keyrings (constructs/keyring-provisioning.ts).
      provision: make('provision'),
      // CloudTrail's KMS Decrypts → last use per version (parts/key-use.ts routes them and grants its access).
      'key-use': make('key-use'),
    };
    this.functions = fns;
    this.environment = environment;

    this.sweep = new SweepStateMachine(scope, 'Sweep', {
      worker: fns.reencrypt.fn,
      targetBucketArns: [...new Set(config.recordTargets.map((t) => t.bucket))].map((b) => s3.Bucket.fromBucketName(scope, `Target-${b}`, b).bucketArn),
      maxConcurrency: config.sweep.maxConcurrency,
      itemsPerBatch: config.sweep.itemsPerBatch,
      timeout: Duration.seconds(config.sweep.timeoutSeconds),
      reportBucket: props.storage.catalogBucket,
      reportPrefix: SWEEP_REPORT_PREFIX,
      logRetention,
    });
    // Only revoke starts sweeps (a revoked version's re-encryption); the schedules start the routine ones.
    fns.revoke.fn.addEnvironment(ENV.sweepStateMachineArn, this.sweep.stateMachine.stateMachineArn);
  }
}

/** The cache's VPC, subnets and security groups, imported; undefined without a cache. */
function cacheNetwork(scope: Construct, config: ResolvedRekeyConfig): FunctionNetwork | undefined {
  const cache = config.cache;
  if (cache === undefined) return undefined;
  const vpc = ec2.Vpc.fromVpcAttributes(scope, 'CacheVpc', { vpcId: cache.vpcId, availabilityZones: [...cache.availabilityZones] });
  const subnets = cache.subnetIds.map((subnetId, i) => {
    const subnet = ec2.Subnet.fromSubnetAttributes(scope, `CacheSubnet${i}`, { subnetId, availabilityZone: cache.availabilityZones[i] ?? '' });
    // Functions are only placed in the subnets; nothing here reads or adds a route.
    Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'rekey places functions in the cache subnets and never reads their route table');
    return subnet;
  });
  return {
    vpc,
    subnets,
    securityGroups: cache.securityGroupIds.map((sg, i) => ec2.SecurityGroup.fromSecurityGroupId(scope, `CacheSg${i}`, sg, { mutable: false })),
  };
}

/** The environment every function reads its configuration from (shared/config/load-config.ts). */
function functionEnvironment(stack: Stack, props: RekeyFunctionsProps): Record<string, string> {
  const { config, storage, keyrings, eventBus } = props;
  const keyringKeys = Object.fromEntries([...keyrings].map(([name, k]) => [name, k.key.keyArn]));
  return {
    [ENV.catalogBucket]: storage.catalogBucket.bucketName,
    [ENV.catalogPrefix]: config.catalogPrefix,
    [ENV.keyringKeys]: stack.toJsonString(keyringKeys),
    [ENV.escrowBucket]: storage.escrowBucket.bucketName,
    [ENV.escrowKeyArn]: storage.escrowKey.keyArn,
    [ENV.recordTargets]: JSON.stringify(config.recordTargets.map((t) => ({ keyring: t.keyring, bucket: t.bucket, prefix: t.prefix, ...(t.layout === undefined ? {} : { layout: t.layout }) }))),
    [ENV.tableTargets]: JSON.stringify(config.tableTargets.map((t) => ({ keyring: t.keyring, table: t.table, segments: t.segments }))),
    [ENV.eventBusName]: eventBus.eventBusName,
    [ENV.breakerThreshold]: String(config.breakerThreshold),
    // The escrow store locks each record this long; it must match the bucket's default retention.
    [ENV.escrowRetentionDays]: String(config.escrow.retentionDays),
    ...(config.cache === undefined ? {} : { [ENV.cacheName]: config.cache.name }),
    ...(config.cache?.iamUser === undefined ? {} : { [ENV.cacheIamUser]: config.cache.iamUser }),
    POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
  };
}
