/**
 * keyring plan: what the next ticks would do to a keyring and when, on the facts the tick
 * itself would gather now (reference counts, observed key use, escrow), plus each version's
 * reason. Read-only; nothing is generated or written. `rekey plan` runs it.
 */
import type { KeyringService } from '../catalog/keyring-service';
import { forecastTransitions } from '../catalog/forecast';
import { outlookOf } from '../catalog/version-outlook';

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
  readonly reasons: readonly string[];
}

/** The plan of one keyring. */
export interface KeyringPlan {
  readonly keyring: string;
  readonly at: string;
  readonly paused?: 'frozen' | 'breaker';
  /** The transitions ahead, in order, facts held as they are now. */
  readonly steps: readonly PlannedStep[];
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
    const versions = outlookOf(catalog, now, facts).map((o) => ({
      version: o.version,
      state: o.state,
      ...(o.next === undefined ? {} : { next: o.next }),
      ...(o.dueAt === undefined ? {} : { dueAt: o.dueAt.toISOString() }),
      ...(o.lastUse === undefined ? {} : { lastUsedAt: o.lastUse.at.toISOString() }),
      reasons: o.reasons,
    }));
    const paused = catalog.frozen !== undefined ? 'frozen' : catalog.breaker !== undefined ? 'breaker' : undefined;
    out.push({ keyring: name, at: now.toISOString(), ...(paused === undefined ? {} : { paused }), steps, versions });
  }
  return out;
}
