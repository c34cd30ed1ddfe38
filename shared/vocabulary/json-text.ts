/**
 * A configuration variable holding JSON: text that does not parse is a schema issue ("must be
 * valid JSON"), so the caller's ValidationError names the variable instead of a bare SyntaxError.
 */
import * as z from './zod';

/**
 * Parses JSON text, then validates the value with `inner`.
 *
 * @example
 * const keys = jsonText(z.record(z.string(), z.string()));
 */
export const jsonText = <T extends z.core.$ZodType>(inner: T) =>
  z.pipe(
    z.pipe(
      z.string(),
      z.transform((text: string, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.issues.push({ code: 'custom', message: 'must be valid JSON', input: text });
          return z.NEVER;
        }
      }),
    ),
    inner,
  );
