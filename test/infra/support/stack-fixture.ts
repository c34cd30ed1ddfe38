/**
 * Builds the rekey stack for infra tests with the feature flags of cdk.json and bundling skipped
 * (`aws:cdk:bundling-stacks: []`), so a synthesis takes a second, not a bundle per function.
 * Each app synthesizes into a scratch folder of the test run (never the OS temp folder, where an
 * App without `outdir` would leave a `cdk.out*` folder behind).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { RekeyConfigProps } from '../../../infra/props';
import { RekeyStack } from '../../../infra/rekey-stack';
import { scratchDir } from '../../support/scratch';

/** The feature flags of cdk.json (its context minus the rekey configuration). */
export function cdkJsonFlags(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const { rekey: _rekey, ...flags } = cdkJson.context;
  return flags;
}

/** A configuration exercising every feature: two keyrings, an app role, record targets, a cache. */
export const FULL_CONFIG: RekeyConfigProps = {
  keyrings: [
    { name: 'pii', rotateEvery: '30d', grace: '7d', propagation: '15m', retention: '30d', sensitivity: 'high', applicationRoleArns: ['arn:aws:iam::111122223333:role/orders-service'] },
    { name: 'ops', rotateEvery: '90d', sensitivity: 'moderate' },
  ],
  recordTargets: [
    { keyring: 'pii', bucket: 'orders-records', prefix: 'pii/', bucketKmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
    { keyring: 'ops', bucket: 'ops-records' },
  ],
  cache: {
    name: 'rekey-cache',
    iamUser: 'rekey-functions',
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    securityGroupIds: ['sg-0123456789abcdef0'],
  },
  escrow: { retention: '400d', restoreRoleArns: ['arn:aws:iam::111122223333:role/break-glass'] },
  alarms: { email: 'oncall@example.com' },
};

/** A new app with cdk.json's flags and bundling skipped, synthesizing into a fresh scratch folder. */
export function testApp(): App {
  return new App({ outdir: scratchDir('cdk.out-'), context: { ...cdkJsonFlags(), 'aws:cdk:bundling-stacks': [] } });
}

/** Builds a stack from `config`, lets `customize` add to it, then synthesizes its template once. */
export function synthStack(config: RekeyConfigProps = FULL_CONFIG, customize?: (stack: RekeyStack) => void): { app: App; stack: RekeyStack; template: Template } {
  const app = testApp();
  const stack = new RekeyStack(app, 'RekeyTest', config);
  customize?.(stack);
  return { app, stack, template: Template.fromStack(stack) };
}
