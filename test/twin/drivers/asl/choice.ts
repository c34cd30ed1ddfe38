/**
 * Choice Rules of the Amazon States Language ("Choice Rules" in https://states-language.net/spec.html;
 * "Choice workflow state", https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html):
 * Boolean expressions (And/Or/Not) and data-test expressions with the comparison operators,
 * including the `...Path` variants and the type tests (IsPresent, IsNull, IsString, ...).
 */
import { StatesError } from './errors';
import { pathExists, readPath } from './json-path';

type Rule = Readonly<Record<string, unknown>>;

function globMatch(value: string, pattern: string): boolean {
  // StringMatches: `*` is the only wildcard; `\*` and `\\` escape.
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '\\' && i + 1 < pattern.length) { re += (pattern[++i] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); continue; }
    re += c === '*' ? '.*' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(value);
}

const isTimestamp = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v);

function compare(op: string, value: unknown, expected: unknown): boolean {
  const family = /^(String|Numeric|Boolean|Timestamp)/.exec(op)?.[1];
  const relation = op.replace(/^(String|Numeric|Boolean|Timestamp)/, '');
  if (family === 'String') {
    if (typeof value !== 'string') return false;
    if (relation === 'Matches') return globMatch(value, String(expected));
    return rel(relation, value.localeCompare(String(expected), 'en', { sensitivity: 'variant' }) === 0 ? 0 : value < String(expected) ? -1 : 1);
  }
  if (family === 'Numeric') return typeof value === 'number' && rel(relation, Math.sign(value - Number(expected)));
  if (family === 'Boolean') return typeof value === 'boolean' && value === expected;
  if (family === 'Timestamp') return isTimestamp(value) && rel(relation, Math.sign(Date.parse(value) - Date.parse(String(expected))));
  throw new StatesError('States.Runtime', `Unknown comparison operator ${op}`);
}

function rel(relation: string, sign: number): boolean {
  switch (relation) {
    case 'Equals': return sign === 0;
    case 'LessThan': return sign < 0;
    case 'GreaterThan': return sign > 0;
    case 'LessThanEquals': return sign <= 0;
    case 'GreaterThanEquals': return sign >= 0;
    default: throw new StatesError('States.Runtime', `Unknown comparison ${relation}`);
  }
}

const TYPE_TESTS: Record<string, (v: unknown) => boolean> = {
  IsNull: (v) => v === null,
  IsString: (v) => typeof v === 'string',
  IsNumeric: (v) => typeof v === 'number',
  IsBoolean: (v) => typeof v === 'boolean',
  IsTimestamp: isTimestamp,
};

/** Evaluates one Choice Rule (top-level or nested) against the state's effective input. */
export function evaluateRule(rule: Rule, input: unknown, context: unknown): boolean {
  if (Array.isArray(rule.And)) return (rule.And as Rule[]).every((r) => evaluateRule(r, input, context));
  if (Array.isArray(rule.Or)) return (rule.Or as Rule[]).some((r) => evaluateRule(r, input, context));
  if (rule.Not !== undefined) return !evaluateRule(rule.Not as Rule, input, context);
  const variable = rule.Variable;
  if (typeof variable !== 'string') throw new StatesError('States.Runtime', 'A data-test expression needs a Variable');
  const present = pathExists(variable, input, context);
  if (rule.IsPresent !== undefined) return present === rule.IsPresent;
  for (const [op, test] of Object.entries(TYPE_TESTS)) {
    if (rule[op] !== undefined) return present && test(readPath(variable, input, context)) === rule[op];
  }
  const op = Object.keys(rule).find((k) => /^(String|Numeric|Boolean|Timestamp)/.test(k));
  if (op === undefined) throw new StatesError('States.Runtime', `No comparison operator in ${JSON.stringify(rule)}`);
  // A Variable that selects nothing is a runtime error unless the rule tests presence.
  const value = readPath(variable, input, context);
  const expected = op.endsWith('Path') ? readPath(String(rule[op]), input, context) : rule[op];
  return compare(op.replace(/Path$/, ''), value, expected);
}

/** The Next of the first matching Choice, else Default, else States.NoChoiceMatched. */
export function chooseNext(state: Rule, input: unknown, context: unknown): string {
  for (const choice of (state.Choices as Rule[] | undefined) ?? []) {
    if (evaluateRule(choice, input, context)) return String(choice.Next);
  }
  if (typeof state.Default === 'string') return state.Default;
  throw new StatesError('States.NoChoiceMatched', 'No Choice Rule matched and no Default is set');
}
