/**
 * The time left to the Lambda invocation in flight, for work that must hand a resume point back
 * before Lambda stops it (a sweep segment returns its cursor). Lambda runs one invocation at a
 * time per execution environment, so one probe per handler holds the clock of the current one.
 */
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';

/** A middleware that records the invocation's clock, and the reader of it. */
export interface RemainingTimeProbe {
  readonly middleware: MiddlewareObj<unknown, unknown, Error, Context>;
  /** Milliseconds left to the invocation in flight, or undefined outside Lambda (no clock given). */
  remainingMs(): number | undefined;
}

/**
 * Makes a probe; `.use(probe.middleware)` on the handler.
 *
 * @example
 * const probe = remainingTimeProbe();
 * const handler = createHandler({ ... }).use(probe.middleware);
 * probe.remainingMs(); // inside the run: e.g. 851234
 */
export function remainingTimeProbe(): RemainingTimeProbe {
  let clock: (() => number) | undefined;
  return {
    middleware: {
      before: (request) => {
        const context = request.context;
        clock = typeof context?.getRemainingTimeInMillis === 'function' ? () => context.getRemainingTimeInMillis() : undefined;
      },
    },
    remainingMs: () => clock?.(),
  };
}
