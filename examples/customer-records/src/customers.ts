/**
 * The customer record and its validation (zod): what a PUT may carry and what a stored record
 * holds. The whole record is one envelope, so name, email and card are encrypted together and
 * bound to the customer id.
 */
import { z } from 'zod';

/** Customer ids: path-safe, so an id is also an S3 key suffix. */
export const CustomerId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'id must be 1 to 64 letters, digits, - or _');

/** The JSON body of `PUT /customers/{id}`; unknown fields are refused, not silently stored. */
export const CustomerInput = z
  .object({
    name: z.string().trim().min(1).max(200),
    email: z.email().max(254),
    card: z.string().regex(/^[0-9]{12,19}$/, 'card must be 12 to 19 digits'),
  })
  .strict();

/** A customer as the API accepts it. */
export type CustomerInput = z.infer<typeof CustomerInput>;

/** A customer as stored (inside the envelope) and returned by GET. */
export interface Customer extends CustomerInput {
  readonly id: string;
  readonly updatedAt: string;
}

/** Bad input: the handler answers 400 with this message (it names fields, never their values). */
export class BadRequestError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'BadRequestError';
  }
}

/**
 * Parses `schema` from `value`, or a BadRequestError listing each offending field.
 *
 * @example
 * const input = parseOrBadRequest(CustomerInput, JSON.parse(body));
 */
export function parseOrBadRequest<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // zod's issue messages describe the rule broken, not the input: safe to return to the caller.
  throw new BadRequestError(result.error.issues.map((i) => (i.path.length === 0 ? i.message : `${i.path.join('.')}: ${i.message}`)).join('; '));
}
