/**
 * The `revoke` Lambda function. Emergency revocation on an EventBridge 'Key Version Compromised' event; never paused by freeze or breaker.
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildRevokeServices } from '../../shared/compose/aws/revoke-services';
import { revokeEventSchema } from '../../shared/vocabulary/event-schemas';
import { runRevoke, type RevokeServices } from '../../shared/usecases/revoke';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createRevokeHandler(deps);
 */
export function createRevokeHandler(deps: HandlerDeps<FunctionServices<RevokeServices>>) {
  return createHandler({ name: 'revoke', schema: revokeEventSchema, deps, run: runRevoke });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createRevokeHandler(defaultHandlerDeps('revoke', buildRevokeServices));
