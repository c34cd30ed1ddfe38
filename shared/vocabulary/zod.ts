/**
 * The zod every Lambda code path uses: `zod/mini` (the functional API, which bundles to a
 * fraction of full zod and loads several times faster) with zod's English messages, so that a
 * rule without a message of its own reads exactly as it does under full zod ("Invalid input:
 * expected string, received number", "Too big: ..."). Import it as `import * as z from './zod'`;
 * add a name below when a schema needs one.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

export {
  _default,
  array,
  base64,
  boolean,
  core,
  discriminatedUnion,
  enum,
  gt,
  gte,
  int,
  iso,
  lazy,
  literal,
  looseObject,
  lte,
  maxLength,
  minLength,
  NEVER,
  nonnegative,
  nullish,
  number,
  object,
  optional,
  pipe,
  positive,
  record,
  refine,
  regex,
  safeParse,
  strictObject,
  string,
  superRefine,
  transform,
  trim,
  union,
} from 'zod/mini';
export type { input, output } from 'zod/mini';
