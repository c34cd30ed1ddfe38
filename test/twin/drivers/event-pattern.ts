/**
 * EventBridge event-pattern matching (content filtering), as the EventBridge User Guide documents it:
 * - "Creating event patterns" / "Arrays in event patterns" (eb-event-patterns.html, eb-event-patterns-arrays.html):
 *   every leaf of a pattern is an array of alternatives (OR); fields AND together; nested objects
 *   match nested event objects; when the event value is an array the pattern matches if any element
 *   matches ("the intersection ... is non-empty").
 * - "Comparison operators for use in event patterns" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
 *   prefix, suffix, anything-but (values, lists, prefix, suffix, equals-ignore-case, wildcard),
 *   numeric, cidr, exists, equals-ignore-case, wildcard, $or.
 * - "Content filtering": exists matching only works on leaf nodes (an object is not a leaf), numeric
 *   matching works on JSON numbers only.
 */

/** A parsed event pattern. */
export type EventPattern = Readonly<Record<string, unknown>>;

const ABSENT = Symbol('absent');
type Leaf = unknown | typeof ABSENT;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `event` (an envelope or any JSON object) matches `pattern`. */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  return matchObject(pattern, isObject(event) ? event : undefined);
}

function matchObject(pattern: Readonly<Record<string, unknown>>, node: Record<string, unknown> | undefined): boolean {
  for (const [key, rule] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(rule) || !rule.some((p) => isObject(p) && matchObject(p, node))) return false;
      continue;
    }
    const value: Leaf = node !== undefined && Object.prototype.hasOwnProperty.call(node, key) ? node[key] : ABSENT;
    if (isObject(rule)) {
      // An array of objects in the event (a CloudTrail record's `resources`) matches a nested
      // pattern when any element does: EventBridge flattens arrays in the event before matching
      // ("Arrays in event patterns": the intersection of pattern and event values is non-empty).
      const nested = Array.isArray(value) ? value.some((v) => isObject(v) && matchObject(rule, v)) : matchObject(rule, isObject(value) ? value : undefined);
      if (!nested) return false;
    } else if (Array.isArray(rule)) {
      if (!matchLeaf(rule, value)) return false;
    } else {
      return false;
    }
  }
  return true;
}

function matchLeaf(alternatives: readonly unknown[], value: Leaf): boolean {
  // An object in the event at a pattern leaf is not a leaf: for exists it counts as absent.
  const leaf: Leaf = isObject(value) ? ABSENT : value;
  const values: readonly unknown[] = leaf === ABSENT ? [] : Array.isArray(leaf) ? leaf : [leaf];
  return alternatives.some((alt) => {
    if (isObject(alt)) {
      if ('exists' in alt) return alt.exists === (leaf !== ABSENT);
      if (leaf === ABSENT) return false;
      return values.some((v) => matchOperator(alt, v));
    }
    return values.some((v) => v === alt || (typeof v === 'number' && typeof alt === 'number' && v === alt));
  });
}

function wildcardRegex(pattern: string, flags = ''): RegExp {
  // `*` matches any run of characters; `\*` is a literal star (eb-create-pattern-operators, "Wildcard matching").
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '\\' && pattern[i + 1] === '*') {
      src += '\\*';
      i++;
    } else if (c === '*') src += '.*';
    else src += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, `s${flags}`);
}

function stringOp(name: string, arg: unknown, v: string): boolean {
  if (name === 'prefix') {
    if (isObject(arg) && typeof arg['equals-ignore-case'] === 'string') return v.toLowerCase().startsWith(arg['equals-ignore-case'].toLowerCase());
    return typeof arg === 'string' && v.startsWith(arg);
  }
  if (name === 'suffix') {
    if (isObject(arg) && typeof arg['equals-ignore-case'] === 'string') return v.toLowerCase().endsWith(arg['equals-ignore-case'].toLowerCase());
    return typeof arg === 'string' && v.endsWith(arg);
  }
  if (name === 'equals-ignore-case') {
    const list = Array.isArray(arg) ? arg : [arg];
    return list.some((a) => typeof a === 'string' && a.toLowerCase() === v.toLowerCase());
  }
  if (name === 'wildcard') {
    const list = Array.isArray(arg) ? arg : [arg];
    return list.some((a) => typeof a === 'string' && wildcardRegex(a).test(v));
  }
  return false;
}

function numericOp(spec: unknown, v: number): boolean {
  if (!Array.isArray(spec) || spec.length === 0 || spec.length % 2 !== 0) return false;
  for (let i = 0; i < spec.length; i += 2) {
    const op = spec[i];
    const bound = spec[i + 1];
    if (typeof bound !== 'number') return false;
    const ok = op === '<' ? v < bound : op === '<=' ? v <= bound : op === '=' ? v === bound : op === '>=' ? v >= bound : op === '>' ? v > bound : false;
    if (!ok) return false;
  }
  return true;
}

function ipv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function cidrOp(spec: unknown, v: string): boolean {
  if (typeof spec !== 'string') return false;
  const [base, bitsText] = spec.split('/');
  const bits = Number(bitsText);
  const b = ipv4(base ?? '');
  const x = ipv4(v);
  if (b === undefined || x === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(b / size) === Math.floor(x / size);
}

function matchOperator(op: Readonly<Record<string, unknown>>, v: unknown): boolean {
  const [name, arg] = Object.entries(op)[0] ?? [];
  if (name === undefined) return false;
  if (name === 'numeric') return typeof v === 'number' && numericOp(arg, v);
  if (name === 'cidr') return typeof v === 'string' && cidrOp(arg, v);
  if (name === 'anything-but') {
    if (isObject(arg)) {
      const [inner, innerArg] = Object.entries(arg)[0] ?? [];
      return typeof v === 'string' && inner !== undefined && !stringOp(inner, innerArg, v);
    }
    const list = Array.isArray(arg) ? arg : [arg];
    return !list.some((a) => a === v);
  }
  return typeof v === 'string' && stringOp(name, arg, v);
}
