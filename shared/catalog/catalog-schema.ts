import * as z from 'zod';
import { ValidationError } from '../errors';
import type { Catalog } from './model';

const timestamp = z.iso.datetime({ offset: true });
const seconds = z.number().int().nonnegative();
const hold = z.looseObject({ reason: z.string(), at: timestamp, by: z.string() });

const version = z.looseObject({
  version: z.number().int().positive(),
  state: z.enum(['pending', 'active', 'rotating', 'deprecated', 'disabled', 'destroyed', 'revoked']),
  wrappedKey: z.string().min(1).optional(),
  wrappingKeyId: z.string().min(1),
  createdAt: timestamp,
  activatedAt: timestamp.optional(),
  rotatingAt: timestamp.optional(),
  deprecatedAt: timestamp.optional(),
  disabledAt: timestamp.optional(),
  destroyedAt: timestamp.optional(),
  revokedAt: timestamp.optional(),
  revokedReason: z.string().optional(),
  escrowedAt: timestamp.optional(),
  escrowVerifiedAt: timestamp.optional(),
});

// Loose objects keep fields a newer rekey may add, so an older reader rewriting the document
// does not silently drop them.
const catalogSchema = z.looseObject({
  schema: z.literal(1),
  keyring: z.string().min(1),
  generation: z.number().int().positive(),
  policy: z.looseObject({
    rotateEverySeconds: seconds,
    graceSeconds: seconds,
    propagationSeconds: seconds,
    retentionSeconds: seconds,
  }),
  versions: z.array(version),
  frozen: hold.optional(),
  breaker: hold.optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

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
  return result.data as Catalog;
}
