/**
 * Turns zod issues into one short, safe ValidationError message: paths and rule messages only,
 * never the offending values, bounded in length whatever the input (huge keys, deep garbage).
 */
import type * as z from '../../vocabulary/zod';

const MAX_ISSUES = 5;
const MAX_PART = 160;

type Issue = z.core.$ZodIssue;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function pathOf(issue: Issue): string {
  if (issue.path.length === 0) return 'event';
  return clip(issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '['), 60);
}

// A union reports one issue list per branch; the branch with the fewest issues is the one the
// caller most likely meant, and its issues read far better than "Invalid input".
function flatten(issues: readonly Issue[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && Array.isArray(issue.errors) && issue.errors.length > 0) {
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      const nested = flatten(best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as Issue));
      out.push(...(nested.length > 0 ? nested : [issue]));
    } else {
      out.push(issue);
    }
  }
  return out;
}

function describe(issue: Issue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unexpected field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.slice(0, 3).map((k) => `'${clip(k, 40)}'`).join(', ')}`;
  }
  return clip(issue.message, MAX_PART);
}

/**
 * Formats zod issues as `what: path: rule; path: rule`.
 *
 * @example
 * formatIssues('invalid event', result.error.issues); // "invalid event: keyring: must not be empty"
 */
export function formatIssues(what: string, issues: readonly Issue[]): string {
  const flat = flatten(issues);
  const parts = flat.slice(0, MAX_ISSUES).map((i) => `${pathOf(i)}: ${describe(i)}`);
  const more = flat.length > MAX_ISSUES ? `; and ${flat.length - MAX_ISSUES} more` : '';
  return `${what}: ${parts.join('; ')}${more}`;
}
