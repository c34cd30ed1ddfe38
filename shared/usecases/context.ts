/**
 * What every use case receives besides its input: the services it declared (ports and core
 * services), a logger, a metrics publisher, and who is acting. The Lambda handlers build it in
 * shared/lambda/create-handler.ts; the CLI in shared/compose/local/local-jobs.ts.
 */
import type { JobLogger } from '../ports/job-logger';
import type { MetricsPublisher } from '../ports/metrics-publisher';

/** What a job gets besides its event; `S` is the part of the services the job reads. */
export interface JobContext<S> {
  readonly services: S;
  readonly logger: JobLogger;
  readonly metrics: MetricsPublisher;
  /** The function (or `cli`) running the job: metric dimension, log and audit attribution. */
  readonly functionName: string;
  /** Who acts in audit events. @default `function:<functionName>` */
  readonly actor?: string;
}

/**
 * The audit actor of a job.
 *
 * @example
 * actorOf({ functionName: 'escrow' }); // 'function:escrow'
 */
export function actorOf(context: Pick<JobContext<unknown>, 'functionName' | 'actor'>): string {
  return context.actor ?? `function:${context.functionName}`;
}
