import { ValidationError } from '../../../shared/errors';
import { NoLifecycleFacts } from '../../../shared/compose/aws/no-lifecycle-facts';

describe('NoLifecycleFacts', () => {
  describe('referenceCounts', () => {
    it('refuses with a ValidationError naming the function and the keyring', async () => {
      // Prepare
      const facts = new NoLifecycleFacts('escrow');
      // Act
      const answer = facts.referenceCounts('payments');
      // Assess
      await expect(answer).rejects.toThrow(ValidationError);
      await expect(facts.referenceCounts('payments')).rejects.toThrow('the escrow function does not reconcile the lifecycle (asked about payments)');
    });
  });

  describe('escrowVerified', () => {
    it('refuses instead of answering false, naming the version', async () => {
      // Prepare
      const facts = new NoLifecycleFacts('rotate');
      // Act
      const answer = facts.escrowVerified('payments', 1);
      // Assess
      await expect(answer).rejects.toThrow('the rotate function does not reconcile the lifecycle (asked about payments v1)');
    });
  });
});
