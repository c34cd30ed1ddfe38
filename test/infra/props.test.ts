import { App } from 'aws-cdk-lib';
import { ValidationError } from '../../shared/errors';
import { resolveRekeyProps, type RekeyConfigProps } from '../../infra/props';
import { RekeyStack } from '../../infra/rekey-stack';
import { testApp } from './support/stack-fixture';

const minimal: RekeyConfigProps = { keyrings: [{ name: 'pii' }] };

function problemOf(input: unknown): string {
  try {
    resolveRekeyProps(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('resolveRekeyProps', () => {
  describe('defaults', () => {
    it('applies the catalog default policy and the stack defaults when only a name is given', () => {
      // Prepare / Act
      const config = resolveRekeyProps(minimal);
      // Assess
      expect(config.keyrings[0]).toEqual({
        name: 'pii',
        // Quiet period 7 days; destruction is opt-in (off unless the keyring says so).
        policy: { rotateEverySeconds: 90 * 86_400, graceSeconds: 7 * 86_400, propagationSeconds: 600, retentionSeconds: 30 * 86_400, quietSeconds: 7 * 86_400, destroyAfterRetention: false },
        sensitivity: 'moderate',
        applicationRoleArns: [],
      });
      expect(config).toMatchObject({ catalogPrefix: 'catalog/', breakerThreshold: 0.05, reserveConcurrency: true, escrow: { retentionDays: 365 }, recordTargets: [] });
      expect(config.schedules).toEqual({ rotationCheck: 3600, gracePeriod: 900, escrowArchive: 3600, escrowDrill: 86_400, cacheInvalidate: 3600, keyAccessSync: 600 });
    });

    it('parses duration strings into seconds', () => {
      // Prepare / Act
      const config = resolveRekeyProps({
        keyrings: [
          { name: 'pii', rotateEvery: '30d', grace: '36h', propagation: '15m', retention: '90d' },
          { name: 'ops', quiet: '3d', destroyAfterRetention: true },
        ],
      });
      // Assess
      expect(config.keyrings[0]?.policy).toEqual({ rotateEverySeconds: 2_592_000, graceSeconds: 129_600, propagationSeconds: 900, retentionSeconds: 7_776_000, quietSeconds: 604_800, destroyAfterRetention: false });
      expect(config.keyrings[1]?.policy).toEqual({ rotateEverySeconds: 7_776_000, graceSeconds: 604_800, propagationSeconds: 600, retentionSeconds: 2_592_000, quietSeconds: 259_200, destroyAfterRetention: true });
    });
  });

  describe('errors', () => {
    it.each<[string, unknown, RegExp]>([
      ['no keyrings', { keyrings: [] }, /keyrings: at least one keyring is required/],
      ['a bad duration', { keyrings: [{ name: 'pii', rotateEvery: '90 days' }] }, /keyrings\.0\.rotateEvery: must be a duration/],
      ['a fractional duration', { keyrings: [{ name: 'pii', grace: '1.5d' }] }, /keyrings\.0\.grace: must be a duration/],
      ['a duplicate keyring', { keyrings: [{ name: 'pii' }, { name: 'pii' }] }, /keyrings\.1\.name: duplicate keyring 'pii'/],
      ['an upper-case keyring', { keyrings: [{ name: 'PII' }] }, /keyrings\.0\.name: must be lowercase/],
      ['a bad role ARN', { keyrings: [{ name: 'pii', applicationRoleArns: ['arn:aws:iam::123:user/bob'] }] }, /applicationRoleArns\.0: must be an IAM role ARN/],
      ['a duplicate role', { keyrings: [{ name: 'pii', applicationRoleArns: ['arn:aws:iam::123456789012:role/a', 'arn:aws:iam::123456789012:role/a'] }] }, /duplicate role ARN/],
      ['rotation shorter than propagation', { keyrings: [{ name: 'pii', rotateEvery: '5m', propagation: '10m' }] }, /rotateEverySeconds must be longer than propagationSeconds/],
      ['a target of an unknown keyring', { ...minimal, recordTargets: [{ keyring: 'ops', bucket: 'records' }] }, /recordTargets\.0\.keyring: unknown keyring 'ops'/],
      ['a bad bucket name', { ...minimal, recordTargets: [{ keyring: 'pii', bucket: 'Bad_Bucket' }] }, /recordTargets\.0\.bucket/],
      ['an unknown record layout', { ...minimal, recordTargets: [{ keyring: 'pii', bucket: 'records', layout: 'sideways' }] }, /recordTargets\.0\.layout/],
      ['a duplicate target', { ...minimal, recordTargets: [{ keyring: 'pii', bucket: 'records', prefix: 'a/' }, { keyring: 'pii', bucket: 'records', prefix: 'a/' }] }, /duplicate target s3:\/\/records\/a\//],
      ['a sub-day escrow retention', { ...minimal, escrow: { retention: '12h' } }, /escrow\.retention: must be a whole number of days/],
      ['both alarm e-mail and topic', { ...minimal, alarms: { email: 'a@example.com', topicArn: 'arn:aws:sns:eu-west-1:123456789012:alarms' } }, /alarms\.topicArn: give either email or topicArn/],
      ['a bad e-mail', { ...minimal, alarms: { email: 'not-an-address' } }, /alarms\.email: must be an e-mail address/],
      ['a cache without matching zones', { ...minimal, cache: { name: 'c', vpcId: 'vpc-0123abcd', availabilityZones: ['eu-west-1a'], subnetIds: ['subnet-0123abcd', 'subnet-0123abce'], securityGroupIds: ['sg-0123abcd'] } }, /cache\.availabilityZones: availabilityZones must list one zone per subnet/],
      ['a sub-minute schedule', { ...minimal, schedules: { rotationCheck: '30s' } }, /schedules\.rotationCheck: must be a whole number of minutes/],
      ['an invalid log retention', { ...minimal, logRetentionDays: 42 }, /logRetentionDays: must be one of/],
      ['a breaker threshold above 1', { ...minimal, breakerThreshold: 1.5 }, /breakerThreshold: must be at most 1/],
      ['an unknown field', { ...minimal, keyRings: [] }, /Unrecognized key/],
      ['a catalog prefix without folder', { ...minimal, catalogPrefix: 'catalog' }, /catalogPrefix: must be a folder/],
    ])('throws ValidationError for %s', (_name, input, expected) => {
      // Prepare / Act
      const message = problemOf(input);
      // Assess
      expect(message).toMatch(/^invalid rekey props: /);
      expect(message).toMatch(expected);
    });

    it('lists every problem at once', () => {
      // Prepare / Act
      const message = problemOf({ keyrings: [{ name: 'pii' }, { name: 'pii' }], recordTargets: [{ keyring: 'nope', bucket: 'records' }] });
      // Assess
      expect(message).toContain("duplicate keyring 'pii'");
      expect(message).toContain("unknown keyring 'nope'");
    });

    it('reports a cross-field problem next to a malformed field', () => {
      // Prepare / Act
      const message = problemOf({ keyrings: [{ name: 'pii', applicationRoleArns: ['arn:aws:iam::123:user/bob'] }, { name: 'pii' }] });
      // Assess
      expect(message).toContain('keyrings.0.applicationRoleArns.0: must be an IAM role ARN');
      expect(message).toContain("keyrings.1.name: duplicate keyring 'pii'");
    });

    it('checks a schedule against its rule only once it is a duration', () => {
      // Prepare / Act
      const message = problemOf({ ...minimal, schedules: { rotationCheck: 'soon', gracePeriod: '90s' } });
      // Assess
      expect(message).toBe('invalid rekey props: schedules.rotationCheck: must be a duration such as 90d, 36h, 10m or 30s; schedules.gracePeriod: must be a whole number of minutes (at least 1m)');
    });
  });
});

describe('RekeyStack', () => {
  describe('constructor', () => {
    it('refuses bad props before building anything', () => {
      // Prepare
      const app: App = testApp();
      // Act
      const build = (): RekeyStack => new RekeyStack(app, 'Bad', { keyrings: [{ name: 'pii', rotateEvery: 'soon' }] });
      // Assess
      expect(build).toThrow(ValidationError);
      expect(app.node.children).toHaveLength(0);
    });
  });
});
