/**
 * zod schemas (zod/mini) of the names that cross rekey's boundaries (events, environment): keyrings,
 * versions, S3 buckets and keys, AWS ARNs. Shared by the config loader and the event schemas,
 * so that a name accepted in one place is accepted in the other. The keyring-name rule itself is
 * keyring-name.ts (zod-free, so that the envelope layer can use it too).
 *
 * Every schema here is `z.lazy`: built on its first parse, not when a Lambda bundle loads
 * (building zod schemas is most of what zod costs a cold start), and `@__PURE__` so that
 * esbuild drops the ones a function never uses.
 */
import { isKeyringName, KEYRING_NAME_RULE } from './keyring-name';
import * as z from './zod';

/**
 * A keyring name, as a schema: the one rule of keyring-name.ts ({@link KEYRING_NAME_RULE}), so
 * that an event, a configuration and the catalog accept exactly the same names.
 *
 * @example
 * keyringName.parse('payments'); // 'payments'
 */
export const keyringName = /* @__PURE__ */ z.lazy(() => z.string().check(z.refine(isKeyringName, `must be ${KEYRING_NAME_RULE}`)));

/** A logical key version: a positive safe integer (never a float, NaN or a numeric string). */
export const versionNumber = /* @__PURE__ */ z.lazy(() => z.int('must be a positive integer').check(z.gte(1, 'must be a positive integer'), z.lte(1_000_000, 'is out of range')));

/** An S3 bucket name (the general-purpose naming rules). */
export const bucketName = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.minLength(3, 'must be 3 to 63 characters'),
    z.maxLength(63, 'must be 3 to 63 characters'),
    z.regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'must be lowercase letters, digits, "." or "-"'),
    z.refine((s: string) => !s.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(s), 'is not a valid bucket name'),
  ),
);

/**
 * Where an S3 record object keeps its envelope header: `'body'` (the object is the envelope) or
 * `'metadata'` (the header in `x-amz-meta-rekey-header`, see S3RecordStore's `layout` option).
 *
 * @example
 * recordLayout.parse('metadata'); // 'metadata'
 */
export const recordLayout = /* @__PURE__ */ z.lazy(() => z.enum(['body', 'metadata']));

/** An S3 key prefix: may be empty; never starts with `/`; at most 512 characters. */
export const keyPrefix = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.maxLength(512, 'must be at most 512 characters'),
    z.refine((s: string) => !s.startsWith('/'), 'must not start with "/"'),
    // eslint-disable-next-line no-control-regex
    z.refine((s: string) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters'),
  ),
);

/** An S3 object key (1–1024 characters, no control characters). */
export const objectKey = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(1024, 'must be at most 1024 characters'),
    // eslint-disable-next-line no-control-regex
    z.refine((s: string) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters'),
  ),
);

/** An AWS KMS key or alias ARN. */
export const kmsKeyArn = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.maxLength(2048),
    z.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+$/, 'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)'),
  ),
);

/** A Step Functions state machine ARN. */
export const stateMachineArn = /* @__PURE__ */ z.lazy(() =>
  z.string().check(z.maxLength(2048), z.regex(/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/, 'must be a state machine ARN')),
);

/** Free text from operators and security events (reasons): bounded, no control characters. */
export const reasonText = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.trim(),
    z.minLength(1, 'must not be empty'),
    z.maxLength(512, 'must be at most 512 characters'),
    // eslint-disable-next-line no-control-regex
    z.refine((s: string) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), 'must not contain control characters'),
  ),
);

/** Who asked for an operation (an IAM principal, `cli:<user>`, an event id). */
export const actorText = /* @__PURE__ */ z.lazy(() =>
  z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(256, 'must be at most 256 characters'), z.regex(/^[\x21-\x7e]+$/, 'must be printable characters without spaces')),
);
