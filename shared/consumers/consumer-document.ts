/**
 * The consumer registry's document, one per keyring: which application roles read (or also
 * write) the keyring's data without being declared in the stack's props. Validated with zod
 * (./../vocabulary/zod) both when written (the CLI) and when read (key-access), so a document
 * edited by hand can never slip a malformed or wildcard principal into a KMS grant.
 *
 * A principal is an IAM role ARN without wildcards. Whether its account lies inside the bound the
 * key policies were deployed with is a separate check ({@link isInsideBound}), because the
 * writer (the CLI) and the reader (key-access) learn the bound from different places.
 */
import { BackendError, RekeyError, ValidationError } from '../errors';
import { keyringName } from '../vocabulary/names';
import * as z from '../vocabulary/zod';

/** Most consumers one keyring's document holds (each becomes one grant per readable version). */
export const MAX_CONSUMERS_PER_KEYRING = 1000;

/** Largest registry document read back: 1,000 entries of at most ~1.8 KB each, with room. */
export const MAX_REGISTRY_DOCUMENT_BYTES = 2 * 1024 * 1024;

/** What a consumer may do: decrypt only, or also encrypt new data. */
export type ConsumerAccess = 'decrypt' | 'encrypt-decrypt';

/** One registered consumer. */
export interface Consumer {
  /** IAM role ARN, `arn:<partition>:iam::<account>:role/<path/name>`. */
  readonly principalArn: string;
  readonly access: ConsumerAccess;
  /** ISO-8601 time of the registration (or of the last change of its access). */
  readonly addedAt: string;
  /** Who registered it: the operator's principal ARN or `cli:<user>`. */
  readonly addedBy: string;
}

/** A keyring's registry document. */
export interface ConsumerDocument {
  readonly schema: 1;
  readonly keyring: string;
  readonly consumers: readonly Consumer[];
}

/**
 * An IAM role ARN: partition, empty region, 12-digit account, `role/`, an optional path and a
 * name of at most 64 characters ("IAM identifiers", IAM User Guide: role names `[\w+=,.@-]`,
 * paths `/.../`). `*` and `?` are not allowed anywhere: a grantee is one principal, never a pattern.
 */
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

/** Longest role ARN accepted (a 512-character path, a 64-character name and the prefix). */
const ROLE_ARN_MAX = 640;

/**
 * True when `value` is an IAM role ARN rekey accepts as a consumer.
 *
 * @example
 * isRoleArn('arn:aws:iam::111122223333:role/orders'); // true
 * isRoleArn('arn:aws:iam::111122223333:user/alice'); // false
 */
export function isRoleArn(value: unknown): value is string {
  return typeof value === 'string' && value.length <= ROLE_ARN_MAX && ROLE_ARN.test(value);
}

/**
 * The account of a role ARN (undefined when `arn` is not one).
 *
 * @example
 * roleAccount('arn:aws:iam::111122223333:role/app/orders'); // '111122223333'
 */
export function roleAccount(arn: string): string | undefined {
  return isRoleArn(arn) ? ROLE_ARN.exec(arn)?.[2] : undefined;
}

/**
 * True when `arn` is a role ARN of one of `accounts`.
 *
 * @example
 * isInsideBound('arn:aws:iam::111122223333:role/orders', ['111122223333']); // true
 */
export function isInsideBound(arn: string, accounts: readonly string[]): boolean {
  const account = roleAccount(arn);
  return account !== undefined && accounts.includes(account);
}

const principalArn = /* @__PURE__ */ z.lazy(() =>
  z.string().check(z.refine(isRoleArn, 'must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<path/name>) without wildcards')),
);

const consumerSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    principalArn,
    access: z.enum(['decrypt', 'encrypt-decrypt'], "must be 'decrypt' or 'encrypt-decrypt'"),
    addedAt: z.iso.datetime({ message: 'must be an ISO 8601 UTC time' }),
    addedBy: z.string().check(z.minLength(1), z.maxLength(1024), z.regex(/^[\x21-\x7e]+$/, 'must be printable characters without spaces')),
  }),
);

const documentSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      schema: z.literal(1, 'must be 1'),
      keyring: keyringName,
      consumers: z.array(consumerSchema).check(z.maxLength(MAX_CONSUMERS_PER_KEYRING, `must hold at most ${MAX_CONSUMERS_PER_KEYRING} consumers`)),
    })
    .check(
      z.superRefine((d, ctx) => {
        const seen = new Set<string>();
        d.consumers.forEach((c, i) => {
          if (seen.has(c.principalArn)) ctx.addIssue({ code: 'custom', message: 'is listed twice', path: ['consumers', i, 'principalArn'] });
          seen.add(c.principalArn);
        });
      }),
    ),
);

/** The first issue of a failed parse as `path: message` (never the offending value). */
function firstIssue(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  const path = issue.path.map(String).join('.');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

/**
 * Validates a registry document (from a caller or freshly parsed JSON).
 *
 * @throws ValidationError naming the first problem.
 * @example
 * parseConsumerDocument({ schema: 1, keyring: 'pii', consumers: [] }); // { schema: 1, keyring: 'pii', consumers: [] }
 */
export function parseConsumerDocument(value: unknown): ConsumerDocument {
  const parsed = z.safeParse(documentSchema, value);
  if (!parsed.success) throw new ValidationError(`invalid consumer registry document: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

/**
 * Decodes a stored document's text; a store calls it on every read.
 *
 * @throws BackendError (not retryable) when the text is not JSON, not a valid document, or names another keyring.
 * @example
 * decodeConsumerDocument('pii', '{"schema":1,"keyring":"pii","consumers":[]}').consumers; // []
 */
export function decodeConsumerDocument(keyring: string, text: string): ConsumerDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackendError(`consumer registry of keyring '${keyring}' is corrupt: not JSON`, { retryable: false });
  }
  let document: ConsumerDocument;
  try {
    document = parseConsumerDocument(json);
  } catch (err) {
    throw new BackendError(`consumer registry of keyring '${keyring}' is corrupt: ${err instanceof RekeyError ? err.message : 'invalid'}`, { retryable: false });
  }
  if (document.keyring !== keyring) throw new BackendError(`consumer registry stored for keyring '${keyring}' names another keyring`, { retryable: false });
  return document;
}

/**
 * Validates a role ARN a caller wants to register, and its account against `accounts` when a
 * bound is known.
 *
 * @throws ValidationError when it is no role ARN or lies outside the bound.
 * @example
 * assertConsumerPrincipal('arn:aws:iam::111122223333:role/orders', ['111122223333']);
 */
export function assertConsumerPrincipal(arn: string, accounts: readonly string[] | undefined): void {
  if (!isRoleArn(arn)) {
    throw new ValidationError(`'${String(arn).slice(0, 80)}' is not an IAM role ARN: give arn:aws:iam::<12-digit account>:role/<path/name>, without wildcards`);
  }
  if (accounts !== undefined && !isInsideBound(arn, accounts)) {
    const bound = accounts.length === 0 ? 'none' : accounts.join(', ');
    throw new ValidationError(`role ${arn} is in account ${roleAccount(arn) ?? '?'}, outside the consumer accounts the stack was deployed with (${bound}); add the account to the stack's consumerAccounts and redeploy first`);
  }
}
