/**
 * The CloudFormation template shape the twin reads, and the dependency order of its resources:
 * explicit `DependsOn` plus every implicit one (`Ref`, `Fn::GetAtt`, `${X}` / `${X.Attr}` in
 * `Fn::Sub`), as CloudFormation orders a stack operation ("DependsOn attribute" and
 * "Fn::GetAtt" / "Ref" pages of the CloudFormation Template Reference).
 */

/** One resource of a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
  readonly Condition?: string;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Metadata?: Record<string, unknown>;
}

/** One template parameter. */
export interface CfnParameter {
  readonly Type: string;
  readonly Default?: unknown;
  readonly Description?: string;
}

/** One stack output. */
export interface CfnOutput {
  readonly Value: unknown;
  readonly Description?: string;
  readonly Condition?: string;
  readonly Export?: { readonly Name: unknown };
}

/** A synthesized CloudFormation template (the sections the twin uses). */
export interface CfnTemplate {
  readonly Description?: string;
  readonly Parameters?: Record<string, CfnParameter>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly Conditions?: Record<string, unknown>;
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, CfnOutput>;
  readonly Rules?: Record<string, unknown>;
}

const PSEUDO_PREFIX = 'AWS::';

/** Logical ids of resources referenced anywhere inside `value` (parameters and pseudo parameters excluded). */
export function referencedResources(value: unknown, resources: Readonly<Record<string, unknown>>, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) referencedResources(v, resources, into);
    return into;
  }
  if (value === null || typeof value !== 'object') return into;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const ref = obj['Ref'];
    if (typeof ref === 'string' && !ref.startsWith(PSEUDO_PREFIX) && ref in resources) into.add(ref);
    const att = obj['Fn::GetAtt'];
    if (att !== undefined) {
      const target = Array.isArray(att) ? att[0] : typeof att === 'string' ? att.split('.')[0] : undefined;
      if (typeof target === 'string' && target in resources) into.add(target);
    }
    const sub = obj['Fn::Sub'];
    if (sub !== undefined) {
      const text = Array.isArray(sub) ? sub[0] : sub;
      const vars = Array.isArray(sub) && sub[1] !== null && typeof sub[1] === 'object' ? (sub[1] as Record<string, unknown>) : {};
      if (typeof text === 'string') {
        for (const m of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const name = (m[1] ?? '').split('.')[0] ?? '';
          if (!(name in vars) && name in resources) into.add(name);
        }
      }
    }
  }
  for (const v of Object.values(obj)) referencedResources(v, resources, into);
  return into;
}

/** Every resource `logicalId` depends on (explicitly or by reference). */
export function dependenciesOf(template: CfnTemplate, logicalId: string): Set<string> {
  const r = template.Resources[logicalId];
  if (r === undefined) throw new Error(`no resource ${logicalId} in the template`);
  const deps = referencedResources(r.Properties ?? {}, template.Resources);
  const explicit = r.DependsOn === undefined ? [] : typeof r.DependsOn === 'string' ? [r.DependsOn] : r.DependsOn;
  for (const d of explicit) {
    if (!(d in template.Resources)) throw new Error(`${logicalId} DependsOn unknown resource ${d}`);
    deps.add(d);
  }
  deps.delete(logicalId);
  return deps;
}

/**
 * Logical ids in an order where every resource comes after all it depends on (Kahn's algorithm,
 * ties broken by template order so runs are reproducible). A cycle fails, as CloudFormation's
 * "Circular dependency between resources" validation does.
 */
export function topologicalOrder(template: CfnTemplate): string[] {
  const ids = Object.keys(template.Resources);
  const deps = new Map(ids.map((id) => [id, dependenciesOf(template, id)]));
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < ids.length) {
    const ready = ids.filter((id) => !done.has(id) && [...(deps.get(id) ?? [])].every((d) => done.has(d)));
    if (ready.length === 0) {
      const stuck = ids.filter((id) => !done.has(id));
      throw new Error(`Circular dependency between resources: ${stuck.join(', ')}`);
    }
    for (const id of ready) {
      done.add(id);
      order.push(id);
    }
  }
  return order;
}
