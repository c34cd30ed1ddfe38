/**
 * The one shape of every rekey Lambda handler: Middy with the Powertools logger context, the
 * error mapping and the event validation, around a job that receives the parsed event and the
 * services. The services are built on the first valid invocation and reused while the
 * execution environment lives; a bad event never builds them, so it can change nothing.
 */
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import type * as z from 'zod';
import { loadConfig } from '../config/load-config';
import { buildAwsServices } from './build-aws-services';
import { createLogger } from './create-logger';
import { METRIC } from './metric-names';
import { mapErrors, type HandlerFailure } from './middleware/map-errors';
import { validateEvent } from './middleware/validate-event';
import { PowertoolsMetricsPublisher, type MetricsPublisher } from './rekey-metrics';
import type { RekeyServices } from './rekey-services';

/** What a job gets besides its event. */
export interface JobContext {
  readonly services: RekeyServices;
  readonly logger: Logger;
  readonly metrics: MetricsPublisher;
  readonly functionName: string;
}

/** Injectable dependencies of a handler (tests pass services built on moto_server). */
export interface HandlerDeps {
  readonly services: () => RekeyServices | Promise<RekeyServices>;
  readonly logger: Logger;
  readonly metrics: MetricsPublisher;
}

/** Options of {@link createHandler}. */
export interface CreateHandlerOptions<S extends z.ZodType, R> {
  /** Function name: log service, metric dimension, error messages. */
  readonly name: string;
  readonly schema: S;
  readonly deps: HandlerDeps;
  readonly run: (event: z.output<S>, context: JobContext) => Promise<R>;
}

/**
 * Builds a Middy handler around a job.
 *
 * @example
 * export const handler = createHandler({ name: 'escrow', schema: escrowEventSchema, deps: defaultHandlerDeps('escrow'), run: runEscrow });
 */
export function createHandler<S extends z.ZodType, R>(options: CreateHandlerOptions<S, R>): MiddyfiedHandler<unknown, R | HandlerFailure, Error, Context> {
  const { name, schema, deps, run } = options;
  const job = async (event: unknown): Promise<R> => {
    const services = await deps.services();
    try {
      return await run(event as z.output<S>, { services, logger: deps.logger, metrics: deps.metrics, functionName: name });
    } finally {
      deps.metrics.put(METRIC.kmsCalls, services.kmsCalls.take(), { function: name });
    }
  };
  return middy<unknown, R | HandlerFailure, Error, Context>()
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(mapErrors({ logger: deps.logger, metrics: deps.metrics, functionName: name }))
    .use(validateEvent({ schema }))
    .handler(job);
}

/**
 * The production dependencies of a function: configuration from the environment (read once,
 * on the first valid invocation), AWS services, Powertools logger and metrics.
 *
 * @example
 * const deps = defaultHandlerDeps('rotate');
 */
export function defaultHandlerDeps(name: string): HandlerDeps {
  const logger = createLogger({ serviceName: `rekey-${name}` });
  let services: RekeyServices | undefined;
  return {
    logger,
    metrics: new PowertoolsMetricsPublisher({ serviceName: `rekey-${name}` }),
    services: () => (services ??= buildAwsServices(loadConfig(), { logger })),
  };
}
