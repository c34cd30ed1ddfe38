/**
 * The `escrow` Lambda function. Archives version keys to escrow, or runs the restore drill and publishes its result.
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildEscrowServices } from '../../shared/compose/aws/escrow-services';
import { escrowEventSchema } from '../../shared/vocabulary/event-schemas';
import { runEscrow, type EscrowServices } from '../../shared/usecases/escrow';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createEscrowHandler(deps);
 */
export function createEscrowHandler(deps: HandlerDeps<FunctionServices<EscrowServices>>) {
  return createHandler({ name: 'escrow', schema: escrowEventSchema, deps, run: runEscrow });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createEscrowHandler(defaultHandlerDeps('escrow', buildEscrowServices));
