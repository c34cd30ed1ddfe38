import { buildSync } from 'esbuild';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import * as errors from '../../shared/errors';

describe('errors', () => {
  describe('name', () => {
    it('keeps every error class name in a minified bundle, as deployed Lambdas are built', () => {
      // Prepare: bundle shared/errors.ts the way the stack bundles functions (minified).
      const out = buildSync({
        entryPoints: [join(__dirname, '..', '..', 'shared', 'errors.ts')],
        bundle: true,
        minify: true,
        format: 'cjs',
        platform: 'node',
        write: false,
      });
      const module = { exports: {} as Record<string, unknown> };
      runInNewContext(out.outputFiles[0]!.text, { module, exports: module.exports });
      const classes = Object.entries(module.exports).filter(([name]) => /^[A-Z].*Error$/.test(name));
      // Act
      const names = classes.map(([exported, ctor]) => {
        const C = ctor as new (...args: unknown[]) => Error;
        return [exported, new C('VALIDATION', 'x').name];
      });
      // Assess
      expect(classes.length).toBe(Object.keys(errors).filter((n) => /^[A-Z].*Error$/.test(n)).length);
      expect(classes.length).toBeGreaterThan(15);
      for (const [exported, name] of names) expect(name).toBe(exported);
    });
  });
});
