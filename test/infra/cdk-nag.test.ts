import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeNagFindings, type NagAcknowledgement } from '../../infra/nag-acknowledgements';
import type { RekeyStack } from '../../infra/rekey-stack';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

describe('AwsSolutionsChecks on RekeyStack', () => {
  let acknowledged: NagAcknowledgement[];
  let stack: RekeyStack;

  beforeAll(() => {
    ({ stack } = synthStack(FULL_CONFIG, (s) => {
      acknowledged = acknowledgeNagFindings(s);
    }));
  });

  describe('validateScope', () => {
    it('reports no unacknowledged finding, error or warning', () => {
      // Prepare
      const checks = new AwsSolutionsChecks();
      // Act
      const report = checks.validateScope(stack);
      // Assess
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
      expect(report.success).toBe(true);
    });

    it('reports the findings again when the acknowledgements are missing (the check is live)', () => {
      // Prepare
      const { stack: bare } = synthStack(FULL_CONFIG);
      // Act
      const report = new AwsSolutionsChecks().validateScope(bare);
      // Assess
      expect(report.success).toBe(false);
      expect(new Set(report.violations.map((v) => v.ruleName))).toEqual(new Set(acknowledged.map((a) => a.id)));
    });
  });

  describe('acknowledgeNagFindings', () => {
    it('acknowledges findings one by one, each with a reason', () => {
      // Prepare
      const keys = acknowledged.map((a) => `${a.path} ${a.id}`);
      // Act / Assess
      expect(new Set(keys).size).toBe(keys.length);
      for (const a of acknowledged) {
        expect(a.id).toMatch(/^AwsSolutions-(IAM5\[Resource::.+\]|SQS3)$/);
        expect(a.reason.length).toBeGreaterThan(40);
      }
    });

    it('never acknowledges a wildcard action or a managed policy', () => {
      // Prepare / Act
      const ids = acknowledged.map((a) => a.id);
      // Assess
      expect(ids.filter((id) => id.includes('[Action::') || id.startsWith('AwsSolutions-IAM4'))).toEqual([]);
    });
  });
});
