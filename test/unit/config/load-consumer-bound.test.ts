import { bucketArnOf, loadConsumerAccounts, loadConsumerBound } from '../../../shared/config/load-consumer-bound';
import { ValidationError } from '../../../shared/errors';

const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('load-consumer-bound', () => {
  describe('loadConsumerBound', () => {
    it('is undefined when neither variable is set (a stack deployed before the registry)', () => {
      // Act / Assess
      expect(loadConsumerBound({})).toBeUndefined();
      expect(loadConsumerBound({ REKEY_CONSUMER_ACCOUNTS: '', REKEY_OPS_KEY_ARN: '' })).toBeUndefined();
    });

    it('reads the accounts and the ops key', () => {
      // Act
      const bound = loadConsumerBound({ REKEY_CONSUMER_ACCOUNTS: '["111122223333","444455556666"]', REKEY_OPS_KEY_ARN: KEY });
      // Assess
      expect(bound).toEqual({ accounts: ['111122223333', '444455556666'], opsKeyArn: KEY });
    });

    it.each<[string, Record<string, string>]>([
      ['REKEY_CONSUMER_ACCOUNTS', { REKEY_CONSUMER_ACCOUNTS: '["1234"]', REKEY_OPS_KEY_ARN: KEY }],
      ['REKEY_CONSUMER_ACCOUNTS', { REKEY_CONSUMER_ACCOUNTS: '["111122223333","111122223333"]', REKEY_OPS_KEY_ARN: KEY }],
      ['REKEY_CONSUMER_ACCOUNTS', { REKEY_OPS_KEY_ARN: KEY }],
      ['REKEY_OPS_KEY_ARN', { REKEY_CONSUMER_ACCOUNTS: '["111122223333"]' }],
      ['REKEY_OPS_KEY_ARN', { REKEY_CONSUMER_ACCOUNTS: '["111122223333"]', REKEY_OPS_KEY_ARN: 'alias/ops' }],
    ])('throws ValidationError naming %s when malformed or half set', (name, env) => {
      // Act / Assess
      expect(() => loadConsumerBound(env)).toThrow(ValidationError);
      expect(() => loadConsumerBound(env)).toThrow(`invalid configuration: ${name}`);
    });
  });

  describe('loadConsumerAccounts', () => {
    it('is undefined when unset and the accounts when set', () => {
      // Act / Assess
      expect(loadConsumerAccounts({})).toBeUndefined();
      expect(loadConsumerAccounts({ REKEY_CONSUMER_ACCOUNTS: '["111122223333"]' })).toEqual(['111122223333']);
      expect(() => loadConsumerAccounts({ REKEY_CONSUMER_ACCOUNTS: 'x' })).toThrow(ValidationError);
    });
  });

  describe('bucketArnOf', () => {
    it('puts the bucket in the partition of the ARN', () => {
      // Act / Assess
      expect(bucketArnOf('cat', KEY)).toBe('arn:aws:s3:::cat');
      expect(bucketArnOf('cat', 'arn:aws-cn:kms:cn-north-1:111122223333:key/k')).toBe('arn:aws-cn:s3:::cat');
      expect(() => bucketArnOf('cat', 'not-an-arn')).toThrow(ValidationError);
    });
  });
});
