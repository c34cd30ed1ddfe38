import { principalArnOf } from '../../../cli/aws/aws-kit';

describe('principalArnOf (the caller ARN as aws:PrincipalArn reads it)', () => {
  it.each([
    ['arn:aws:sts::111122223333:assumed-role/SecOps/alice', 'arn:aws:iam::111122223333:role/SecOps'],
    ['arn:aws-us-gov:sts::111122223333:assumed-role/Break-Glass/i-0abc', 'arn:aws-us-gov:iam::111122223333:role/Break-Glass'],
    ['arn:aws:iam::111122223333:user/alice', 'arn:aws:iam::111122223333:user/alice'],
    ['arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:root'],
    ['arn:aws:sts::111122223333:federated-user/bob', 'arn:aws:sts::111122223333:federated-user/bob'],
  ])('%s → %s', (caller, principal) => {
    expect(principalArnOf(caller)).toBe(principal);
  });
});
