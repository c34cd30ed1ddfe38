/**
 * Which system a command acted on. Local mode notes the home it opened, AWS mode the stack and
 * region it read; after a mutating command the CLI prints one line naming it
 * (`rekey: acted on local home /srv/.rekey`, `rekey: acted on stack Rekey in eu-west-1`), so an
 * operator who meant the other system knows at once.
 */

/** The system one CLI run reached. */
export type Target = { readonly kind: 'local'; readonly home: string } | { readonly kind: 'aws'; readonly stack: string; readonly region: string };

let current: Target | undefined;
let acted = false;

/** Records the system this run reached (called when the home or the stack is opened). */
export function noteTarget(target: Target): void {
  current = target;
}

/** The system this run reached, if any. */
export function currentTarget(): Target | undefined {
  return current;
}

/** Forgets the target (each `run()` starts afresh; tests run many in one process). */
export function resetTarget(): void {
  current = undefined;
  acted = false;
}

/**
 * Records that this run changed something even if it goes on to fail: a revocation that made a
 * new version active and refused the old one, then exits 5 because records remain, has acted,
 * and the operator must see where.
 */
export function noteActed(): void {
  acted = true;
}

/** Whether {@link noteActed} was called in this run. */
export function hasActed(): boolean {
  return acted;
}

/**
 * The one line naming the target, e.g. `rekey: acted on local home /srv/.rekey`.
 *
 * @example
 * describeTarget({ kind: 'aws', stack: 'Rekey', region: 'eu-west-1' }); // 'rekey: acted on stack Rekey in eu-west-1'
 */
export function describeTarget(target: Target): string {
  return target.kind === 'local' ? `rekey: acted on local home ${target.home}` : `rekey: acted on stack ${target.stack} in ${target.region}`;
}
