import { planBucketReadGrants, type ExistingGrant } from '../../../shared/catalog/grant-plan';

const BUCKET = 'arn:aws:s3:::rekey-catalog';
const A = 'arn:aws:iam::111122223333:role/a';
const B = 'arn:aws:iam::111122223333:role/b';
const NAME = 'rekey-catalog-read';

function grant(id: string, grantee: string, patch: Partial<ExistingGrant> = {}): ExistingGrant {
  return { grantId: id, grantee, operations: ['Decrypt'], contextEquals: { 'aws:s3:arn': BUCKET }, name: NAME, ...patch };
}

describe('planBucketReadGrants', () => {
  it('creates one grant per wanted grantee and keeps the well-formed ones', () => {
    // Act
    const plan = planBucketReadGrants(NAME, BUCKET, [A, B], [grant('g1', A)]);
    // Assess
    expect(plan).toEqual({ revoke: [], create: [{ grantee: B, name: NAME, bucketArn: BUCKET }] });
  });

  it('revokes grants of removed grantees, duplicates and malformed ones of its name', () => {
    // Prepare
    const existing = [
      grant('keep', A),
      grant('dup', A),
      grant('gone', B),
      grant('other-bucket', A, { contextEquals: { 'aws:s3:arn': 'arn:aws:s3:::elsewhere' } }),
      grant('wider', A, { operations: ['Decrypt', 'Encrypt'] }),
      grant('extra-context', A, { contextEquals: { 'aws:s3:arn': BUCKET, x: 'y' } }),
    ];
    // Act
    const plan = planBucketReadGrants(NAME, BUCKET, [A], existing);
    // Assess
    expect(plan).toEqual({ revoke: ['dup', 'gone', 'other-bucket', 'wider', 'extra-context'], create: [] });
  });

  it('never touches grants of another name or without a name', () => {
    // Prepare
    const existing = [grant('s3', B, { name: 'someone-else' }), grant('anon', B, { name: undefined })];
    // Act
    const plan = planBucketReadGrants(NAME, BUCKET, [], existing);
    // Assess
    expect(plan).toEqual({ revoke: [], create: [] });
  });
});
