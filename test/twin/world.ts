/**
 * The deployed-stack twin's model of one AWS account: every resource the synthesized template
 * created, with the properties AWS enforces and moto ignores (policies, versioning, Object Lock,
 * function environments, schedules, rules, alarms). The stand-up fills it from the template;
 * the authorizing proxy reads it before every request reaches moto; the drivers (scheduler,
 * rules, Lambda runtime, Distributed Map, alarms) run from it.
 *
 * Shared contract of test/twin/* (see test/twin/README.md): keep it small and declarative.
 */

import { createHash } from 'node:crypto';

/** An IAM policy document as it appears in a template (already resolved: no intrinsics left). */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[];
}

/** The account and region every twin stands up in. */
export const TWIN_ACCOUNT = '123456789012';
export const TWIN_REGION = 'us-east-1';
export const TWIN_PARTITION = 'aws';

/** A principal the twin can sign requests as: a role (template or external) with its own access key. */
export interface TwinRole {
  /** Logical id in the template, or a label for roles the scenario adds (application, operator). */
  readonly logicalId: string;
  readonly name: string;
  /** `arn:aws:iam::<account>:role/<name>` */
  readonly arn: string;
  /** Trust policy (who may assume it: lambda.amazonaws.com, scheduler.amazonaws.com, ...). */
  readonly trust: PolicyDocument;
  /** Identity policies attached to it (inline + AWS::IAM::Policy resources), mutable on redeploy. */
  policies: PolicyDocument[];
  /** Access key id the twin hands to processes acting as this role; the proxy maps it back. */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface TwinBucket {
  readonly logicalId?: string;
  readonly name: string;
  readonly arn: string;
  versioning: boolean;
  /** Object Lock default retention (enforced by the twin on PutObject: a retain-until is set). */
  objectLock?: { readonly mode: 'COMPLIANCE' | 'GOVERNANCE'; readonly days: number };
  policy?: PolicyDocument;
  /** SSE-KMS default encryption key ARN: S3 calls KMS on the caller's behalf (kms:ViaService). */
  kmsKeyArn?: string;
  /** S3 → EventBridge notifications enabled (Object Created events to the default bus). */
  eventBridge: boolean;
}

export interface TwinKey {
  readonly logicalId: string;
  readonly keyId: string;
  readonly arn: string;
  policy: PolicyDocument;
}

export interface TwinTopic {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  policy?: PolicyDocument;
  kmsKeyArn?: string;
  /** Subscriptions from the template (protocol, endpoint). */
  readonly subscriptions: { protocol: string; endpoint: string }[];
}

export interface TwinQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  policy?: PolicyDocument;
}

export interface TwinBus {
  readonly logicalId?: string;
  readonly name: string;
  readonly arn: string;
  policy?: PolicyDocument;
}

/** One EventBridge rule target, as the template declares it. */
export interface TwinRuleTarget {
  readonly id: string;
  readonly arn: string;
  readonly input?: string;
  readonly roleArn?: string;
  readonly deadLetterArn?: string;
  readonly retry?: { readonly maximumRetryAttempts?: number; readonly maximumEventAgeInSeconds?: number };
}

export interface TwinRule {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly busName: string;
  pattern: Record<string, unknown>;
  /** AWS::Events::Rule State; ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS also receives read-only CloudTrail management events (eb-service-event-cloudtrail-management.html). */
  state: 'ENABLED' | 'DISABLED' | 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
  targets: TwinRuleTarget[];
}

/** A Lambda function: its bundled asset, handler, environment and role, exactly as the template says. */
export interface TwinFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  roleArn: string;
  /** `index.handler` */
  handler: string;
  /** Absolute path of the asset folder in cdk.out. */
  assetDir: string;
  runtime: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMiB: number;
  reservedConcurrency?: number;
  /** AWS::Lambda::EventInvokeConfig: async retries and the failure destination. */
  asyncConfig?: { maximumRetryAttempts: number; maximumEventAgeInSeconds?: number; onFailureArn?: string };
  /** Resource policy statements from AWS::Lambda::Permission (who may invoke it). */
  permissions: { principal: string; action: string; sourceArn?: string; sourceAccount?: string }[];
}

export interface TwinStateMachine {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  roleArn: string;
  /** The ASL definition, parsed and resolved. */
  definition: Record<string, unknown>;
}

export interface TwinSchedule {
  readonly logicalId: string;
  readonly name: string;
  /** `rate(15 minutes)`, `cron(...)`, `at(...)` */
  expression: string;
  state: 'ENABLED' | 'DISABLED';
  targetArn: string;
  roleArn: string;
  /** Target input, verbatim (a JSON string). */
  input?: string;
  retry: { maximumRetryAttempts: number; maximumEventAgeInSeconds: number };
  deadLetterArn?: string;
}

/** A CloudWatch alarm as declared (raw resolved CloudFormation properties). */
export interface TwinAlarm {
  readonly logicalId: string;
  readonly name: string;
  readonly properties: Record<string, unknown>;
}

/** A custom resource: its provider (a function ARN) and the properties it was given. */
export interface TwinCustomResource {
  readonly logicalId: string;
  readonly type: string;
  serviceToken: string;
  properties: Record<string, unknown>;
  physicalId?: string;
  data?: Record<string, unknown>;
}

/** One AWS request as the twin's proxy saw and judged it. */
export interface RequestLogEntry {
  readonly at: number;
  readonly service: string;
  /** The first IAM action the request was authorized for (a CopyObject's is the source's s3:GetObject). */
  readonly action: string;
  /** The API operation as the request map named it (HeadObject, CopyObject, ...); 'Unknown' when unmapped. */
  readonly operation: string;
  /** Principal ARN (role), service principal, or 'anonymous'. */
  readonly caller: string;
  readonly resources: readonly string[];
  readonly allowed: boolean;
  /** Why a request was denied (explicit deny, no allow, grant constraint, ...). */
  readonly reason?: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly status: number;
}

/** The registry of an account the twin stood up. */
export class TwinWorld {
  public readonly account = TWIN_ACCOUNT;
  public readonly region = TWIN_REGION;
  public readonly partition = TWIN_PARTITION;
  public readonly roles = new Map<string, TwinRole>();
  public readonly buckets = new Map<string, TwinBucket>();
  public readonly keys = new Map<string, TwinKey>();
  public readonly topics = new Map<string, TwinTopic>();
  public readonly queues = new Map<string, TwinQueue>();
  public readonly buses = new Map<string, TwinBus>();
  public readonly rules = new Map<string, TwinRule>();
  public readonly functions = new Map<string, TwinFunction>();
  public readonly stateMachines = new Map<string, TwinStateMachine>();
  public readonly schedules = new Map<string, TwinSchedule>();
  public readonly alarms = new Map<string, TwinAlarm>();
  public readonly customResources = new Map<string, TwinCustomResource>();
  /** Physical id (name, ARN, URL) of every template resource, by logical id. */
  public readonly physicalIds = new Map<string, string>();
  /** Stack outputs, by output key (served by the proxy as CloudFormation DescribeStacks). */
  public outputs: Record<string, string> = {};
  public stackName = 'Rekey';
  public readonly requestLog: RequestLogEntry[] = [];

  /** The role holding `accessKeyId`, if any. */
  public roleByAccessKey(accessKeyId: string): TwinRole | undefined {
    for (const role of this.roles.values()) if (role.accessKeyId === accessKeyId) return role;
    return undefined;
  }

  /** The key with this ARN or key id. */
  public key(idOrArn: string): TwinKey | undefined {
    const direct = this.keys.get(idOrArn);
    if (direct !== undefined) return direct;
    for (const k of this.keys.values()) if (k.keyId === idOrArn || k.arn === idOrArn || k.arn.endsWith(`/${idOrArn}`)) return k;
    return undefined;
  }

  /** The function with this name or ARN (qualifiers dropped). */
  public fn(nameOrArn: string): TwinFunction | undefined {
    const name = nameOrArn.startsWith('arn:') ? (nameOrArn.split(':')[6] ?? '') : nameOrArn;
    return this.functions.get(name);
  }
}

/** The simulated clock every twin part reads (functions see it through their Date). */
export class SimClock {
  public constructor(private current: number = Date.parse('2027-01-01T00:00:00Z')) {}

  /** Milliseconds since the epoch, simulated. */
  public now(): number {
    return this.current;
  }

  /** Moves the clock to `ms` (never backwards). */
  public set(ms: number): void {
    if (ms < this.current) throw new RangeError('the simulated clock never goes backwards');
    this.current = ms;
  }
}

/**
 * Builds a role that is not part of the template (an application's or an operator's), in the
 * stack's account or in `account`.
 *
 * @example
 * const orders = externalRole(world, 'orders', [], '444455556666'); // arn:aws:iam::444455556666:role/orders
 */
export function externalRole(world: TwinWorld, name: string, policies: readonly PolicyDocument[], account: string = world.account): TwinRole {
  if (!/^\d{12}$/.test(account)) throw new RangeError(`twin: account of role ${name} must be 12 digits, got ${account}`);
  // Same input as before accounts existed for the stack's own roles: their access keys stay the same.
  const digest = createHash('sha256').update(`${account}:${name}`).digest('hex').toUpperCase();
  return {
    logicalId: account === world.account ? `external:${name}` : `external:${account}:${name}`,
    name,
    arn: `arn:${world.partition}:iam::${account}:role/${name}`,
    trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:${world.partition}:iam::${account}:root` }, Action: 'sts:AssumeRole' }] },
    policies: [...policies],
    accessKeyId: `AKIAX${digest.slice(0, 15)}`,
    secretAccessKey: digest.slice(16, 56),
  };
}
