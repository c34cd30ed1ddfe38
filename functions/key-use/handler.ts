/**
 * The `key-use` Lambda function: what is observed of keys and records in use. A KMS Decrypt of
 * a keyring key, as CloudTrail delivers it through EventBridge, becomes the version's last
 * observed use (the quiet-period evidence); a write to a record target, as S3 reports it, a
 * census write mark (the record counts between two sweeps).
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildKeyUseServices } from '../../shared/compose/aws/key-use-services';
import { keyUseFunctionEventSchema } from '../../shared/vocabulary/event-schemas';
import { runKeyUse, type KeyUseOutcome, type KeyUseServices } from '../../shared/usecases/key-use';
import { runRecordWritten, type RecordWrittenOutcome, type RecordWrittenServices } from '../../shared/usecases/record-census';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createKeyUseHandler(deps);
 */
export function createKeyUseHandler(deps: HandlerDeps<FunctionServices<KeyUseServices & RecordWrittenServices>>) {
  return createHandler({
    name: 'key-use',
    schema: keyUseFunctionEventSchema,
    deps,
    run: (event, context): Promise<KeyUseOutcome | RecordWrittenOutcome> => (event.source === 'aws.s3' ? runRecordWritten(event, context) : runKeyUse(event, context)),
  });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createKeyUseHandler(defaultHandlerDeps('key-use', buildKeyUseServices));
