/**
 * JSONPath input/output processing of the Amazon States Language: Paths and Reference Paths,
 * payload templates (`"key.$": "$.path"`), the context object (`$$.`), intrinsic functions, and
 * the InputPath → Parameters → ResultSelector → ResultPath → OutputPath pipeline, per
 * https://states-language.net/spec.html ("Paths", "Payload Template", "Intrinsic Functions",
 * "Input and Output Processing") and "Processing input and output in Step Functions"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html).
 */
import { randomUUID } from 'node:crypto';
import { StatesError } from './errors';

type Segment = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'wildcard' };

/** Parses `$.a.b[0]['c'][*]` into segments (the subset of JSONPath the spec's Paths use here). */
function parsePath(path: string): { root: '$' | '$$'; segments: Segment[] } {
  const root = path.startsWith('$$') ? '$$' : path.startsWith('$') ? '$' : undefined;
  if (root === undefined) throw new StatesError('States.Runtime', `Invalid path '${path}': a path starts with '$'`);
  const segments: Segment[] = [];
  const re = /\.([A-Za-z0-9_\-@:]+)|\.\*|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]|\[\*\]/gy;
  re.lastIndex = root.length;
  while (re.lastIndex < path.length) {
    const m = re.exec(path);
    if (m === null) throw new StatesError('States.Runtime', `Unsupported JSONPath '${path}'`);
    if (m[1] !== undefined) segments.push({ kind: 'field', name: m[1] });
    else if (m[2] !== undefined) segments.push({ kind: 'index', index: Number(m[2]) });
    else if (m[3] !== undefined) segments.push({ kind: 'field', name: m[3] });
    else if (m[4] !== undefined) segments.push({ kind: 'field', name: m[4] });
    else segments.push({ kind: 'wildcard' });
  }
  return { root, segments };
}

const MISSING = Symbol('missing');

function walk(value: unknown, segments: readonly Segment[]): unknown {
  let current: unknown[] = [value];
  let multi = false;
  for (const seg of segments) {
    const next: unknown[] = [];
    for (const v of current) {
      if (seg.kind === 'field') {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, seg.name)) next.push((v as Record<string, unknown>)[seg.name]);
      } else if (seg.kind === 'index') {
        if (Array.isArray(v) && seg.index < v.length) next.push(v[seg.index]);
      } else if (v !== null && typeof v === 'object') {
        multi = true;
        next.push(...(Array.isArray(v) ? v : Object.values(v)));
      }
    }
    current = next;
  }
  if (multi) return current;
  return current.length === 0 ? MISSING : current[0];
}

/** Whether `path` selects something in `input` (Choice `IsPresent`). */
export function pathExists(path: string, input: unknown, context: unknown = {}): boolean {
  const { root, segments } = parsePath(path);
  return walk(root === '$$' ? context : input, segments) !== MISSING;
}

/** Evaluates a Path against the input (or `$$.` against the context object); a miss is States.Runtime. */
export function readPath(path: string, input: unknown, context: unknown = {}): unknown {
  const { root, segments } = parsePath(path);
  const value = walk(root === '$$' ? context : input, segments);
  if (value === MISSING) throw new StatesError('States.Runtime', `Invalid path '${path}' : No results for path: $['${segments.map((s) => ('name' in s ? s.name : 'index' in s ? s.index : '*')).join("']['")}']`);
  return value;
}

function splitArgs(body: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && quoted) { i++; continue; }
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === ',') { args.push(body.slice(start, i).trim()); start = i + 1; }
  }
  if (body.trim() !== '') args.push(body.slice(start).trim());
  return args;
}

function evalArg(arg: string, input: unknown, context: unknown): unknown {
  if (arg.startsWith("'")) return arg.slice(1, -1).replace(/\\(.)/g, '$1');
  if (arg.startsWith('$')) return readPath(arg, input, context);
  if (arg.startsWith('States.')) return evalIntrinsic(arg, input, context);
  if (arg === 'null') return null;
  if (arg === 'true' || arg === 'false') return arg === 'true';
  const n = Number(arg);
  if (!Number.isNaN(n)) return n;
  throw new StatesError('States.Runtime', `Unsupported intrinsic argument ${arg}`);
}

/** Evaluates an intrinsic function call (`States.Format('{}', $.x)`, ...), the subset the spec defines most used. */
export function evalIntrinsic(expr: string, input: unknown, context: unknown): unknown {
  const m = /^(States\.[A-Za-z]+)\(([\s\S]*)\)$/.exec(expr.trim());
  if (m === null) throw new StatesError('States.Runtime', `Not an intrinsic function: ${expr}`);
  const name = m[1];
  const args = splitArgs(m[2] ?? '').map((a) => evalArg(a, input, context));
  switch (name) {
    case 'States.Format': {
      const [template, ...values] = args;
      let i = 0;
      return String(template).replace(/\{\}/g, () => { const v = values[i++]; return typeof v === 'string' ? v : JSON.stringify(v); });
    }
    case 'States.StringToJson': return JSON.parse(String(args[0]));
    case 'States.JsonToString': return JSON.stringify(args[0]);
    case 'States.Array': return args;
    case 'States.ArrayLength': return (args[0] as unknown[]).length;
    case 'States.MathAdd': return Number(args[0]) + Number(args[1]);
    case 'States.UUID': return randomUUID();
    case 'States.JsonMerge': return { ...(args[0] as object), ...(args[1] as object) };
    default: throw new StatesError('States.Runtime', `Unsupported intrinsic function ${name}`);
  }
}

/** Applies a payload template (Parameters, ItemSelector, ResultSelector, BatchInput). */
export function applyTemplate(template: unknown, input: unknown, context: unknown): unknown {
  if (Array.isArray(template)) return template.map((t) => applyTemplate(t, input, context));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template as Record<string, unknown>)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      out[key.slice(0, -2)] = value.startsWith('States.') ? evalIntrinsic(value, input, context) : readPath(value, input, context);
    } else {
      out[key] = applyTemplate(value, input, context);
    }
  }
  return out;
}

/** InputPath / OutputPath: `null` gives `{}`, absent gives the value unchanged. */
export function filterPath(path: string | null | undefined, value: unknown, context: unknown): unknown {
  if (path === undefined) return value;
  if (path === null) return {};
  return readPath(path, value, context);
}

/** ResultPath: where the state's result goes in its raw input. */
export function applyResultPath(resultPath: string | null | undefined, rawInput: unknown, result: unknown): unknown {
  if (resultPath === null) return rawInput;
  if (resultPath === undefined || resultPath === '$') return result;
  const { root, segments } = parsePath(resultPath);
  if (root !== '$' || segments.some((s) => s.kind !== 'field')) throw new StatesError('States.Runtime', `ResultPath must be a Reference Path: ${resultPath}`);
  const copy: unknown = structuredClone(rawInput);
  if (copy === null || typeof copy !== 'object' || Array.isArray(copy)) throw new StatesError('States.ResultPathMatchFailure', `Unable to apply ResultPath ${resultPath} to a non-object input`);
  let target = copy as Record<string, unknown>;
  const names = segments.map((s) => (s as { name: string }).name);
  for (const name of names.slice(0, -1)) {
    const next = target[name];
    if (next === undefined) target[name] = {};
    else if (next === null || typeof next !== 'object' || Array.isArray(next)) throw new StatesError('States.ResultPathMatchFailure', `Unable to apply ResultPath ${resultPath}: ${name} is not an object`);
    target = target[name] as Record<string, unknown>;
  }
  target[names[names.length - 1] ?? ''] = result;
  return copy;
}
