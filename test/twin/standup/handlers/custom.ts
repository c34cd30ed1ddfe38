/**
 * Custom resources (`Custom::*`, AWS::CloudFormation::CustomResource): CloudFormation sends the
 * provider a Create, Update (only when the properties changed, with OldResourceProperties and
 * the PhysicalResourceId) or Delete request; a different PhysicalResourceId returned by an
 * Update is a replacement, and the old resource gets a Delete in the cleanup phase ("Custom
 * resource response objects", CloudFormation User Guide). The ServiceToken cannot change
 * (AWS::CloudFormation::CustomResource, Template Reference).
 */
import type { CustomResourceCall, HandlerContext, ResourceHandler, ResourceState } from '../types';
import { reqString } from './util';

/** Property values as a provider receives them: numbers and booleans become strings (cloudformation-coverage-roadmap#1037). */
export function asSentToProvider(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asSentToProvider);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, asSentToProvider(v)]));
}

function call(ctx: HandlerContext, requestType: CustomResourceCall['requestType'], properties: Readonly<Record<string, unknown>>, previous?: ResourceState): CustomResourceCall {
  return {
    requestType,
    logicalId: ctx.logicalId,
    type: ctx.type,
    serviceToken: String(properties['ServiceToken']),
    properties: asSentToProvider(properties) as Record<string, unknown>,
    ...(previous === undefined ? {} : { physicalResourceId: previous.physicalId }),
    ...(requestType === 'Update' && previous !== undefined ? { oldProperties: asSentToProvider(previous.properties) as Record<string, unknown> } : {}),
    stackId: ctx.stackId,
    stackName: ctx.stackName,
  };
}

const customResource: ResourceHandler = {
  async apply(ctx) {
    const serviceToken = reqString(ctx, 'ServiceToken');
    const previous = ctx.previous;
    if (previous !== undefined && previous.properties['ServiceToken'] !== serviceToken) {
      throw new Error(`${ctx.logicalId}: Modifying service token is not allowed`);
    }
    const request = call(ctx, previous === undefined ? 'Create' : 'Update', ctx.properties, previous);
    const result = await ctx.onCustomResource(request);
    if (result.status === 'FAILED') throw new Error(`${ctx.logicalId}: the provider answered FAILED: ${result.reason ?? '(no reason)'}`);
    if (typeof result.physicalResourceId !== 'string' || result.physicalResourceId === '') throw new Error(`${ctx.logicalId}: the provider returned no PhysicalResourceId`);
    if (previous !== undefined && result.physicalResourceId !== previous.physicalId) {
      const old = call(ctx, 'Delete', previous.properties, previous);
      ctx.deferCleanup(async () => {
        const deleted = await ctx.onCustomResource(old);
        if (deleted.status === 'FAILED') throw new Error(`${ctx.logicalId}: Delete of replaced ${previous.physicalId} FAILED: ${deleted.reason ?? ''}`);
      });
    }
    ctx.world.customResources.set(ctx.logicalId, {
      logicalId: ctx.logicalId,
      type: ctx.type,
      serviceToken,
      properties: request.properties,
      physicalId: result.physicalResourceId,
      ...(result.data === undefined ? {} : { data: result.data }),
    });
    return { physicalId: result.physicalResourceId, attributes: { ...(result.data ?? {}) } };
  },
  async remove(ctx, previous) {
    const deleted = await ctx.onCustomResource(call(ctx, 'Delete', previous.properties, previous));
    if (deleted.status === 'FAILED') throw new Error(`${ctx.logicalId}: Delete FAILED: ${deleted.reason ?? ''}`);
    ctx.world.customResources.delete(previous.logicalId);
  },
};

/** The handler of a type, when it is a custom resource type. */
export function customHandlerFor(type: string): ResourceHandler | undefined {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource' ? customResource : undefined;
}
