/**
 * What the re-encryption engine shares with its callers: its ports (defined in
 * shared/ports/envelope-ops.ts, re-exported here for the engine's modules), metrics that go
 * nowhere, and the record-id context rule.
 */
import type { CallerContext } from '../envelope/api';

export type { EnvelopeOps, ReencryptMetrics, VersionLookup } from '../ports/envelope-ops';
import type { ReencryptMetrics } from '../ports/envelope-ops';

/** Metrics that go nowhere. */
export const noMetrics: ReencryptMetrics = { increment: () => undefined };

/** The caller-context key under which a record's id is bound into its envelope. */
export const RECORD_ID_CONTEXT_KEY = 'rekey:record-id';

/** The context an envelope of record `id` is bound to: the caller's context plus the record id. */
export function recordContext(id: string, context?: CallerContext): CallerContext {
  return { ...(context ?? {}), [RECORD_ID_CONTEXT_KEY]: id };
}
