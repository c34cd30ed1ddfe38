/**
 * `keyring update`: changes some fields of a keyring's policy, checked the way an operator
 * setting them is checked (validatePolicy and the coherence rule, under the caller's names),
 * written as one compare-and-swap and audited with each field's old and new value. Versions are
 * never touched; the times a schedule derives from the policy move with it (the next rotation
 * falls due `rotate-every` after the active version became active).
 */
import type { AuditDraft, Decision } from './catalog-writer';
import { activeVersion, setPolicy } from './lifecycle';
import type { Catalog, KeyringPolicy } from './model';
import { assertCoherentPolicy, POLICY_FIELD_NAMES, type PolicyNames } from './policy';

/** The policy fields in their stored order. */
const FIELDS = ['rotateEverySeconds', 'graceSeconds', 'propagationSeconds', 'retentionSeconds', 'quietSeconds', 'destroyAfterRetention'] as const;

/** One changed policy field. */
export interface PolicyFieldChange {
  readonly field: keyof KeyringPolicy;
  readonly from: number | boolean;
  readonly to: number | boolean;
}

/** Result of {@link decidePolicyChange} (KeyringService.updatePolicyFields). */
export interface PolicyChangeResult {
  readonly catalog: Catalog;
  /** False when every given field already had its value and nothing was written. */
  readonly changed: boolean;
  /** The fields this call changed, in the policy's order (empty when unchanged). */
  readonly changes: readonly PolicyFieldChange[];
  /** When the active version falls due for rotation under the policy as stored afterwards (ISO). */
  readonly nextRotationDueAt?: string;
}

/**
 * When the active version of `catalog` falls due for rotation: its activation plus the policy's
 * rotation period (what the lifecycle's create-pending step compares with).
 *
 * @example
 * nextRotationDue(catalog); // '2030-03-02T00:00:00.000Z'
 */
export function nextRotationDue(catalog: Catalog): string | undefined {
  const active = activeVersion(catalog);
  if (active === undefined) return undefined;
  const since = Date.parse(active.activatedAt ?? active.createdAt);
  return new Date(since + catalog.policy.rotateEverySeconds * 1000).toISOString();
}

/**
 * Applies `changes` over the current policy, refusing a result an operator would not mean.
 * Nothing to write when every given field already has its value.
 *
 * @throws ValidationError naming the fields as `names` says (the CLI's flags).
 */
export async function decidePolicyChange(
  current: Catalog,
  input: { changes: Partial<KeyringPolicy>; now: Date; names?: PolicyNames },
): Promise<Decision<PolicyChangeResult>> {
  const wanted: KeyringPolicy = { ...current.policy, ...input.changes };
  const changes: PolicyFieldChange[] = FIELDS.filter((f) => current.policy[f] !== wanted[f]).map((f) => ({ field: f, from: current.policy[f], to: wanted[f] }));
  const result = (made: readonly PolicyFieldChange[]) => (catalog: Catalog): PolicyChangeResult => {
    const due = nextRotationDue(catalog);
    return { catalog, changed: made.length > 0, changes: made, ...(due === undefined ? {} : { nextRotationDueAt: due }) };
  };
  if (changes.length === 0) return { events: [], result: result([]) };
  // Only a change is checked for coherence: an unchanged keyring made before the rule stays as it is.
  assertCoherentPolicy(wanted, input.names ?? POLICY_FIELD_NAMES);
  const details: Record<string, number | boolean | string> = { changed: changes.map((c) => c.field).join(',') };
  for (const c of changes) {
    details[c.field] = c.to;
    details[`previous${c.field.charAt(0).toUpperCase()}${c.field.slice(1)}`] = c.from;
  }
  const event: AuditDraft = { action: 'keyring.policy-updated', details };
  return { next: setPolicy(current, wanted, input.now), events: [event], result: result(changes) };
}
