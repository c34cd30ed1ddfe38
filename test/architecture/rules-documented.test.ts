/** docs/architecture.md lists exactly the rules .dependency-cruiser.cjs enforces, each with what it forbids. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface RuleConfig {
  readonly forbidden: readonly { readonly name: string; readonly comment?: string }[];
}

const REPO = join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the checker's config is CommonJS, read as the checker reads it
const config = require(join(REPO, '.dependency-cruiser.cjs')) as RuleConfig;

/** The rule names of the table under "Rules the checker enforces". */
function documentedRules(markdown: string): string[] {
  const section = markdown.split(/^### Rules the checker enforces$/m)[1]?.split(/^#{2,3} /m)[0] ?? '';
  return [...section.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]!);
}

describe('docs/architecture.md', () => {
  it('lists every rule of the boundary checker, once, and no other', () => {
    // Prepare
    const doc = readFileSync(join(REPO, 'docs', 'architecture.md'), 'utf8');
    // Act
    const documented = documentedRules(doc);
    // Assess
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual(config.forbidden.map((r) => r.name).sort());
  });

  it('is backed by a config whose every rule says why in a comment', () => {
    // Assess
    for (const rule of config.forbidden) expect({ rule: rule.name, hasComment: (rule.comment ?? '').length > 20 }).toEqual({ rule: rule.name, hasComment: true });
  });
});
