/**
 * Makes a keyring exist with a given policy, idempotently: the use case of `keyring create`
 * (KeyringService.createKeyring) when it does not exist, else a compare-and-swap of its policy
 * (KeyringService.updatePolicy). Versions are never touched when the keyring exists, so running
 * it again, late or concurrently is safe.
 */
import { AlreadyExistsError } from '../errors';
import type { KeyringService } from './keyring-service';
import type { Catalog, KeyringPolicy } from './model';

/** What {@link provisionKeyring} did. */
export type ProvisionOutcome = 'created' | 'updated' | 'unchanged';

/** Result of {@link provisionKeyring}. */
export interface ProvisionResult {
  readonly catalog: Catalog;
  readonly outcome: ProvisionOutcome;
}

/**
 * Creates `name` with `policy` (version 1 active at once), or brings an existing keyring's
 * policy to `policy`.
 *
 * @example
 * const { outcome } = await provisionKeyring(keyrings, 'pii', { rotateEverySeconds: 30 * 86_400 }, { actor: 'deploy' });
 * @throws ValidationError on a bad name, policy or actor.
 */
export async function provisionKeyring(
  keyrings: Pick<KeyringService, 'createKeyring' | 'updatePolicy'>,
  name: string,
  policy: KeyringPolicy,
  options: { actor: string; now?: Date },
): Promise<ProvisionResult> {
  try {
    return { catalog: await keyrings.createKeyring(name, policy, options), outcome: 'created' };
  } catch (err) {
    // A keyring that exists (or was created by a concurrent run) keeps its versions.
    if (!(err instanceof AlreadyExistsError)) throw err;
  }
  const updated = await keyrings.updatePolicy(name, policy, options);
  return { catalog: updated.catalog, outcome: updated.changed ? 'updated' : 'unchanged' };
}
