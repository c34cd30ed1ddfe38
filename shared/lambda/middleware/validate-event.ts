/**
 * Middy middleware: validates the incoming event against a zod schema before the handler runs,
 * and replaces it with the parsed (typed, normalized) value. A bad event becomes a
 * ValidationError, raised before any adapter is touched, so nothing is changed.
 */
import type { MiddlewareObj } from '@middy/core';
import { ValidationError } from '../../errors';
import * as z from '../../vocabulary/zod';
import { formatIssues } from './format-issues';

/** Options of {@link validateEvent}. */
export interface ValidateEventOptions<S extends z.core.$ZodType> {
  /** The schema of the event the handler accepts (zod/mini, as ../zod exports; full zod works too). */
  readonly schema: S;
  /** Prefix of the error message. @default 'invalid event' */
  readonly label?: string;
}

/**
 * Creates the validation middleware.
 *
 * @throws ValidationError from `before` when the event does not match the schema.
 * @example
 * middy(handler).use(validateEvent({ schema: rotateEventSchema }));
 */
export function validateEvent<S extends z.core.$ZodType>(options: ValidateEventOptions<S>): MiddlewareObj<unknown> {
  if (options === null || typeof options !== 'object' || typeof options.schema?._zod?.run !== 'function') {
    throw new TypeError('validateEvent: options.schema must be a zod schema');
  }
  const label = options.label ?? 'invalid event';
  const validateEventBefore = (request: { event: unknown }): void => {
    const result = z.safeParse(options.schema, request.event);
    if (!result.success) throw new ValidationError(formatIssues(label, result.error.issues));
    request.event = result.data;
  };
  return { name: 'validateEvent', before: validateEventBefore };
}
