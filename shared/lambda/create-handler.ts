/**
 * The one shape of every rekey Lambda handler: Middy with the Powertools logger context, the
 * error mapping and the event validation, around a job that receives the parsed event and the
 * services. The services are built on the first valid invocation and reused while the
 * execution environment lives; a bad event never builds them, so it can change nothing.
 * Each function passes the builder of its own service set (shared/compose/aws), so its bundle holds
 * only the SDK clients its job calls.
 */
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import type * as z from '../vocabulary/zod';
import { loadConfig, type RekeyConfig } from '../config/load-config';
import { createLogger } from './create-logger';
import { METRIC } from '../vocabulary/metric-names';
import { mapErrors, type HandlerFailure } from './middleware/map-errors';
import { validateEvent } from './middleware/validate-event';
import { PowertoolsMetricsPublisher } from './rekey-metrics';
import type { MetricsPublisher } from '../ports/metrics-publisher';
import type { JobContext } from '../usecases/context';

export type { JobContext };

/** What the kit itself reads of a function's services: the KMS call counter (one metric per invocation). */
export interface HandlerServices {
  readonly kmsCalls: { take(): number };
}

/** Injectable dependencies of a handler (tests pass services built on moto_server). */
export interface HandlerDeps<V extends HandlerServices = HandlerServices> {
  readonly services: () => V | Promise<V>;
  readonly logger: Logger;
  readonly metrics: MetricsPublisher;
}

/** Options of {@link createHandler}. */
export interface CreateHandlerOptions<S extends z.core.$ZodType, R, V extends HandlerServices = HandlerServices> {
  /** Function name: log service, metric dimension, error messages. */
  readonly name: string;
  readonly schema: S;
  readonly deps: HandlerDeps<V>;
  readonly run: (event: z.output<S>, context: JobContext<V>) => Promise<R>;
}

/**
 * Builds a Middy handler around a job.
 *
 * @example
 * export const handler = createHandler({ name: 'escrow', schema: escrowEventSchema, deps: defaultHandlerDeps('escrow'), run: runEscrow });
 */
export function createHandler<S extends z.core.$ZodType, R, V extends HandlerServices = HandlerServices>(options: CreateHandlerOptions<S, R, V>): MiddyfiedHandler<unknown, R | HandlerFailure, Error, Context> {
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

/** Builds a function's services from its configuration (one of shared/compose/aws/*-services). */
export type ServicesBuilder<V extends HandlerServices> = (config: RekeyConfig, options: { readonly logger: Logger }) => V;

/**
 * The production dependencies of a function: Powertools logger and metrics now; on the first
 * valid invocation, the configuration from the environment and the services `build` makes of
 * it, kept while the execution environment lives. A failed build (bad configuration) is not
 * kept, so the next invocation tries again.
 *
 * @example
 * const deps = defaultHandlerDeps('rotate', buildRotateServices);
 */
export function defaultHandlerDeps<V extends HandlerServices>(name: string, build: ServicesBuilder<V>): HandlerDeps<V> {
  const logger = createLogger({ serviceName: `rekey-${name}` });
  let services: V | undefined;
  return {
    logger,
    metrics: new PowertoolsMetricsPublisher({ serviceName: `rekey-${name}` }),
    services: () => (services ??= build(loadConfig(), { logger })),
  };
}
