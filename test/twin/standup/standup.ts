/**
 * Stands a synthesized template up on a private moto_server and records it in the TwinWorld,
 * and redeploys a changed template over it, the way a CloudFormation stack operation goes
 * ("How CloudFormation works" / "Update behaviors of stack resources", CloudFormation User
 * Guide): resources in dependency order, intrinsics resolved against what exists, unchanged
 * resources left alone, changed ones updated in place, removed ones deleted in reverse order in
 * the cleanup phase unless their DeletionPolicy is Retain (or RetainExceptOnCreate), and stack
 * outputs resolved last.
 */
import { TWIN_ACCOUNT, type TwinWorld } from '../world';
import { destroyClients, motoClients } from './clients';
import { reconcileDerived } from './derived';
import { COMPUTE_HANDLERS } from './handlers/compute';
import { customHandlerFor } from './handlers/custom';
import { IAM_HANDLERS } from './handlers/iam';
import { MESSAGING_HANDLERS } from './handlers/messaging';
import { MONITORING_HANDLERS } from './handlers/monitoring';
import { STORAGE_HANDLERS } from './handlers/storage';
import { canonicalJson } from './handlers/util';
import { IntrinsicError, IntrinsicResolver, type IntrinsicScope } from './intrinsics';
import { topologicalOrder, type CfnTemplate } from './template';
import type { CustomResourceHandler, MotoClients, ResourceHandler, ResourceState, TwinExtras } from './types';

const HANDLERS: Readonly<Record<string, ResourceHandler>> = {
  ...STORAGE_HANDLERS,
  ...IAM_HANDLERS,
  ...MESSAGING_HANDLERS,
  ...COMPUTE_HANDLERS,
  ...MONITORING_HANDLERS,
};

/** Options of {@link standUp} and {@link updateStack}. */
export interface StandUpOptions {
  readonly template: CfnTemplate;
  /** The cloud assembly folder (asset folders are resolved against it). */
  readonly outdir: string;
  /** The private moto_server (`startPrivateMoto().url`). */
  readonly motoUrl: string;
  readonly world: TwinWorld;
  /** Runs custom-resource requests (e.g. `customResourceProvider(invokeAsync)` from ../drivers/custom-resource). */
  readonly onCustomResource: CustomResourceHandler;
  /** Stack name; default `world.stackName`. Only {@link standUp} reads it. */
  readonly stackName?: string;
}

/** What one stack operation did, by logical id. */
export interface StackChangeSummary {
  readonly stackName: string;
  readonly created: string[];
  readonly updated: string[];
  readonly unchanged: string[];
  readonly deleted: string[];
  /** Removed from the template but kept (DeletionPolicy Retain): still in moto and the world. */
  readonly retained: string[];
  /** Their Condition is false. */
  readonly skipped: string[];
  readonly customResourceCalls: { readonly logicalId: string; readonly requestType: string; readonly physicalResourceId?: string }[];
  readonly millis: number;
}

/** The stack the twin deployed into a world. */
export interface DeployedStack {
  readonly stackName: string;
  readonly stackId: string;
  template: CfnTemplate;
  readonly resources: Map<string, ResourceState>;
  /** Resources removed from the template but retained (still in the account). */
  readonly retained: Map<string, ResourceState>;
  readonly extras: TwinExtras;
}

const stacks = new WeakMap<TwinWorld, DeployedStack>();

/** The stack deployed into `world`, if any. */
export function deployedStack(world: TwinWorld): DeployedStack | undefined {
  return stacks.get(world);
}

/** Archives, dashboards, log groups and aliases of the stack in `world` (TwinWorld has no fields for them). */
export function extrasOf(world: TwinWorld): TwinExtras {
  const s = stacks.get(world);
  if (s === undefined) throw new Error('no stack stood up in this world');
  return s.extras;
}

function handlerFor(type: string): ResourceHandler {
  const h = customHandlerFor(type) ?? HANDLERS[type];
  if (h === undefined) throw new Error(`the twin cannot stand up resource type ${type}`);
  return h;
}

function scopeFor(world: TwinWorld, stack: DeployedStack, live: Map<string, ResourceState>): IntrinsicScope {
  const get = (id: string): ResourceState => {
    const s = live.get(id);
    if (s === undefined) throw new IntrinsicError(`${id} does not exist (yet): its Condition is false or the dependency order is wrong`);
    return s;
  };
  return {
    account: world.account,
    region: world.region,
    partition: world.partition,
    stackName: stack.stackName,
    stackId: stack.stackId,
    ref: (id) => get(id).physicalId,
    getAtt: (id, attribute) => {
      const s = get(id);
      if (!(attribute in s.attributes)) throw new IntrinsicError(`Fn::GetAtt ${id}.${attribute}: ${s.type} has no such attribute in the twin (has ${Object.keys(s.attributes).join(', ') || 'none'})`);
      return s.attributes[attribute];
    },
  };
}

function isRetained(policy: string | undefined): boolean {
  return policy === 'Retain' || policy === 'RetainExceptOnCreate';
}

async function deploy(stack: DeployedStack, next: CfnTemplate, opts: StandUpOptions, aws: MotoClients): Promise<StackChangeSummary> {
  const started = Date.now();
  const { world } = opts;
  const previous = new Map(stack.resources);
  const prevTemplate = stack.template;
  const live = new Map<string, ResourceState>();
  const resolver = new IntrinsicResolver(next, scopeFor(world, stack, live));
  const summary: StackChangeSummary = { stackName: stack.stackName, created: [], updated: [], unchanged: [], deleted: [], retained: [], skipped: [], customResourceCalls: [], millis: 0 };
  const cleanups: (() => Promise<void>)[] = [];
  const onCustomResource: CustomResourceHandler = async (call) => {
    const result = await opts.onCustomResource(call);
    summary.customResourceCalls.push({ logicalId: call.logicalId, requestType: call.requestType, physicalResourceId: result.physicalResourceId });
    return result;
  };
  const contextFor = (logicalId: string, type: string, properties: Record<string, unknown>, prev: ResourceState | undefined) => ({
    logicalId,
    type,
    resource: next.Resources[logicalId] ?? prevTemplate.Resources[logicalId] ?? { Type: type },
    properties,
    ...(prev === undefined ? {} : { previous: prev }),
    world,
    aws,
    outdir: opts.outdir,
    stackName: stack.stackName,
    stackId: stack.stackId,
    state: live,
    extras: stack.extras,
    onCustomResource,
    deferCleanup: (task: () => Promise<void>) => void cleanups.push(task),
  });
  const allStates = (): ResourceState[] => [...live.values(), ...stack.retained.values()];

  for (const logicalId of topologicalOrder(next)) {
    const r = next.Resources[logicalId];
    if (r === undefined) continue;
    if (r.Condition !== undefined && !resolver.condition(r.Condition)) {
      summary.skipped.push(logicalId);
      continue;
    }
    const handler = handlerFor(r.Type);
    let properties: Record<string, unknown>;
    try {
      properties = (resolver.resolve(r.Properties ?? {}) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${logicalId} (${r.Type}): ${(err as Error).message}`, { cause: err });
    }
    const prev = previous.get(logicalId);
    if (prev !== undefined && prev.type !== r.Type) throw new Error(`${logicalId}: changing the type from ${prev.type} to ${r.Type} is a replacement the twin does not do`);
    if (prev !== undefined && canonicalJson(prev.properties) === canonicalJson(properties)) {
      live.set(logicalId, prev);
      summary.unchanged.push(logicalId);
      continue;
    }
    let applied;
    try {
      applied = await handler.apply(contextFor(logicalId, r.Type, properties, prev));
    } catch (err) {
      // The resources not reached yet keep their previous state: derive the world (role
      // policies, rules, ...) from it and what this update applied so far, not from the applied
      // part alone, which would strip every later resource's policies from the account. (The
      // twin does not roll the applied part back: README "What it does not model".)
      reconcileDerived(world, [...stack.resources.values(), ...stack.retained.values()]);
      throw new Error(`${prev === undefined ? 'CREATE' : 'UPDATE'}_FAILED ${logicalId} (${r.Type}): ${(err as Error).message}`, { cause: err });
    }
    live.set(logicalId, { logicalId, type: r.Type, physicalId: applied.physicalId, attributes: applied.attributes, properties, ...(r.DeletionPolicy === undefined ? {} : { deletionPolicy: r.DeletionPolicy }) });
    (prev === undefined ? summary.created : summary.updated).push(logicalId);
    stack.resources.set(logicalId, live.get(logicalId) as ResourceState);
    // Mid-update, the account holds what this update applied so far AND every resource it has
    // not reached yet, as it was (CloudFormation replaces nothing before it gets there): a
    // function invoked by a schedule during the update must not lose the policies of roles
    // later in the order. `live` alone would hold only the resources reached so far.
    reconcileDerived(world, [...stack.resources.values(), ...stack.retained.values()]);
  }

  // Cleanup phase: removed resources in reverse dependency order of the template that made them.
  const removed = topologicalOrder(prevTemplate).reverse().filter((id) => previous.has(id) && !live.has(id));
  for (const logicalId of removed) {
    const prev = previous.get(logicalId) as ResourceState;
    stack.resources.delete(logicalId);
    if (isRetained(prev.deletionPolicy)) {
      stack.retained.set(logicalId, prev);
      summary.retained.push(logicalId);
      continue;
    }
    const handler = handlerFor(prev.type);
    await handler.remove?.(contextFor(logicalId, prev.type, { ...prev.properties }, undefined), prev);
    summary.deleted.push(logicalId);
  }
  for (const task of cleanups) await task();
  stack.template = next;
  for (const [id, s] of live) stack.resources.set(id, s);
  reconcileDerived(world, allStates());

  world.physicalIds.clear();
  for (const [id, s] of live) world.physicalIds.set(id, s.physicalId);
  const outputs: Record<string, string> = {};
  for (const [key, out] of Object.entries(next.Outputs ?? {})) {
    if (out.Condition !== undefined && !resolver.condition(out.Condition)) continue;
    outputs[key] = resolver.string(out.Value, `output ${key}`);
  }
  world.outputs = outputs;
  return { ...summary, millis: Date.now() - started };
}

/**
 * Creates every resource of `template` on moto (admin credentials, not through the proxy) and
 * records it in `world`; custom resources go to `onCustomResource` in dependency order. A resource
 * type the twin does not know fails the stand-up with its type name.
 *
 * @example
 * const { outdir, template, stackName } = await synthesizeTwin();
 * await standUp({ template, outdir, motoUrl: moto.url, world, stackName, onCustomResource });
 */
export async function standUp(opts: StandUpOptions): Promise<StackChangeSummary> {
  const { world } = opts;
  if (stacks.has(world)) throw new Error('this world already has a stack: use updateStack');
  const stackName = opts.stackName ?? world.stackName;
  world.stackName = stackName;
  const stack: DeployedStack = {
    stackName,
    stackId: `arn:${world.partition}:cloudformation:${world.region}:${TWIN_ACCOUNT}:stack/${stackName}/00000000-0000-4000-8000-${Buffer.from(stackName).toString('hex').padEnd(12, '0').slice(0, 12)}`,
    template: { Resources: {} },
    resources: new Map(),
    retained: new Map(),
    extras: { archives: [], dashboards: new Map(), logGroups: new Map(), aliases: new Map() },
  };
  // Every account has the default event bus (EventBridge User Guide, "Event buses").
  if (!world.buses.has('default')) world.buses.set('default', { name: 'default', arn: `arn:${world.partition}:events:${world.region}:${world.account}:event-bus/default` });
  stacks.set(world, stack);
  const aws = motoClients(opts.motoUrl);
  try {
    return await deploy(stack, opts.template, opts, aws);
  } finally {
    destroyClients(aws);
  }
}

/**
 * Redeploys `template` over the stack stood up in `opts.world`: new resources created, changed
 * ones updated in place on moto and in the world (custom resources get Update with
 * OldResourceProperties), removed ones deleted, except those with DeletionPolicy Retain.
 *
 * @example
 * const next = await synthesizeTwin({ context: { keyrings: [...] } });
 * const summary = await updateStack({ template: next.template, outdir: next.outdir, motoUrl, world, onCustomResource });
 */
export async function updateStack(opts: StandUpOptions): Promise<StackChangeSummary> {
  const stack = stacks.get(opts.world);
  if (stack === undefined) throw new Error('no stack stood up in this world: use standUp first');
  const aws = motoClients(opts.motoUrl);
  try {
    return await deploy(stack, opts.template, opts, aws);
  } finally {
    destroyClients(aws);
  }
}
