import { generateKeyPairSync } from 'node:crypto';
import { ENV } from '../../../shared/config/env-names';
import { CONFIG_DEFAULTS, loadConfig, loadLocalConfig } from '../../../shared/config/load-config';
import { ValidationError } from '../../../shared/errors';

const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const VALID: Record<string, string> = {
  [ENV.region]: 'eu-west-1',
  [ENV.catalogBucket]: 'rekey-catalog',
  [ENV.keyringKeys]: JSON.stringify({ payments: KEY }),
  [ENV.escrowBucket]: 'rekey-escrow',
  [ENV.escrowKeyArn]: KEY,
  [ENV.recordTargets]: JSON.stringify([{ keyring: 'payments', bucket: 'app-data', prefix: 'orders/' }]),
  [ENV.eventBusName]: 'rekey-audit',
  [ENV.breakerThreshold]: '0.2',
  [ENV.cacheName]: 'rekey-cache',
  [ENV.cacheIamUser]: 'rekey-user',
  [ENV.sweepStateMachineArn]: 'arn:aws:states:us-east-1:123456789012:stateMachine:rekey-sweep',
  [ENV.inlineSweepLimit]: '50',
  [ENV.escrowRetentionDays]: '400',
};

function without(name: string): Record<string, string> {
  const env = { ...VALID };
  delete env[name];
  return env;
}

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('loadConfig', () => {
  describe('valid environment', () => {
    it('returns every setting parsed and frozen', () => {
      // Prepare
      const env = { ...VALID };
      // Act
      const config = loadConfig(env);
      // Assess
      expect(config).toEqual({
        region: 'eu-west-1',
        catalogBucket: 'rekey-catalog',
        catalogPrefix: CONFIG_DEFAULTS.catalogPrefix,
        keyringKeys: { payments: KEY },
        escrowBucket: 'rekey-escrow',
        escrowKeyArn: KEY,
        escrowRetentionDays: 400,
        recordTargets: [{ keyring: 'payments', bucket: 'app-data', prefix: 'orders/' }],
        cache: { name: 'rekey-cache', iamUser: 'rekey-user' },
        eventBusName: 'rekey-audit',
        breakerThreshold: 0.2,
        sweepStateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:rekey-sweep',
        inlineSweepLimit: 50,
      });
      expect(Object.isFrozen(config)).toBe(true);
    });

    it('reads a record target\'s layout, and leaves it absent (the body layout) when not given', () => {
      // Prepare
      const env = { ...VALID, [ENV.recordTargets]: JSON.stringify([{ keyring: 'payments', bucket: 'app-data', prefix: 'orders/', layout: 'metadata' }, { keyring: 'payments', bucket: 'app-data', prefix: 'old/' }]) };
      // Act
      const config = loadConfig(env);
      // Assess
      expect(config.recordTargets.map((t) => t.layout)).toEqual(['metadata', undefined]);
    });

    it('applies defaults when optional variables are absent', () => {
      // Prepare
      const env = { ...VALID };
      for (const name of [ENV.region, ENV.recordTargets, ENV.breakerThreshold, ENV.cacheName, ENV.cacheIamUser, ENV.sweepStateMachineArn, ENV.inlineSweepLimit, ENV.escrowRetentionDays]) delete env[name];
      // Act
      const config = loadConfig(env);
      // Assess
      expect(config.breakerThreshold).toBe(CONFIG_DEFAULTS.breakerThreshold);
      expect(config.inlineSweepLimit).toBe(CONFIG_DEFAULTS.inlineSweepLimit);
      expect(config.escrowRetentionDays).toBe(CONFIG_DEFAULTS.escrowRetentionDays);
      expect(config.recordTargets).toEqual([]);
      expect(config.cache).toBeUndefined();
      expect(config.region).toBeUndefined();
    });

    it('accepts an RSA public key for the offline escrow copy', () => {
      // Prepare
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      // Act
      const config = loadConfig({ ...VALID, [ENV.escrowRsaPublicKey]: pem });
      // Assess
      expect(config.escrowRsaPublicKey).toBe(pem.trim());
    });
  });

  describe('missing variables', () => {
    it.each([ENV.catalogBucket, ENV.keyringKeys, ENV.escrowBucket, ENV.escrowKeyArn, ENV.eventBusName])('throws a ValidationError naming %s when it is missing', (name) => {
      // Prepare
      const env = without(name);
      // Act
      const err = errorOf(() => loadConfig(env));
      // Assess
      expect(err.message).toContain(`${name} is required`);
    });

    it('names every missing variable at once', () => {
      // Prepare
      const env = {};
      // Act
      const err = errorOf(() => loadConfig(env));
      // Assess
      for (const name of [ENV.catalogBucket, ENV.keyringKeys, ENV.escrowBucket, ENV.escrowKeyArn, ENV.eventBusName]) expect(err.message).toContain(name);
    });
  });

  describe('malformed variables', () => {
    it.each<[string, string]>([
      [ENV.region, 'Mars-1'],
      [ENV.catalogBucket, 'Not_A_Bucket'],
      [ENV.catalogBucket, 'ab'],
      [ENV.catalogPrefix, '/abs/'],
      [ENV.keyringKeys, '{not json'],
      [ENV.keyringKeys, '[]'],
      [ENV.keyringKeys, '{}'],
      [ENV.keyringKeys, JSON.stringify({ 'bad name': KEY })],
      [ENV.keyringKeys, JSON.stringify({ payments: 'arn:aws:s3:::bucket' })],
      [ENV.escrowBucket, 'UPPER'],
      [ENV.escrowKeyArn, 'alias/escrow'],
      [ENV.escrowRsaPublicKey, '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----'],
      [ENV.escrowRetentionDays, '0'],
      [ENV.escrowRetentionDays, '1.5'],
      [ENV.escrowRetentionDays, '99999'],
      [ENV.recordTargets, '{"keyring":"payments"}'],
      [ENV.recordTargets, JSON.stringify([{ keyring: 'payments', bucket: 'app-data' }])],
      [ENV.recordTargets, JSON.stringify([{ keyring: 'other', bucket: 'app-data', prefix: '' }])],
      [ENV.recordTargets, JSON.stringify([{ keyring: 'payments', bucket: 'app-data', prefix: '', layout: 'sideways' }])],
      [ENV.cacheName, '1starts-with-digit'],
      [ENV.cacheEndpoint, 'http://cache:6379'],
      [ENV.cacheEndpoint, 'rediss://user:secret@cache:6379'],
      [ENV.cacheIamUser, 'has space'],
      [ENV.eventBusName, 'bus with spaces'],
      [ENV.breakerThreshold, '0'],
      [ENV.breakerThreshold, '1.5'],
      [ENV.breakerThreshold, 'NaN'],
      [ENV.breakerThreshold, '-0.1'],
      [ENV.sweepStateMachineArn, 'arn:aws:lambda:us-east-1:123456789012:function:x'],
      [ENV.inlineSweepLimit, '-5'],
      [ENV.inlineSweepLimit, 'many'],
    ])('throws a ValidationError naming %s when it is %j', (name, value) => {
      // Prepare
      const env = { ...VALID, [name]: value };
      // Act
      const err = errorOf(() => loadConfig(env));
      // Assess
      expect(err.message).toContain(name);
      expect(err.code).toBe('VALIDATION');
    });

    it('never echoes a variable value in the error', () => {
      // Prepare
      const env = { ...VALID, [ENV.cacheEndpoint]: 'rediss://user:hunter2@cache:6379' };
      // Act
      const err = errorOf(() => loadConfig(env));
      // Assess
      expect(err.message).not.toContain('hunter2');
    });

    it('refuses an IAM user without a cache to authenticate to', () => {
      // Prepare
      const env = without(ENV.cacheName);
      // Act
      const err = errorOf(() => loadConfig(env));
      // Assess
      expect(err.message).toContain(ENV.cacheIamUser);
    });
  });
});

describe('loadLocalConfig', () => {
  describe('environment', () => {
    it('defaults the home folder and reads the Redis URL', () => {
      // Prepare
      const env = { [ENV.redisUrl]: 'redis://127.0.0.1:6379' };
      // Act
      const config = loadLocalConfig(env);
      // Assess
      expect(config).toEqual({ home: CONFIG_DEFAULTS.home, redisUrl: 'redis://127.0.0.1:6379' });
    });

    it('throws a ValidationError naming REKEY_REDIS_URL when it is not a Redis URL', () => {
      // Prepare
      const env = { [ENV.redisUrl]: 'ftp://x' };
      // Act
      const err = errorOf(() => loadLocalConfig(env));
      // Assess
      expect(err.message).toContain(ENV.redisUrl);
    });
  });
});
