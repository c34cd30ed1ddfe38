/**
 * World fields that come from several resources: a role's identity policies (inline Policies,
 * AWS::IAM::Policy and AWS::IAM::ManagedPolicy attached to it), resource policies (bucket,
 * queue, topic, bus), topic subscriptions, a function's permissions and async invoke config.
 * Recomputed after every resource change, so an update or a removal shows at once, as it does
 * in AWS once CloudFormation has made the call.
 */
import type { PolicyDocument, TwinFunction, TwinWorld } from '../world';
import type { ResourceState } from './types';
import { optList, optNumber, optObject, optString, policyDocument } from './handlers/util';

/**
 * AWS managed policies the twin knows the content of (AWS Managed Policy Reference Guide,
 * "AWSLambdaBasicExecutionRole"). Any other AWS managed policy fails the stand-up loudly.
 */
const AWS_MANAGED: Readonly<Record<string, PolicyDocument>> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
  },
};

function ofType(states: readonly ResourceState[], type: string): ResourceState[] {
  return states.filter((s) => s.type === type);
}

function functionName(ref: string): string {
  // Name, ARN (`...:function:NAME[:qualifier]`) or partial ARN (`ACCOUNT:function:NAME`).
  const parts = ref.split(':');
  const i = parts.indexOf('function');
  return i >= 0 ? (parts[i + 1] ?? ref) : ref;
}

function rolePolicies(role: ResourceState, states: readonly ResourceState[]): PolicyDocument[] {
  const docs: PolicyDocument[] = [];
  for (const inline of optList(role.properties, 'Policies') as Record<string, unknown>[]) docs.push(policyDocument(inline['PolicyDocument'], `${role.logicalId} Policies`));
  for (const p of ofType(states, 'AWS::IAM::Policy')) {
    if (optList(p.properties, 'Roles').includes(role.physicalId)) docs.push(policyDocument(p.properties['PolicyDocument'], p.logicalId));
  }
  const managedArns = optList(role.properties, 'ManagedPolicyArns').map(String);
  for (const m of ofType(states, 'AWS::IAM::ManagedPolicy')) {
    if (optList(m.properties, 'Roles').includes(role.physicalId) || managedArns.includes(m.physicalId)) docs.push(policyDocument(m.properties['PolicyDocument'], m.logicalId));
  }
  const own = new Set(ofType(states, 'AWS::IAM::ManagedPolicy').map((m) => m.physicalId));
  for (const arn of managedArns.filter((a) => !own.has(a))) {
    const known = AWS_MANAGED[arn.replace(/^arn:[^:]+:iam::aws:policy\//, '')];
    if (known === undefined || !arn.includes(':iam::aws:policy/')) throw new Error(`${role.logicalId}: managed policy ${arn} is not known to the twin`);
    docs.push(known);
  }
  return docs;
}

function asyncConfigOf(cfg: ResourceState): NonNullable<TwinFunction['asyncConfig']> {
  const onFailure = optString(optObject(optObject(cfg.properties, 'DestinationConfig') ?? {}, 'OnFailure') ?? {}, 'Destination');
  const age = optNumber(cfg.properties, 'MaximumEventAgeInSeconds');
  return {
    // Lambda's default for asynchronous invocation is 2 retries (Lambda Developer Guide, "Configuring error handling for asynchronous invocation").
    maximumRetryAttempts: optNumber(cfg.properties, 'MaximumRetryAttempts') ?? 2,
    ...(age === undefined ? {} : { maximumEventAgeInSeconds: age }),
    ...(onFailure === undefined ? {} : { onFailureArn: onFailure }),
  };
}

/** Recomputes the derived fields of every world entry the stack owns (`states`: live and retained resources). */
export function reconcileDerived(world: TwinWorld, states: readonly ResourceState[]): void {
  for (const role of ofType(states, 'AWS::IAM::Role')) {
    const twin = world.roles.get(String(role.attributes['Arn']));
    if (twin !== undefined) twin.policies = rolePolicies(role, states);
  }

  const bucketPolicies = new Map(ofType(states, 'AWS::S3::BucketPolicy').map((s) => [String(s.properties['Bucket']), policyDocument(s.properties['PolicyDocument'], s.logicalId)]));
  const buckets = new Set([...ofType(states, 'AWS::S3::Bucket').map((s) => s.physicalId), ...bucketPolicies.keys()]);
  for (const name of buckets) {
    const b = world.buckets.get(name);
    if (b === undefined) continue;
    const doc = bucketPolicies.get(name);
    if (doc === undefined) delete b.policy;
    else b.policy = doc;
  }

  const queuePolicies = new Map<string, PolicyDocument>();
  for (const s of ofType(states, 'AWS::SQS::QueuePolicy')) for (const url of optList(s.properties, 'Queues')) queuePolicies.set(String(url), policyDocument(s.properties['PolicyDocument'], s.logicalId));
  for (const q of world.queues.values()) {
    const doc = queuePolicies.get(q.url);
    if (doc !== undefined) q.policy = doc;
    else if (states.some((s) => s.physicalId === q.url)) delete q.policy;
  }

  const topicPolicies = new Map<string, PolicyDocument>();
  for (const s of ofType(states, 'AWS::SNS::TopicPolicy')) for (const arn of optList(s.properties, 'Topics')) topicPolicies.set(String(arn), policyDocument(s.properties['PolicyDocument'], s.logicalId));
  for (const t of world.topics.values()) {
    if (!states.some((s) => s.physicalId === t.arn)) continue;
    const doc = topicPolicies.get(t.arn);
    if (doc === undefined) delete t.policy;
    else t.policy = doc;
    const topicState = states.find((s) => s.physicalId === t.arn);
    const inline = (optList(topicState?.properties ?? {}, 'Subscription') as Record<string, unknown>[]).map((x) => ({ protocol: String(x['Protocol']), endpoint: String(x['Endpoint']) }));
    const separate = ofType(states, 'AWS::SNS::Subscription')
      .filter((s) => s.properties['TopicArn'] === t.arn)
      .map((s) => ({ protocol: String(s.properties['Protocol']), endpoint: String(s.properties['Endpoint']) }));
    t.subscriptions.splice(0, t.subscriptions.length, ...inline, ...separate);
  }

  const busStatements = new Map<string, Record<string, unknown>[]>();
  for (const s of ofType(states, 'AWS::Events::EventBusPolicy')) {
    const bus = (optString(s.properties, 'EventBusName') ?? 'default').split('/').pop() ?? 'default';
    const list = busStatements.get(bus) ?? [];
    const statement = optObject(s.properties, 'Statement');
    if (statement !== undefined) list.push({ Sid: s.properties['StatementId'], ...statement });
    else list.push(...policyDocument(s.properties['Policy'], s.logicalId).Statement);
    busStatements.set(bus, list);
  }
  for (const bus of world.buses.values()) {
    const statements = busStatements.get(bus.name);
    if (statements !== undefined) bus.policy = { Version: '2012-10-17', Statement: statements };
    else if (bus.logicalId !== undefined || bus.name === 'default') delete bus.policy;
  }

  for (const fnState of ofType(states, 'AWS::Lambda::Function')) {
    const fn = world.functions.get(fnState.physicalId);
    if (fn === undefined) continue;
    const mine = (s: ResourceState): boolean => functionName(String(s.properties['FunctionName'])) === fn.name;
    fn.permissions = ofType(states, 'AWS::Lambda::Permission')
      .filter(mine)
      .map((s) => {
        const sourceArn = optString(s.properties, 'SourceArn');
        const sourceAccount = optString(s.properties, 'SourceAccount');
        return { principal: String(s.properties['Principal']), action: String(s.properties['Action']), ...(sourceArn === undefined ? {} : { sourceArn }), ...(sourceAccount === undefined ? {} : { sourceAccount }) };
      });
    const cfg = ofType(states, 'AWS::Lambda::EventInvokeConfig').find(mine);
    if (cfg === undefined) delete fn.asyncConfig;
    else fn.asyncConfig = asyncConfigOf(cfg);
  }
}
