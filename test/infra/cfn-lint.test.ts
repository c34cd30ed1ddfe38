import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../support/scratch';
import { synthStack } from './support/stack-fixture';

describe('RekeyStack template', () => {
  let dir: string;
  let templatePath: string;

  beforeAll(() => {
    dir = scratchDir('rekey-cfn-lint-');
    templatePath = join(dir, 'rekey.template.json');
    writeFileSync(templatePath, JSON.stringify(synthStack().template.toJSON(), null, 1));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('cfn-lint', () => {
    it('finds no error in the synthesized template', () => {
      // Prepare / Act
      const run = spawnSync('cfn-lint', ['--format', 'parseable', '--', templatePath], { encoding: 'utf8', timeout: 120_000 });
      // Assess: exit-code bit 2 means errors (4 warnings, 8 informational); bit 1 a crash.
      expect(run.error).toBeUndefined();
      const errors = run.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line));
      expect(errors).toEqual([]);
      expect((run.status ?? 1) & 3).toBe(0);
    });
  });
});
