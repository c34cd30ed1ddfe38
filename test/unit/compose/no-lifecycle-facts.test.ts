import { ValidationError } from '../../../shared/errors';
import { NoLifecycleFacts } from '../../../shared/compose/aws/no-lifecycle-facts';

describe('NoLifecycleFacts', () => {
  describe('references', () => {
    it('refuses with a ValidationError naming the function and the version', async () => {
      // Prepare
      const facts = new NoLifecycleFacts('escrow');
      // Act
      const answer = facts.references('payments', 3);
      // Assess
      await expect(answer).rejects.toThrow(ValidationError);
      await expect(facts.references('payments', 3)).rejects.toThrow('the escrow function does not reconcile the lifecycle (asked about payments v3)');
    });
  });

  describe('escrowVerified', () => {
    it('refuses instead of answering false', async () => {
      // Prepare
      const facts = new NoLifecycleFacts('rotate');
      // Act
      const answer = facts.escrowVerified('payments', 1);
      // Assess
      await expect(answer).rejects.toThrow(/the rotate function does not reconcile/);
    });
  });
});
