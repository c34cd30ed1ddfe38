/**
 * The CloudWatch query languages the stack's alarms use, evaluated over the twin's metric data:
 * - Metrics Insights ("Metrics Insights query components and syntax",
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html):
 *   `SELECT FUNCTION(metric) FROM namespace | SCHEMA(namespace[, dims...]) [WHERE ...] [GROUP BY ...]
 *   [ORDER BY FUNCTION() [ASC|DESC]] [LIMIT n]`, FUNCTION one of AVG, COUNT, MAX, MIN, SUM, applied
 *   per period to every data point of every matching series; WHERE takes `dim = 'v'`, `dim != 'v'`,
 *   AND, OR and parentheses; SCHEMA keeps only series with exactly those dimensions.
 * - Metric math arithmetic ("Using metric math", using-metric-math.html, "Basic arithmetic functions"):
 *   `+ - * / ^`, unary minus, numbers and metric ids; "Missing values in a time series are treated
 *   as 0. If the value of a data point causes a function to attempt to divide by zero, the data
 *   point is dropped." (A period where every operand is missing stays missing.)
 */
import type { MetricDatum } from './types';

type Cond = { readonly op: 'eq' | 'ne'; readonly key: string; readonly value: string } | { readonly op: 'and' | 'or'; readonly left: Cond; readonly right: Cond };

/** A parsed Metrics Insights query. */
export interface InsightsQuery {
  readonly fn: 'AVG' | 'COUNT' | 'MAX' | 'MIN' | 'SUM';
  readonly metric: string;
  readonly namespace: string;
  /** SCHEMA(...) dimension keys: series must carry exactly these. */
  readonly schema?: readonly string[];
  readonly where?: Cond;
  readonly groupBy: readonly string[];
  readonly order?: 'ASC' | 'DESC';
  readonly limit?: number;
}

type Tok = { readonly t: 'word' | 'str' | 'qid' | 'num' | 'sym'; readonly v: string };

function tokenize(text: string, wordChars = /^[A-Za-z_][A-Za-z0-9_.\-/:]*/): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new SyntaxError('unterminated string');
        if (text[i] === c && text[i + 1] === c) {
          v += c;
          i += 2;
        } else if (text[i] === c) {
          i++;
          break;
        } else v += text[i++];
      }
      out.push({ t: c === "'" ? 'str' : 'qid', v });
    } else if (/[A-Za-z_]/.test(c)) {
      const m = wordChars.exec(text.slice(i))?.[0] ?? c;
      out.push({ t: 'word', v: m });
      i += m.length;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?/i.exec(text.slice(i))?.[0] ?? c;
      out.push({ t: 'num', v: m });
      i += m.length;
    } else if (text.startsWith('!=', i) || text.startsWith('<>', i)) {
      out.push({ t: 'sym', v: '!=' });
      i += 2;
    } else {
      out.push({ t: 'sym', v: c });
      i++;
    }
  }
  return out;
}

/** Whether an alarm Expression is a Metrics Insights query (rather than metric math). */
export function isInsightsQuery(expression: string): boolean {
  return /^\s*SELECT\s/i.test(expression);
}

/** Parses the supported Metrics Insights subset; throws SyntaxError otherwise. */
export function parseInsights(text: string): InsightsQuery {
  const toks = tokenize(text);
  let p = 0;
  const peek = (): Tok | undefined => toks[p];
  const kw = (w: string): boolean => {
    const t = peek();
    if (t?.t === 'word' && t.v.toUpperCase() === w) {
      p++;
      return true;
    }
    return false;
  };
  const expect = (v: string): void => {
    const t = toks[p++];
    if (t?.v.toUpperCase() !== v) throw new SyntaxError(`expected ${v} in ${text}`);
  };
  const name = (): string => {
    const t = toks[p++];
    if (t === undefined || (t.t !== 'word' && t.t !== 'qid')) throw new SyntaxError(`expected a name in ${text}`);
    return t.v;
  };
  if (!kw('SELECT')) throw new SyntaxError('a query starts with SELECT');
  const fn = name().toUpperCase();
  if (fn !== 'AVG' && fn !== 'COUNT' && fn !== 'MAX' && fn !== 'MIN' && fn !== 'SUM') throw new SyntaxError(`unsupported function ${fn}`);
  expect('(');
  const metric = name();
  expect(')');
  if (!kw('FROM')) throw new SyntaxError('expected FROM');
  let namespace: string;
  let schema: string[] | undefined;
  if (kw('SCHEMA')) {
    expect('(');
    namespace = name();
    schema = [];
    while (peek()?.v === ',') {
      p++;
      schema.push(name());
    }
    expect(')');
  } else namespace = name();
  const term = (): Cond => {
    if (peek()?.v === '(') {
      p++;
      const c = or();
      expect(')');
      return c;
    }
    const key = name();
    const op = toks[p++]?.v;
    const value = toks[p++];
    if ((op !== '=' && op !== '!=') || value?.t !== 'str') throw new SyntaxError(`unsupported condition on ${key}`);
    return { op: op === '=' ? 'eq' : 'ne', key, value: value.v };
  };
  const and = (): Cond => {
    let left = term();
    while (kw('AND')) left = { op: 'and', left, right: term() };
    return left;
  };
  const or = (): Cond => {
    let left = and();
    while (kw('OR')) left = { op: 'or', left, right: and() };
    return left;
  };
  const where = kw('WHERE') ? or() : undefined;
  const groupBy: string[] = [];
  if (kw('GROUP')) {
    expect('BY');
    groupBy.push(name());
    while (peek()?.v === ',') {
      p++;
      groupBy.push(name());
    }
  }
  let order: 'ASC' | 'DESC' | undefined;
  if (kw('ORDER')) {
    expect('BY');
    name();
    expect('(');
    expect(')');
    order = kw('ASC') ? 'ASC' : kw('DESC') ? 'DESC' : 'ASC';
  }
  const limit = kw('LIMIT') ? Number(toks[p++]?.v) : undefined;
  if (p !== toks.length) throw new SyntaxError(`unexpected ${toks[p]?.v ?? ''} in ${text}`);
  return { fn, metric, namespace, schema, where, groupBy, order, limit };
}

function holds(c: Cond, dims: Readonly<Record<string, string>>): boolean {
  switch (c.op) {
    case 'eq':
      return dims[c.key] === c.value;
    case 'ne':
      return dims[c.key] !== c.value;
    case 'and':
      return holds(c.left, dims) && holds(c.right, dims);
    case 'or':
      return holds(c.left, dims) || holds(c.right, dims);
  }
}

function aggregate(fn: InsightsQuery['fn'], values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (fn) {
    case 'SUM':
      return values.reduce((a, b) => a + b, 0);
    case 'AVG':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'MAX':
      return Math.max(...values);
    case 'MIN':
      return Math.min(...values);
    case 'COUNT':
      return values.length;
  }
}

/**
 * Runs a query over `data` for one period `[from, to)`: one value per group (key `''` without
 * GROUP BY; groups joined by `,` otherwise). A group or query without data points is absent.
 */
export function runInsights(q: InsightsQuery, data: readonly MetricDatum[], from: number, to: number): Map<string, number> {
  const groups = new Map<string, number[]>();
  for (const d of data) {
    if (d.namespace !== q.namespace || d.name !== q.metric || d.timestamp < from || d.timestamp >= to) continue;
    if (q.schema !== undefined) {
      const keys = Object.keys(d.dimensions);
      if (keys.length !== q.schema.length || !q.schema.every((k) => keys.includes(k))) continue;
    }
    if (q.where !== undefined && !holds(q.where, d.dimensions)) continue;
    if (q.groupBy.some((k) => d.dimensions[k] === undefined)) continue;
    const key = q.groupBy.map((k) => d.dimensions[k] ?? '').join(',');
    const list = groups.get(key) ?? [];
    list.push(d.value);
    groups.set(key, list);
  }
  let out = [...groups].flatMap(([k, vs]) => {
    const v = aggregate(q.fn, vs);
    return v === undefined ? [] : [[k, v] as [string, number]];
  });
  if (q.order !== undefined) out.sort((a, b) => (q.order === 'DESC' ? b[1] - a[1] : a[1] - b[1]));
  if (q.limit !== undefined) out = out.slice(0, q.limit);
  return new Map(out);
}

/**
 * Evaluates a metric math arithmetic expression for one period. `values` maps metric ids to the
 * period's value (`undefined` = missing). Returns `undefined` when every referenced id is missing
 * or a division by zero drops the point.
 */
export function evaluateArithmetic(expression: string, values: Readonly<Record<string, number | undefined>>): number | undefined {
  // Metric ids are letters, digits and underscores only, so `m1-m2` is a subtraction.
  const toks = tokenize(expression, /^[A-Za-z_][A-Za-z0-9_]*/);
  let p = 0;
  let sawValue = false;
  let dropped = false;
  const primary = (): number => {
    const t = toks[p++];
    if (t === undefined) throw new SyntaxError(`unexpected end of ${expression}`);
    if (t.t === 'num') return Number(t.v);
    if (t.t === 'word') {
      if (!(t.v in values)) throw new SyntaxError(`unknown id ${t.v} in ${expression}`);
      const v = values[t.v];
      if (v !== undefined) sawValue = true;
      return v ?? 0;
    }
    if (t.v === '(') {
      const v = sum();
      if (toks[p++]?.v !== ')') throw new SyntaxError(`missing ) in ${expression}`);
      return v;
    }
    if (t.v === '-') return -power();
    throw new SyntaxError(`unexpected ${t.v} in ${expression}`);
  };
  const power = (): number => {
    const base = primary();
    if (toks[p]?.v === '^') {
      p++;
      return base ** power();
    }
    return base;
  };
  const product = (): number => {
    let v = power();
    while (toks[p]?.v === '*' || toks[p]?.v === '/') {
      const op = toks[p++]?.v;
      const r = power();
      if (op === '/' && r === 0) dropped = true;
      v = op === '*' ? v * r : v / r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (toks[p]?.v === '+' || toks[p]?.v === '-') {
      const op = toks[p++]?.v;
      const r = product();
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const result = sum();
  if (p !== toks.length) throw new SyntaxError(`unexpected ${toks[p]?.v ?? ''} in ${expression}`);
  return sawValue && !dropped ? result : undefined;
}
