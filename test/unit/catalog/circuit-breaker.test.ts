import fc from 'fast-check';
import type { Catalog } from '../../../shared/catalog/model';
import { decideBreaker, rotationUnderWay } from '../../../shared/catalog/circuit-breaker';

const policy = { threshold: 0.1 };

describe('decideBreaker', () => {
  describe('when the breaker is not tripped', () => {
    it('trips when the failure rate exceeds the threshold during a rotation', () => {
      // Prepare
      const input = { tripped: false, rotating: true, facts: { failures: 11, attempts: 100 }, policy };
      // Act
      const d = decideBreaker(input);
      // Assess
      expect(d.action).toBe('trip');
      expect(d.reason).toContain('11/100');
    });

    it('holds at exactly the threshold', () => {
      // Prepare
      const input = { tripped: false, rotating: true, facts: { failures: 10, attempts: 100 }, policy };
      // Act
      const d = decideBreaker(input);
      // Assess
      expect(d.action).toBe('hold');
    });

    it('holds when no rotation is under way, however bad the rate', () => {
      // Prepare
      const input = { tripped: false, rotating: false, facts: { failures: 100, attempts: 100 }, policy };
      // Act
      const d = decideBreaker(input);
      // Assess
      expect(d.action).toBe('hold');
    });

    it('holds with fewer attempts than the minimum sample', () => {
      // Prepare
      const input = { tripped: false, rotating: true, facts: { failures: 5, attempts: 5 }, policy };
      // Act
      const d = decideBreaker(input);
      // Assess
      expect(d.action).toBe('hold');
    });
  });

  describe('when the breaker is tripped', () => {
    it('resets once the rate falls below half the threshold', () => {
      // Prepare
      const input = { tripped: true, rotating: true, facts: { failures: 4, attempts: 100 }, policy };
      // Act
      const d = decideBreaker(input);
      // Assess
      expect(d.action).toBe('reset');
    });

    it('holds between half the threshold and the threshold, so it does not flap', () => {
      // Prepare
      const input = { tripped: true, rotating: false, facts: { failures: 7, attempts: 100 }, policy };
      // Act
      const d = decideBreaker(input);
      // Assess
      expect(d.action).toBe('hold');
    });
  });

  describe('invariants', () => {
    it('never trips outside a rotation, never resets an untripped breaker, never trips a tripped one', () => {
      // Prepare
      const arb = fc.record({
        tripped: fc.boolean(),
        rotating: fc.boolean(),
        failures: fc.oneof(fc.nat(10_000), fc.constant(Number.NaN), fc.constant(-5)),
        attempts: fc.oneof(fc.nat(10_000), fc.constant(Number.POSITIVE_INFINITY)),
        threshold: fc.double({ min: 0.001, max: 1, noNaN: true }),
      });
      // Act
      const run = () =>
        fc.assert(
          fc.property(arb, ({ tripped, rotating, failures, attempts, threshold }) => {
            const d = decideBreaker({ tripped, rotating, facts: { failures, attempts }, policy: { threshold } });
            if (d.action === 'trip') return !tripped && rotating;
            if (d.action === 'reset') return tripped;
            return true;
          }),
        );
      // Assess
      expect(run).not.toThrow();
    });
  });
});

describe('rotationUnderWay', () => {
  describe('catalog states', () => {
    it.each<[string[], boolean]>([
      [['active'], false],
      [['active', 'pending'], true],
      [['rotating', 'active'], true],
      [['deprecated', 'active'], false],
    ])('is true only with a pending or rotating version (%j)', (states, expected) => {
      // Prepare
      const catalog = { versions: states.map((state, i) => ({ version: i + 1, state })) } as unknown as Catalog;
      // Act
      const under = rotationUnderWay(catalog);
      // Assess
      expect(under).toBe(expected);
    });
  });
});
