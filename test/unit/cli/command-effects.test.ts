import { buildProgram } from '../../../cli/main';
import { COMMAND_EFFECTS, commandEffect, namesTarget } from '../../../cli/command-effects';
import { leafCommands } from '../../../cli/help';

describe('command-effects (which commands name the system they acted on)', () => {
  describe('COMMAND_EFFECTS', () => {
    it.each(['local', 'aws'] as const)('classifies every leaf command of the %s tree', (mode) => {
      // Prepare
      const leaves = leafCommands(buildProgram(mode)).map((l) => l.path);

      // Act
      const unclassified = leaves.filter((path) => commandEffect(path) === undefined);

      // Assess
      expect(leaves.length).toBeGreaterThan(3);
      expect(unclassified).toEqual([]);
    });

    it('lists only reads and changes', () => {
      // Act
      const kinds = new Set(Object.values(COMMAND_EFFECTS));

      // Assess
      expect([...kinds].sort()).toEqual(['changes', 'reads']);
    });
  });

  describe('namesTarget', () => {
    it.each([
      ['rotate', true],
      ['revoke', true],
      ['encrypt', true],
      ['records get', false],
      ['escrow verify', true],
      ['status', false],
      ['plan', false],
      ['audit', false],
      ['decrypt', false],
      ['a command nobody classified', true],
    ] as const)('%s → %s', (path, expected) => {
      // Act
      const names = namesTarget(path);

      // Assess
      expect(names).toBe(expected);
    });
  });
});
