/**
 * Physical names the way CloudFormation generates them for resources whose name property is
 * left out: `<stack name>-<logical id>-<random suffix>`, trimmed to the service's limit ("Name
 * type" page of the CloudFormation Template Reference). The suffix is derived from the stack
 * and logical id, so a stand-up of the same template gets the same names (reproducible logs).
 */
import { createHash } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function derived(seed: string, alphabet: string, length: number): string {
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[(bytes[i % bytes.length] ?? 0) % alphabet.length] ?? 'A';
  return out;
}

/** Options of {@link generatedName}. */
export interface NameOptions {
  /** Longest name the service accepts. */
  readonly max: number;
  /** S3 bucket names are lower case. */
  readonly lowerCase?: boolean;
}

/** `<stack>-<logicalId>-<SUFFIX>`, the stack and logical id trimmed first when over `max`. */
export function generatedName(stackName: string, logicalId: string, opts: NameOptions): string {
  const suffix = derived(`${stackName}/${logicalId}`, ALNUM, 12);
  let stack = stackName;
  let id = logicalId;
  const room = opts.max - suffix.length - 2;
  if (stack.length + id.length > room) {
    id = id.slice(0, Math.max(1, room - Math.min(stack.length, Math.floor(room / 2))));
    stack = stack.slice(0, room - id.length);
  }
  const name = `${stack}-${id}-${suffix}`;
  return opts.lowerCase === true ? name.toLowerCase() : name;
}

/** The access key pair the twin hands to processes acting as a role: `AKIA` + 16 upper-case letters. */
export function roleAccessKey(roleName: string): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: `AKIA${derived(`access:${roleName}`, UPPER, 16)}`,
    secretAccessKey: createHash('sha256').update(`secret:${roleName}`).digest('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 40),
  };
}

/** A request id / physical id suffix that is unique per call. */
export function uniqueSuffix(): string {
  return createHash('sha256').update(`${process.pid}:${process.hrtime.bigint()}:${Math.random()}`).digest('hex').slice(0, 12);
}
