/**
 * CloudFormation intrinsic functions, resolved as CloudFormation does at deploy time. Semantics
 * from the CloudFormation Template Reference, "Intrinsic function reference" (Ref, Fn::GetAtt,
 * Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If, condition functions, Fn::GetAZs,
 * Fn::FindInMap, Fn::Base64, Fn::ImportValue) and "Pseudo parameters reference" (AWS::AccountId,
 * AWS::Region, AWS::Partition, AWS::StackName, AWS::StackId, AWS::URLSuffix, AWS::NoValue,
 * AWS::NotificationARNs).
 */
import type { CfnTemplate } from './template';

/** What the resolver needs from the stack being deployed. */
export interface IntrinsicScope {
  readonly account: string;
  readonly region: string;
  readonly partition: string;
  readonly stackName: string;
  readonly stackId: string;
  /** `Ref` of a resource (its physical id). Throws when the resource does not exist (yet). */
  ref(logicalId: string): string;
  /** `Fn::GetAtt` of a resource. Throws on an unknown attribute. */
  getAtt(logicalId: string, attribute: string): unknown;
}

/** Thrown for anything CloudFormation would reject while resolving (unknown ref, bad arguments, imports). */
export class IntrinsicError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'IntrinsicError';
  }
}

/** `AWS::NoValue`: removes the property (or list element) that holds it. */
const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

/** True when `value` (recursively) contains no intrinsic function or `Ref`. */
export function isFullyResolved(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(isFullyResolved);
  if (value === null || typeof value !== 'object') return true;
  return Object.entries(value as Record<string, unknown>).every(([k, v]) => k !== 'Ref' && k !== 'Condition' && !k.startsWith('Fn::') && isFullyResolved(v));
}

/** Resolves intrinsic functions against a template and a deployment scope. */
export class IntrinsicResolver {
  private readonly conditions = new Map<string, boolean>();

  public constructor(
    private readonly template: CfnTemplate,
    private readonly scope: IntrinsicScope,
  ) {}

  /** The template value with every intrinsic resolved and `AWS::NoValue` removed. */
  public resolve(value: unknown): unknown {
    const out = this.value(value);
    return out === NO_VALUE ? undefined : out;
  }

  /** A resolved value that must be a string. */
  public string(value: unknown, what: string): string {
    const v = this.resolve(value);
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new IntrinsicError(`${what}: expected a string, got ${JSON.stringify(v)}`);
  }

  /** Value of a named condition of the Conditions section. */
  public condition(name: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const def = this.template.Conditions?.[name];
    if (def === undefined) throw new IntrinsicError(`unknown condition ${name}`);
    const v = this.bool(def);
    this.conditions.set(name, v);
    return v;
  }

  /** Resolved value of a template parameter (its Default; SSM parameter types keep the parameter name). */
  public parameter(name: string): unknown {
    const p = this.template.Parameters?.[name];
    if (p === undefined) throw new IntrinsicError(`unknown parameter ${name}`);
    // A stand-up passes no parameter values; every parameter needs a Default, as with `cdk deploy` of this app.
    if (p.Default === undefined) throw new IntrinsicError(`parameter ${name} has no Default and the twin passes no values`);
    return p.Default;
  }

  private pseudo(name: string): unknown {
    const s = this.scope;
    switch (name) {
      case 'AWS::AccountId':
        return s.account;
      case 'AWS::Region':
        return s.region;
      case 'AWS::Partition':
        return s.partition;
      case 'AWS::StackName':
        return s.stackName;
      case 'AWS::StackId':
        return s.stackId;
      case 'AWS::URLSuffix':
        return s.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
      case 'AWS::NotificationARNs':
        return [];
      case 'AWS::NoValue':
        return NO_VALUE;
      default:
        throw new IntrinsicError(`unknown pseudo parameter ${name}`);
    }
  }

  private ref(name: string): unknown {
    if (name.startsWith('AWS::')) return this.pseudo(name);
    if (this.template.Parameters?.[name] !== undefined) return this.parameter(name);
    if (this.template.Resources[name] === undefined) throw new IntrinsicError(`Ref to unknown resource or parameter ${name}`);
    return this.scope.ref(name);
  }

  private value(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.value(x)).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1) {
      const k = keys[0] ?? '';
      if (k === 'Ref' || k.startsWith('Fn::')) return this.intrinsic(k, obj[k]);
      if (k === 'Condition' && typeof obj[k] === 'string' && this.template.Conditions?.[obj[k]] !== undefined) return this.condition(obj[k]);
    }
    const out: Record<string, unknown> = {};
    for (const [key, val] of Object.entries(obj)) {
      const r = this.value(val);
      if (r !== NO_VALUE) out[key] = r;
    }
    return out;
  }

  private list(v: unknown, fn: string): unknown[] {
    const r = this.value(v);
    if (!Array.isArray(r)) throw new IntrinsicError(`${fn}: expected a list, got ${JSON.stringify(r)}`);
    return r;
  }

  private str(v: unknown, fn: string): string {
    const r = this.value(v);
    if (typeof r === 'string') return r;
    if (typeof r === 'number' || typeof r === 'boolean') return String(r);
    throw new IntrinsicError(`${fn}: expected a string, got ${JSON.stringify(r)}`);
  }

  private args(arg: unknown, fn: string, n: number): unknown[] {
    if (!Array.isArray(arg) || arg.length < n) throw new IntrinsicError(`${fn} takes a list of ${n}, got ${JSON.stringify(arg)}`);
    return arg;
  }

  private intrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        return this.ref(this.str(arg, fn));
      case 'Fn::GetAtt': {
        const parts = typeof arg === 'string' ? [arg.slice(0, arg.indexOf('.')), arg.slice(arg.indexOf('.') + 1)] : this.args(arg, fn, 2);
        const id = this.str(parts[0], fn);
        if (this.template.Resources[id] === undefined) throw new IntrinsicError(`Fn::GetAtt of unknown resource ${id}`);
        return this.scope.getAtt(id, this.str(parts[1], fn));
      }
      case 'Fn::Join': {
        const [sep, items] = this.args(arg, fn, 2);
        return this.list(items, fn).map((x) => this.str(x, fn)).join(this.str(sep, fn));
      }
      case 'Fn::Sub':
        return this.sub(arg);
      case 'Fn::Select': {
        const [index, items] = this.args(arg, fn, 2);
        const list = this.list(items, fn);
        const i = Number(this.value(index));
        if (!Number.isInteger(i) || i < 0 || i >= list.length) throw new IntrinsicError(`Fn::Select index ${i} out of range (${list.length} items)`);
        return list[i];
      }
      case 'Fn::Split': {
        const [sep, text] = this.args(arg, fn, 2);
        return this.str(text, fn).split(this.str(sep, fn));
      }
      case 'Fn::If': {
        const [cond, yes, no] = this.args(arg, fn, 3);
        return this.condition(this.str(cond, fn)) ? this.value(yes) : this.value(no);
      }
      case 'Fn::Equals':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Fn::Not':
        return this.bool({ [fn]: arg });
      case 'Fn::GetAZs': {
        const region = this.str(arg, fn) || this.scope.region;
        return ['a', 'b', 'c'].map((z) => `${region}${z}`);
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = this.args(arg, fn, 3);
        const v = this.template.Mappings?.[this.str(map, fn)]?.[this.str(top, fn)]?.[this.str(second, fn)];
        if (v === undefined) throw new IntrinsicError(`Fn::FindInMap: no ${JSON.stringify(arg)}`);
        return v;
      }
      case 'Fn::Base64':
        return Buffer.from(this.str(arg, fn), 'utf8').toString('base64');
      case 'Fn::ToJsonString':
        return JSON.stringify(this.value(arg));
      case 'Fn::ImportValue':
        throw new IntrinsicError(`Fn::ImportValue ${JSON.stringify(arg)}: the twin stands up one stack and has no exports to import`);
      default:
        throw new IntrinsicError(`unsupported intrinsic function ${fn}`);
    }
  }

  /** Both forms: `"text"` and `["text", { var: value }]`; `${!Literal}` stays `${Literal}`. */
  private sub(arg: unknown): string {
    const [text, vars] = Array.isArray(arg) ? [arg[0], (arg[1] ?? {}) as Record<string, unknown>] : [arg, {}];
    if (typeof text !== 'string') throw new IntrinsicError(`Fn::Sub: expected a string, got ${JSON.stringify(text)}`);
    return text.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (name in vars) return this.str(vars[name], 'Fn::Sub');
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::')) return this.str({ 'Fn::GetAtt': [name.slice(0, dot), name.slice(dot + 1)] }, 'Fn::Sub');
      return this.str({ Ref: name }, 'Fn::Sub');
    });
  }

  private bool(v: unknown): boolean {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    if (v === null || typeof v !== 'object') throw new IntrinsicError(`expected a condition, got ${JSON.stringify(v)}`);
    const obj = v as Record<string, unknown>;
    if (typeof obj['Condition'] === 'string') return this.condition(obj['Condition']);
    const [fn, arg] = Object.entries(obj)[0] ?? ['', undefined];
    switch (fn) {
      case 'Fn::Equals': {
        const [a, b] = this.args(arg, fn, 2);
        const [x, y] = [this.value(a), this.value(b)];
        // CloudFormation compares scalars by their string form ("1" equals 1); structures by value.
        const scalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
        return scalar(x) && scalar(y) ? String(x) === String(y) : JSON.stringify(x) === JSON.stringify(y);
      }
      case 'Fn::And':
        return this.args(arg, fn, 2).every((c) => this.bool(c));
      case 'Fn::Or':
        return this.args(arg, fn, 2).some((c) => this.bool(c));
      case 'Fn::Not':
        return !this.bool(this.args(arg, fn, 1)[0]);
      case 'Fn::If':
        return this.bool(this.value(obj));
      default:
        throw new IntrinsicError(`expected a condition function, got ${JSON.stringify(v)}`);
    }
  }
}
