/**
 * IAM roles and their identity policies (AWS::IAM::Role, AWS::IAM::Policy,
 * AWS::IAM::ManagedPolicy pages of the CloudFormation Template Reference). IAM lives in the
 * world only: moto evaluates no IAM policy and the project has no IAM client; the proxy
 * authorizes with the documents recorded here. Each role gets its own access key pair, which
 * the proxy maps back to the role. The role's `policies` are rebuilt by ./derived.ts from every
 * policy resource attached to it.
 */
import { generatedName, roleAccessKey } from '../names';
import type { ResourceHandler } from '../types';
import { arnOf, optString, policyDocument } from './util';

function iamPath(p: Readonly<Record<string, unknown>>): string {
  return optString(p, 'Path') ?? '/';
}

const iamRole: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const name = ctx.previous?.physicalId ?? optString(p, 'RoleName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 64 });
    const arn = arnOf(ctx, 'iam', `role${iamPath(p)}${name}`, { region: '' });
    const keys = roleAccessKey(name);
    const existing = ctx.world.roles.get(arn);
    ctx.world.roles.set(arn, {
      logicalId: ctx.logicalId,
      name,
      arn,
      trust: policyDocument(p['AssumeRolePolicyDocument'], `${ctx.logicalId} AssumeRolePolicyDocument`),
      policies: existing?.policies ?? [],
      ...keys,
    });
    const roleId = `AROA${keys.accessKeyId.slice(4)}`;
    return { physicalId: name, attributes: { Arn: arn, RoleId: roleId } };
  },
  async remove(ctx, previous) {
    ctx.world.roles.delete(String(previous.attributes['Arn']));
  },
};

const iamPolicy: ResourceHandler = {
  async apply(ctx) {
    policyDocument(ctx.properties['PolicyDocument'], `${ctx.logicalId} PolicyDocument`);
    const id = ctx.previous?.physicalId ?? generatedName(ctx.stackName, ctx.logicalId.slice(0, 5), { max: 64 });
    return { physicalId: id, attributes: { Id: id } };
  },
};

const iamManagedPolicy: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    policyDocument(p['PolicyDocument'], `${ctx.logicalId} PolicyDocument`);
    const name = ctx.previous?.physicalId.split('/').pop() ?? optString(p, 'ManagedPolicyName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 128 });
    const arn = arnOf(ctx, 'iam', `policy${iamPath(p)}${name}`, { region: '' });
    return { physicalId: arn, attributes: { PolicyArn: arn, PolicyId: `ANPA${roleAccessKey(arn).accessKeyId.slice(4)}` } };
  },
};

/** Handlers by resource type. */
export const IAM_HANDLERS: Readonly<Record<string, ResourceHandler>> = {
  'AWS::IAM::Role': iamRole,
  'AWS::IAM::Policy': iamPolicy,
  'AWS::IAM::ManagedPolicy': iamManagedPolicy,
};
