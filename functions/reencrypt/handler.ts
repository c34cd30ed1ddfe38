/**
 * The `reencrypt` Lambda function. Sweep worker: migrates one Step Functions Distributed Map batch or one S3 Batch Operations task list, with a result per object.
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildReencryptServices } from '../../shared/compose/aws/reencrypt-services';
import { reencryptEventSchema } from '../../shared/vocabulary/event-schemas';
import { runReencrypt, type ReencryptServices } from '../../shared/usecases/reencrypt';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createReencryptHandler(deps);
 */
export function createReencryptHandler(deps: HandlerDeps<FunctionServices<ReencryptServices>>) {
  return createHandler({ name: 'reencrypt', schema: reencryptEventSchema, deps, run: runReencrypt });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createReencryptHandler(defaultHandlerDeps('reencrypt', buildReencryptServices));
