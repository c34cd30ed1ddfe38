/**
 * The `key-use` Lambda function. A KMS Decrypt of a keyring key, as CloudTrail delivers it
 * through EventBridge, becomes the version's last observed use (the quiet-period evidence).
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildKeyUseServices } from '../../shared/compose/aws/key-use-services';
import { keyUseEventSchema } from '../../shared/vocabulary/event-schemas';
import { runKeyUse, type KeyUseServices } from '../../shared/usecases/key-use';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createKeyUseHandler(deps);
 */
export function createKeyUseHandler(deps: HandlerDeps<FunctionServices<KeyUseServices>>) {
  return createHandler({ name: 'key-use', schema: keyUseEventSchema, deps, run: runKeyUse });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createKeyUseHandler(defaultHandlerDeps('key-use', buildKeyUseServices));
