/**
 * What stands in the way of deleting a keyring, decided from its catalog and the records counted
 * under it: a keyring is deleted only when it holds no live data rekey knows of, since deleting
 * it loses every version key and with them whatever they protect.
 */
import type { Catalog } from './model';
import { unmanagedSources } from './sources';

/** One reason a keyring cannot be deleted now. */
export type DeleteBlocker =
  | { readonly kind: 'records'; readonly count: number; readonly versions: readonly number[] }
  | { readonly kind: 'unmanaged'; readonly sources: readonly string[] }
  | { readonly kind: 'revocation'; readonly versions: readonly number[] };

/**
 * Every blocker of deleting `catalog`, given the record store's count per version.
 *
 * @example
 * deleteBlockers(catalog, new Map([[1, 3]])); // [{ kind: 'records', count: 3, versions: [1] }]
 */
export function deleteBlockers(catalog: Catalog, recordsByVersion: ReadonlyMap<number, number>): DeleteBlocker[] {
  const blockers: DeleteBlocker[] = [];
  const holding = [...recordsByVersion].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  if (holding.length > 0) {
    blockers.push({ kind: 'records', count: holding.reduce((sum, [, n]) => sum + n, 0), versions: holding.map(([v]) => v) });
  }
  const unmanaged = unmanagedSources(catalog);
  if (unmanaged.length > 0) blockers.push({ kind: 'unmanaged', sources: [...unmanaged] });
  // A revoked version is still on its way to disabled: its revocation has steps left to verify.
  const revoking = catalog.versions.filter((v) => v.state === 'revoked').map((v) => v.version);
  if (revoking.length > 0) blockers.push({ kind: 'revocation', versions: revoking });
  return blockers;
}

/**
 * One sentence per blocker that says what to do, for the refusal's message.
 *
 * @example
 * describeBlocker('pii', { kind: 'unmanaged', sources: ['files'] });
 */
export function describeBlocker(keyring: string, blocker: DeleteBlocker): string {
  switch (blocker.kind) {
    case 'records':
      return `${blocker.count} record(s) in the record store are under ${blocker.versions.map((v) => `v${v}`).join(', ')} of ${keyring}: delete them first ('rekey records delete')`;
    case 'unmanaged':
      return `unmanaged holders are declared (${blocker.sources.join(', ')}): rekey cannot count them; when they hold no envelope of ${keyring}, run 'rekey keyring sources ${keyring} --none'`;
    case 'revocation':
      return `a revocation is in progress (${blocker.versions.map((v) => `v${v}`).join(', ')} revoked, not yet disabled): finish it with 'rekey revoke' and 'rekey tick' first`;
  }
}
