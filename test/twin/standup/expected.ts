/**
 * An independent check of the stand-up, for tests: evaluates the template's `Ref` /
 * `Fn::GetAtt` / `Fn::Join` / `Fn::Sub` (simple form) from what the WORLD records (physical ids
 * and each resource's own ARN there), never from the stand-up's resolver, so a resolver bug and
 * a world bug cannot cancel out. Anything else it does not evaluate throws.
 */
import type { TwinWorld } from '../world';
import type { CfnTemplate } from './template';

/** The ARN the world records for a resource, found by its logical id. */
export function worldArnOf(world: TwinWorld, template: CfnTemplate, logicalId: string): string {
  const type = template.Resources[logicalId]?.Type;
  const id = world.physicalIds.get(logicalId);
  if (id === undefined) throw new Error(`world has no physical id for ${logicalId}`);
  const pick = <T extends { logicalId?: string; arn: string }>(m: Map<string, T>): string | undefined => [...m.values()].find((v) => v.logicalId === logicalId)?.arn;
  const found =
    type === 'AWS::IAM::Role' ? pick(world.roles)
    : type === 'AWS::KMS::Key' ? pick(world.keys)
    : type === 'AWS::S3::Bucket' ? world.buckets.get(id)?.arn
    : type === 'AWS::SQS::Queue' ? pick(world.queues)
    : type === 'AWS::SNS::Topic' ? pick(world.topics)
    : type === 'AWS::Events::EventBus' ? world.buses.get(id)?.arn
    : type === 'AWS::Events::Rule' ? pick(world.rules)
    : type === 'AWS::Lambda::Function' ? world.functions.get(id)?.arn
    : type === 'AWS::StepFunctions::StateMachine' ? pick(world.stateMachines)
    : type === 'AWS::CloudWatch::Alarm' ? `arn:${world.partition}:cloudwatch:${world.region}:${world.account}:alarm:${id}`
    : type === 'AWS::Logs::LogGroup' ? `arn:${world.partition}:logs:${world.region}:${world.account}:log-group:${id}:*`
    : undefined;
  if (found === undefined) throw new Error(`world records no ARN for ${logicalId} (${String(type)})`);
  return found;
}

function attribute(world: TwinWorld, template: CfnTemplate, logicalId: string, attr: string): unknown {
  if (attr === 'Arn' || attr === 'TopicArn') return worldArnOf(world, template, logicalId);
  if (attr === 'QueueName') return [...world.queues.values()].find((q) => q.logicalId === logicalId)?.name;
  if (attr === 'QueueUrl') return [...world.queues.values()].find((q) => q.logicalId === logicalId)?.url;
  const cr = world.customResources.get(logicalId);
  if (cr?.data !== undefined && attr in cr.data) return cr.data[attr];
  throw new Error(`expected(): no world source for ${logicalId}.${attr}`);
}

/** The value the template means, computed from the world. */
export function expected(world: TwinWorld, template: CfnTemplate, value: unknown): unknown {
  const again = (v: unknown): unknown => expected(world, template, v);
  if (Array.isArray(value)) return value.map(again);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const [key] = Object.keys(obj);
  if (Object.keys(obj).length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
    const arg = obj[key];
    switch (key) {
      case 'Ref': {
        const name = String(arg);
        const pseudo: Record<string, string> = { 'AWS::AccountId': world.account, 'AWS::Region': world.region, 'AWS::Partition': world.partition, 'AWS::StackName': world.stackName, 'AWS::URLSuffix': 'amazonaws.com' };
        const v = pseudo[name] ?? world.physicalIds.get(name);
        if (v === undefined) throw new Error(`expected(): no value for Ref ${name}`);
        return v;
      }
      case 'Fn::GetAtt': {
        const [id, attr] = arg as [string, string];
        return attribute(world, template, id, attr);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        return (again(parts) as unknown[]).map(String).join(sep);
      }
      case 'Fn::Sub':
        if (typeof arg !== 'string') throw new Error('expected(): only the string form of Fn::Sub');
        return arg.replace(/\$\{([^}]*)\}/g, (_m, n: string) => String(n.includes('.') ? again({ 'Fn::GetAtt': n.split('.') }) : again({ Ref: n })));
      case 'Fn::Select': {
        const [i, list] = arg as [unknown, unknown];
        return (again(list) as unknown[])[Number(again(i))];
      }
      case 'Fn::Split': {
        const [sep, text] = arg as [string, unknown];
        return String(again(text)).split(sep);
      }
      default:
        throw new Error(`expected(): ${key} is not evaluated by the test oracle`);
    }
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, again(v)]));
}

/** Paths of every leftover intrinsic (`Ref`, `Fn::*`) inside `value`. */
export function leftoverIntrinsics(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leftoverIntrinsics(v, `${at}[${i}]`));
  if (value instanceof Map) return [...value.entries()].flatMap(([k, v]) => leftoverIntrinsics(v, `${at}.${String(k)}`));
  if (value === null || typeof value !== 'object') return typeof value === 'string' && /\$\{[A-Za-z:]+[^}]*\}/.test(value) && !value.includes('${!') ? [`${at} (unresolved \${...} in a string)`] : [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => (k === 'Ref' || k.startsWith('Fn::') ? [`${at}.${k}`] : leftoverIntrinsics(v, `${at}.${k}`)));
}
