import fc from 'fast-check';
import { isMultiRegionKey, keyArnInRegion, mrkMatch, parseKmsArn } from '../../../../shared/adapters/aws/kms-key-arn';
import { ValidationError } from '../../../../shared/errors';

const regionArb = fc.constantFrom('us-east-1', 'eu-west-1', 'ap-southeast-2', 'us-gov-west-1', 'cn-north-1');
const accountArb = fc.stringMatching(/^\d{12}$/);
const idArb = fc.uuid();
const arnOf = (partition: string, region: string, account: string, id: string): string => `arn:${partition}:kms:${region}:${account}:key/${id}`;

describe('KMS key identifiers and multi-Region keys (Encryption SDK "aws-kms-mrk-match-for-decrypt")', () => {
  it('moves a multi-Region key ARN to any Region and still matches it; a single-Region key never moves', () => {
    fc.assert(
      fc.property(regionArb, regionArb, accountArb, idArb, (from, to, account, id) => {
        const mrk = arnOf('aws', from, account, `mrk-${id.replaceAll('-', '')}`);
        const single = arnOf('aws', from, account, id);
        const moved = keyArnInRegion(mrk, to);
        expect(parseKmsArn(moved)).toMatchObject({ region: to, account, resourceType: 'key' });
        expect(mrkMatch(mrk, moved)).toBe(true);
        expect(keyArnInRegion(single, to)).toBe(single);
        expect(mrkMatch(single, arnOf('aws', to, account, id))).toBe(from === to);
      }),
    );
  });

  it('tells multi-Region keys from others and matches only the same key of the same account and partition', () => {
    const a = 'arn:aws:kms:us-east-1:111122223333:key/mrk-1a2b3c';
    expect(isMultiRegionKey(a)).toBe(true);
    expect(isMultiRegionKey('mrk-1a2b3c')).toBe(true);
    expect(isMultiRegionKey('arn:aws:kms:us-east-1:111122223333:alias/mrk-looks-like-one')).toBe(false);
    expect(isMultiRegionKey('alias/mrk-x')).toBe(false);
    expect(isMultiRegionKey('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')).toBe(false);
    expect(mrkMatch(a, 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1a2b3c')).toBe(true);
    expect(mrkMatch(a, 'arn:aws:kms:eu-west-1:444455556666:key/mrk-1a2b3c')).toBe(false);
    expect(mrkMatch(a, 'arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1a2b3c')).toBe(false);
    expect(mrkMatch(a, 'arn:aws:kms:eu-west-1:111122223333:key/mrk-ffff')).toBe(false);
    expect(mrkMatch('mrk-1a2b3c', a)).toBe(false);
    expect(parseKmsArn('not an arn')).toBeUndefined();
    expect(keyArnInRegion('alias/orders', 'eu-west-1')).toBe('alias/orders');
    expect(() => keyArnInRegion(a, 'Mars')).toThrow(ValidationError);
  });
});
