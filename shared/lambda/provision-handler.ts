/**
 * The handler shape of the `provision` function, a CloudFormation custom resource provider. It
 * differs from ./create-handler on purpose: CloudFormation reads no return value and waits for
 * an answer at the request's ResponseURL, so every request that names one is answered there,
 * a malformed request and a failed one included (FAILED with the reason), and the stack never
 * waits for the custom resource timeout. Only when the answer cannot be delivered does the
 * invocation fail, so that Lambda's retries (the job is idempotent) deliver it.
 */
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { summarizeError } from '../errors';
import { checkResponseUrl, sendCfnResponse, type CfnResponderOptions, type CfnResponse } from './cfn-response';
// The use case is passed in by the function entry (the kit runs no use case itself).
import type { ProvisionJobResult, ProvisionServices } from '../usecases/provision';
import type { ProvisionEvent } from '../vocabulary/provision-event-schema';
import type { JobLogger } from '../ports/job-logger';
import { METRIC } from '../vocabulary/metric-names';
import { formatIssues } from './middleware/format-issues';
import { provisionEventSchema, provisionResponseTargetSchema } from '../vocabulary/provision-event-schema';
import type { MetricsPublisher } from './rekey-metrics';
import type { HandlerServices } from './create-handler';
import * as z from '../vocabulary/zod';
import { isKeyringName } from '../vocabulary/keyring-name';

/** The services of the provision function. */
export type ProvisionFunctionServices = HandlerServices & ProvisionServices;

/** Injectable dependencies (tests pass services built on moto_server and a loopback responder). */
export interface ProvisionHandlerDeps {
  readonly services: () => ProvisionFunctionServices | Promise<ProvisionFunctionServices>;
  readonly logger: Logger;
  readonly metrics: MetricsPublisher;
  /** The provision use case (shared/usecases/provision.ts runProvision). */
  readonly run: (event: ProvisionEvent, context: { services: ProvisionServices; logger: Pick<JobLogger, 'info' | 'warn'> }) => Promise<ProvisionJobResult>;
  /** How responses are sent. @default https only, 10 s per PUT, 3 attempts */
  readonly responder?: CfnResponderOptions;
}

/** What an invocation did (CloudFormation ignores it; logs and tests read it). */
export interface ProvisionAnswer {
  /** The response object sent; undefined when the request named nowhere to answer. */
  readonly response?: CfnResponse;
  readonly delivered: boolean;
}

const FUNCTION_NAME = 'provision';

/**
 * Builds the provision handler.
 *
 * @example
 * export const handler = createProvisionHandler({ ...defaultHandlerDeps('provision', buildProvisionServices), run: runProvision });
 */
export function createProvisionHandler(deps: ProvisionHandlerDeps): MiddyfiedHandler<unknown, ProvisionAnswer, Error, Context> {
  const { logger, metrics } = deps;
  const answer = async (event: unknown, context: Context): Promise<ProvisionAnswer> => {
    const target = z.safeParse(provisionResponseTargetSchema, event);
    if (!target.success) {
      // Nothing to answer to: retrying cannot help, so the invocation ends here, loudly.
      logger.error('custom resource request without a response target; not answered', { issues: formatIssues('invalid request', target.error.issues) });
      metrics.put(METRIC.handlerFailures, 1, { function: FUNCTION_NAME, code: 'VALIDATION' });
      return { delivered: false };
    }
    const t = target.data;
    try {
      // Before any work: a request that cannot be answered must change nothing.
      checkResponseUrl(t.ResponseURL, deps.responder?.allowLoopbackHttp === true);
    } catch (err) {
      logger.error('custom resource response URL refused; not answered', { reason: err instanceof Error ? err.message : 'invalid' });
      metrics.put(METRIC.handlerFailures, 1, { function: FUNCTION_NAME, code: 'VALIDATION' });
      return { delivered: false };
    }
    const base = { StackId: t.StackId, RequestId: t.RequestId, LogicalResourceId: t.LogicalResourceId };
    let response: CfnResponse;
    const parsed = z.safeParse(provisionEventSchema, event);
    if (!parsed.success) {
      response = failed(base, fallbackPhysicalId(event, t.PhysicalResourceId, t.LogicalResourceId), formatIssues('invalid request', parsed.error.issues), context);
    } else {
      try {
        const services = await deps.services();
        try {
          const result = await deps.run(parsed.data, { services, logger });
          response = { Status: 'SUCCESS', Reason: result.reason, PhysicalResourceId: result.physicalResourceId, ...base, Data: result.data };
        } finally {
          metrics.put(METRIC.kmsCalls, services.kmsCalls.take(), { function: FUNCTION_NAME });
        }
      } catch (err) {
        response = failed(base, fallbackPhysicalId(event, t.PhysicalResourceId, t.LogicalResourceId), safeMessage(err), context);
      }
    }
    if (response.Status === 'FAILED') {
      logger.error('custom resource request failed', { reason: response.Reason, logicalResourceId: t.LogicalResourceId });
      metrics.put(METRIC.handlerFailures, 1, { function: FUNCTION_NAME, code: 'PROVISION_FAILED' });
    }
    // Undeliverable for now: sendCfnResponse throws, the invocation fails and Lambda retries the
    // (idempotent) request.
    await sendCfnResponse(t.ResponseURL, response, deps.responder);
    return { response, delivered: true };
  };
  return middy<unknown, ProvisionAnswer, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(answer);
}

function failed(base: Pick<CfnResponse, 'StackId' | 'RequestId' | 'LogicalResourceId'>, physicalResourceId: string, reason: string, context: Context): CfnResponse {
  const where = typeof context?.logStreamName === 'string' && context.logStreamName.length > 0 ? ` (log stream ${context.logStreamName})` : '';
  return { Status: 'FAILED', Reason: `${reason}${where}`, PhysicalResourceId: physicalResourceId, ...base };
}

/** The id a FAILED response names: the request's, else the keyring's, else the logical id (never empty). */
function fallbackPhysicalId(event: unknown, physicalResourceId: string | undefined, logicalResourceId: string): string {
  if (physicalResourceId !== undefined) return physicalResourceId;
  const keyring = (event as { ResourceProperties?: { Keyring?: unknown } } | null)?.ResourceProperties?.Keyring;
  return isKeyringName(keyring) ? keyring : logicalResourceId;
}

function safeMessage(err: unknown): string {
  const summary = summarizeError(err);
  return `${summary.code}: ${summary.message}`;
}
