/**
 * Which resource-based policy AWS consults for a request, chosen by the resource ARN from the
 * twin's world: bucket policy (bucket and object ARNs), key policy, topic policy, queue policy,
 * event bus policy, a Lambda function's permissions, a role's trust policy (sts:AssumeRole).
 */
import type { PolicyDocument, TwinFunction, TwinWorld } from '../world';

/** The resource-based policy of one resource, if it has one, and the account that owns the resource. */
export interface ResourcePolicyChoice {
  /** `bucket policy`, `key policy`, `topic policy`, ... (for logs; AWS calls them all resource-based). */
  readonly kind: 'bucket policy' | 'key policy' | 'topic policy' | 'queue policy' | 'event bus policy' | 'function policy' | 'trust policy' | 'none';
  readonly policy?: PolicyDocument;
  /** The account that owns the resource (S3 ARNs carry none: the world's account). */
  readonly accountId: string;
  /** True for a KMS key ARN (the key policy is authoritative, and grants apply). */
  readonly isKmsKey: boolean;
  /** The key's ARN, for grant look-ups. */
  readonly keyArn?: string;
}

/** `arn:partition:service:region:account:resource` split into its fields (resource keeps its colons). */
export interface ParsedArn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

/** Splits an ARN; undefined for `*` and other non-ARNs. */
export function parseArn(arn: string): ParsedArn | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return { partition: parts[1]!, service: parts[2]!, region: parts[3]!, account: parts[4]!, resource: parts.slice(5).join(':') };
}

function find<T extends { readonly arn: string }>(items: Iterable<T>, arn: string): T | undefined {
  for (const item of items) if (item.arn === arn) return item;
  return undefined;
}

/**
 * The resource policy AWS Lambda keeps for a function, one statement per AWS::Lambda::Permission.
 * Shape as Lambda's GetPolicy returns it ("Viewing resource-based IAM policies in Lambda",
 * https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html; the same
 * translation in moto/awslambda/policy.py): a service principal becomes `{"Service": ...}`,
 * SourceArn an `ArnLike` on `AWS:SourceArn`, SourceAccount a `StringEquals` on `AWS:SourceAccount`.
 */
export function functionPolicy(fn: TwinFunction, account: string, partition: string): PolicyDocument | undefined {
  if (fn.permissions.length === 0) return undefined;
  const principal = (p: string): unknown => {
    if (p === '*') return '*';
    if (p.endsWith('.amazonaws.com')) return { Service: p };
    if (/^\d{12}$/.test(p)) return { AWS: `arn:${partition}:iam::${p}:root` };
    return { AWS: p };
  };
  return {
    Version: '2012-10-17',
    Statement: fn.permissions.map((perm, i) => {
      const condition: Record<string, Record<string, string>> = {};
      if (perm.sourceArn !== undefined) condition['ArnLike'] = { 'AWS:SourceArn': perm.sourceArn };
      if (perm.sourceAccount !== undefined) condition['StringEquals'] = { 'AWS:SourceAccount': perm.sourceAccount };
      return {
        Sid: `permission-${i}`,
        Effect: 'Allow',
        Principal: principal(perm.principal),
        Action: perm.action,
        Resource: fn.arn,
        ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
      };
    }),
  };
}

/** The resource-based policy for `action` on `resource` in `world`. */
export function resourcePolicyFor(world: TwinWorld, action: string, resource: string): ResourcePolicyChoice {
  const none = (accountId: string): ResourcePolicyChoice => ({ kind: 'none', accountId, isKmsKey: false });
  const arn = parseArn(resource);
  if (arn === undefined) return none(world.account);
  const account = arn.account === '' ? world.account : arn.account;
  switch (arn.service) {
    case 's3': {
      const bucketName = arn.resource.split('/')[0] ?? '';
      const bucket = world.buckets.get(bucketName) ?? [...world.buckets.values()].find((b) => b.name === bucketName);
      return bucket?.policy ? { kind: 'bucket policy', policy: bucket.policy, accountId: account, isKmsKey: false } : none(account);
    }
    case 'kms': {
      if (!arn.resource.startsWith('key/')) return none(account);
      const key = world.key(resource);
      return { kind: 'key policy', ...(key ? { policy: key.policy } : {}), accountId: account, isKmsKey: true, keyArn: key?.arn ?? resource };
    }
    case 'sns': {
      const topic = find(world.topics.values(), resource);
      return topic?.policy ? { kind: 'topic policy', policy: topic.policy, accountId: account, isKmsKey: false } : none(account);
    }
    case 'sqs': {
      const queue = find(world.queues.values(), resource);
      return queue?.policy ? { kind: 'queue policy', policy: queue.policy, accountId: account, isKmsKey: false } : none(account);
    }
    case 'events': {
      if (!arn.resource.startsWith('event-bus/')) return none(account);
      const bus = find(world.buses.values(), resource) ?? world.buses.get(arn.resource.slice('event-bus/'.length));
      return bus?.policy ? { kind: 'event bus policy', policy: bus.policy, accountId: account, isKmsKey: false } : none(account);
    }
    case 'lambda': {
      const fn = arn.resource.startsWith('function:') ? world.fn(resource) : undefined;
      const policy = fn ? functionPolicy(fn, world.account, world.partition) : undefined;
      return policy ? { kind: 'function policy', policy, accountId: account, isKmsKey: false } : none(account);
    }
    case 'iam': {
      if (action.toLowerCase() !== 'sts:assumerole' || !arn.resource.startsWith('role/')) return none(account);
      const role = world.roles.get(resource) ?? find(world.roles.values(), resource);
      return role ? { kind: 'trust policy', policy: role.trust, accountId: account, isKmsKey: false } : none(account);
    }
    default:
      return none(account);
  }
}
