/**
 * rotate: creates a keyring's next version as pending when its policy says a rotation is due
 * (the same pure planner the reconciler uses), or at once for an operator's forced rotation.
 * Racing or repeated invocations create exactly one version (KeyringService.rotate is a no-op
 * while a pending version exists).
 */
import { isPaused, pendingVersion, planTransitions } from '../catalog/lifecycle';
import type { RotateEvent } from '../vocabulary/event-schemas';
import type { JobContext } from './context';
import { METRIC } from '../vocabulary/metric-names';
import { settleEach, type KeyringFailure } from './settle';
import type { KeyringService } from '../catalog/keyring-service';

/** The services the rotate job reads. */
export interface RotateServices {
  readonly keyrings: Pick<KeyringService, 'get' | 'rotate'>;
  readonly clock: () => Date;
}

/** What rotate did to one keyring. */
export type RotateOutcome =
  | { readonly keyring: string; readonly status: 'created' | 'pending-exists'; readonly version: number }
  | { readonly keyring: string; readonly status: 'not-due' | 'paused' }
  | { readonly keyring: string; readonly status: 'failed'; readonly error: KeyringFailure };

/** The response of the rotate function. */
export interface RotateResponse {
  readonly ok: boolean;
  readonly results: readonly RotateOutcome[];
}

const SCHEDULER = 'scheduler';
const POLICY_REASON = 'policy: rotation due';

/**
 * Runs the rotate job.
 *
 * @example
 * await runRotate({ keyring: 'payments' }, context); // { ok: true, results: [{ keyring: 'payments', status: 'not-due' }] }
 */
export async function runRotate(event: RotateEvent, context: JobContext<RotateServices>): Promise<RotateResponse> {
  const { keyrings, clock } = context.services;
  const names = event.keyrings ?? [event.keyring as string];
  const results = await settleEach(names, async (name): Promise<RotateOutcome> => {
    if (event.force === true) {
      const r = await keyrings.rotate(name, { actor: event.actor as string, reason: event.reason as string });
      return created(context, name, r.created, r.pending.version);
    }
    const now = clock();
    const catalog = await keyrings.get(name);
    const pending = pendingVersion(catalog);
    if (pending !== undefined) return { keyring: name, status: 'pending-exists', version: pending.version };
    if (isPaused(catalog)) return { keyring: name, status: 'paused' };
    const due = planTransitions(catalog, now, { references: new Map(), escrowVerified: new Set() }).some((t) => t.kind === 'create-pending');
    if (!due) return { keyring: name, status: 'not-due' };
    const r = await keyrings.rotate(name, { actor: SCHEDULER, reason: POLICY_REASON, now });
    return created(context, name, r.created, r.pending.version);
  });
  return { ok: results.every((r) => r.status !== 'failed'), results };
}

function created(context: JobContext<RotateServices>, keyring: string, isNew: boolean, version: number): RotateOutcome {
  if (isNew) context.metrics.put(METRIC.versionsCreated, 1, { keyring, version });
  context.logger.info(isNew ? 'version created' : 'pending version already exists', { keyring, version });
  return { keyring, status: isNew ? 'created' : 'pending-exists', version };
}
