import * as z from '../vocabulary/zod';
import { ValidationError } from '../errors';
import type { Catalog } from './model';
import { withPolicyDefaults } from './policy';
import { SOURCE_NAME_PATTERN, MAX_UNMANAGED_SOURCES } from './sources';

// Every schema is a @__PURE__ z.lazy (see ../vocabulary/names.ts): built on the first catalog read,
// not when a function's bundle loads.
const timestamp = /* @__PURE__ */ z.lazy(() => z.iso.datetime({ offset: true }));
const seconds = /* @__PURE__ */ z.lazy(() => z.number().check(z.int(), z.nonnegative()));
const hold = /* @__PURE__ */ z.lazy(() => z.looseObject({ reason: z.string(), at: timestamp, by: z.string() }));

const version = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    version: z.number().check(z.int(), z.positive()),
    state: z.enum(['pending', 'active', 'rotating', 'deprecated', 'disabled', 'destroyed', 'revoked']),
    wrappedKey: z.optional(z.string().check(z.minLength(1))),
    wrappingKeyId: z.string().check(z.minLength(1)),
    createdAt: timestamp,
    activatedAt: z.optional(timestamp),
    rotatingAt: z.optional(timestamp),
    deprecatedAt: z.optional(timestamp),
    disabledAt: z.optional(timestamp),
    destroyedAt: z.optional(timestamp),
    revokedAt: z.optional(timestamp),
    revokedReason: z.optional(z.string()),
    revokedBy: z.optional(z.string()),
    escrowedAt: z.optional(timestamp),
    escrowVerifiedAt: z.optional(timestamp),
    reenabledAt: z.optional(timestamp),
    restoredAt: z.optional(timestamp),
  }),
);

// Loose objects keep fields a newer rekey may add, so an older reader rewriting the document
// does not silently drop them.
const catalogSchema = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    schema: z.literal(1),
    keyring: z.string().check(z.minLength(1)),
    generation: z.number().check(z.int(), z.positive()),
    policy: z.looseObject({
      rotateEverySeconds: seconds,
      graceSeconds: seconds,
      propagationSeconds: seconds,
      retentionSeconds: seconds,
      // Added by issue 11; a catalog written before has neither and reads with the defaults
      // (quiet 7 days, destruction off), which only ever makes the lifecycle more careful.
      quietSeconds: z.optional(seconds),
      destroyAfterRetention: z.optional(z.boolean()),
    }),
    sources: z.optional(z.looseObject({ unmanaged: z.array(z.string().check(z.regex(SOURCE_NAME_PATTERN))).check(z.maxLength(MAX_UNMANAGED_SOURCES)) })),
    versions: z.array(version),
    frozen: z.optional(hold),
    breaker: z.optional(hold),
    createdAt: timestamp,
    updatedAt: timestamp,
  }),
);

/**
 * Validates the shape of a catalog document read from a store (types and formats only; the
 * lifecycle invariants are {@link checkInvariants}'s job). Catalog stores call it on every read.
 *
 * @example
 * const catalog = parseCatalog(JSON.parse(text));
 * @throws ValidationError naming the first offending path; never echoes key material.
 */
export function parseCatalog(value: unknown): Catalog {
  const result = catalogSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined ? '' : issue.path.map(String).join('.');
    throw new ValidationError(`malformed catalog document${where === '' ? '' : ` at '${where}'`}: ${issue?.message ?? 'invalid'}`);
  }
  const data = result.data as unknown as Catalog;
  return { ...data, policy: withPolicyDefaults(data.policy) };
}
