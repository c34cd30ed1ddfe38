/**
 * The `rotate` Lambda function. Scheduled rotation: creates the next version as pending when the keyring's policy says a rotation is due, or at once for an operator's forced rotation.
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildRotateServices } from '../../shared/compose/aws/rotate-services';
import { rotateEventSchema } from '../../shared/vocabulary/event-schemas';
import { runRotate, type RotateServices } from '../../shared/usecases/rotate';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createRotateHandler(deps);
 */
export function createRotateHandler(deps: HandlerDeps<FunctionServices<RotateServices>>) {
  return createHandler({ name: 'rotate', schema: rotateEventSchema, deps, run: runRotate });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createRotateHandler(defaultHandlerDeps('rotate', buildRotateServices));
