/**
 * keyring plan: what the next ticks would do to a keyring and when, on the facts the tick
 * itself would gather now (reference counts, observed key use, escrow), what holds back each
 * step the forecast cannot promise (references, missing escrow, freeze, breaker, the quiet
 * period, unmanaged holders), plus each version's reason. Read-only; nothing is generated or
 * written. `rekey plan` runs it.
 */
import type { KeyringService } from '../catalog/keyring-service';
import { forecastTransitions } from '../catalog/forecast';
import { outlookOf } from '../catalog/version-outlook';
import { progressOf, type HoldView } from './version-progress';

/** The services the plan reads. */
export interface KeyringPlanServices {
  readonly keyrings: Pick<KeyringService, 'list' | 'lifecycleFacts'>;
  readonly clock: () => Date;
}

/** One upcoming transition. */
export interface PlannedStep {
  /** ISO instant the step becomes due (a tick at or after it applies it). */
  readonly at: string;
  readonly kind: string;
  readonly version: number;
}

/** One version's line of the plan. */
export interface VersionPlan {
  readonly version: number;
  readonly state: string;
  readonly next?: string;
  readonly dueAt?: string;
  readonly lastUsedAt?: string;
  /** `next` is due by more than a tick interval and no tick applied it. */
  readonly overdue: boolean;
  /** `next` is held back by a fact that time alone does not clear. */
  readonly stuck: boolean;
  /** What holds `next` back, with figures. */
  readonly holds: readonly HoldView[];
  readonly reasons: readonly string[];
}

/** A step no instant can be promised for on current facts, and what holds it back. */
export interface BlockedStep {
  readonly kind: string;
  readonly version: number;
  readonly stuck: boolean;
  readonly holds: readonly HoldView[];
}

/** The plan of one keyring. */
export interface KeyringPlan {
  readonly keyring: string;
  readonly at: string;
  readonly paused?: 'frozen' | 'breaker';
  /** The transitions ahead, in order, facts held as they are now. */
  readonly steps: readonly PlannedStep[];
  /** Next steps of versions the forecast cannot schedule (a fact blocks them). */
  readonly blocked: readonly BlockedStep[];
  readonly versions: readonly VersionPlan[];
}

/**
 * The plan of the named keyring, or of every keyring.
 *
 * @example
 * const [pii] = await readKeyringPlan({ keyring: 'pii' }, { keyrings, clock });
 * pii.steps[0]; // { at: '2030-01-08T00:00:00.000Z', kind: 'deprecate', version: 1 }
 * @throws UnknownKeyringError when the named keyring does not exist.
 */
export async function readKeyringPlan(query: { readonly keyring?: string }, services: KeyringPlanServices): Promise<KeyringPlan[]> {
  const now = services.clock();
  const names = query.keyring === undefined ? (await services.keyrings.list()).map((c) => c.keyring) : [query.keyring];
  const out: KeyringPlan[] = [];
  for (const name of names) {
    const { catalog, facts } = await services.keyrings.lifecycleFacts(name);
    const steps = forecastTransitions(catalog, now, facts).map((s) => ({ at: s.at.toISOString(), kind: s.transition.kind, version: s.transition.version }));
    // Destroyed versions have nothing ahead.
    const outlooks = outlookOf(catalog, now, facts).filter((o) => o.state !== 'destroyed');
    const versions: VersionPlan[] = outlooks.map((o) => ({
      version: o.version,
      state: o.state,
      ...(o.next === undefined ? {} : { next: o.next }),
      ...(o.dueAt === undefined ? {} : { dueAt: o.dueAt.toISOString() }),
      ...(o.lastUse === undefined ? {} : { lastUsedAt: o.lastUse.at.toISOString() }),
      ...progressOf(o, now),
      reasons: o.reasons,
    }));
    const blocked = versions
      .filter((v) => v.next !== undefined && v.dueAt === undefined)
      .map((v) => ({ kind: v.next as string, version: v.version, stuck: v.stuck, holds: v.holds }));
    const paused = catalog.frozen !== undefined ? 'frozen' : catalog.breaker !== undefined ? 'breaker' : undefined;
    out.push({ keyring: name, at: now.toISOString(), ...(paused === undefined ? {} : { paused }), steps, blocked, versions });
  }
  return out;
}
