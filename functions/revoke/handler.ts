/**
 * The `revoke` Lambda function. Emergency revocation on an EventBridge 'Key Version Compromised' event; never paused by freeze or breaker.
 * Thin by design: validation, wiring, metrics and error mapping live in shared/runtime.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/runtime/create-handler';
import type { FunctionServices } from '../../shared/runtime/rekey-services';
import { revokeEventSchema } from '../../shared/runtime/event-schemas';
import { runRevoke, type RevokeServices } from '../../shared/runtime/jobs/revoke-job';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createRevokeHandler(deps);
 */
export function createRevokeHandler(deps: HandlerDeps<FunctionServices & RevokeServices>) {
  return createHandler({ name: 'revoke', schema: revokeEventSchema, deps, run: runRevoke });
}

/**
 * The Lambda entry point. Its services, and the SDK modules behind them, load on the first valid
 * event (see defaultHandlerDeps).
 */
export const handler = createRevokeHandler(defaultHandlerDeps('revoke', async () => (await import('../../shared/runtime/services/revoke-services')).buildRevokeServices));
