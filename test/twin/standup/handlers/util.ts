/**
 * Small helpers of the resource handlers: typed reads of resolved properties and the ARN
 * formats of the services (each service's "Actions, resources, and condition keys" page of the
 * Service Authorization Reference gives the resource ARN format).
 */
import type { PolicyDocument } from '../../world';
import type { HandlerContext } from '../types';

/** A string property, or undefined. */
export function optString(props: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const v = props[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`property ${key}: expected a string, got ${JSON.stringify(v)}`);
}

/** A required string property. */
export function reqString(ctx: HandlerContext, key: string): string {
  const v = optString(ctx.properties, key);
  if (v === undefined) throw new Error(`${ctx.type} ${ctx.logicalId}: property ${key} is required`);
  return v;
}

/** A number property (CloudFormation accepts numbers as strings too), or undefined. */
export function optNumber(props: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const v = props[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new Error(`property ${key}: expected a number, got ${JSON.stringify(v)}`);
  return n;
}

/** An object property, or undefined. */
export function optObject(props: Readonly<Record<string, unknown>>, key: string): Record<string, unknown> | undefined {
  const v = props[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`property ${key}: expected an object, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

/** A list property (empty when absent). */
export function optList(props: Readonly<Record<string, unknown>>, key: string): unknown[] {
  const v = props[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error(`property ${key}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}

/** A policy document property: an object, or a JSON string of one. */
export function policyDocument(value: unknown, what: string): PolicyDocument {
  const doc = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (doc === null || typeof doc !== 'object' || !('Statement' in doc)) throw new Error(`${what}: not a policy document: ${JSON.stringify(value)}`);
  const statement = (doc as { Statement: unknown }).Statement;
  return { ...(doc as PolicyDocument), Statement: Array.isArray(statement) ? statement : [statement as Record<string, unknown>] };
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>`. */
export function arnOf(ctx: HandlerContext, service: string, resource: string, opts: { region?: string; account?: string } = {}): string {
  const w = ctx.world;
  return `arn:${w.partition}:${service}:${opts.region ?? w.region}:${opts.account ?? w.account}:${resource}`;
}

/** The last segment of a name-or-ARN (`function:NAME`, `event-bus/NAME`, `role/path/NAME`). */
export function nameFromArn(nameOrArn: string): string {
  if (!nameOrArn.startsWith('arn:')) return nameOrArn;
  const resource = nameOrArn.split(':').slice(5).join(':');
  const parts = resource.split(/[/:]/);
  return parts[parts.length - 1] ?? resource;
}

/** Stable JSON (sorted keys), to compare resolved property sets. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
