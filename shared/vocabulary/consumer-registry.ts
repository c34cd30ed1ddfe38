/**
 * Names of the consumer registry: the application roles that read a keyring without being
 * declared in the stack's props, so that adding a consumer needs no redeploy of rekey. The
 * registry lives next to the catalog (one document per keyring, in the catalog bucket on AWS,
 * in the home locally); key-access reconciles it into KMS grants. The stack (infra/), the
 * store adapters and the CLI read these names from here, so none imports another.
 */

/** Key prefix of registry documents in the catalog bucket: `consumers/<keyring>.json`. */
export const CONSUMER_REGISTRY_PREFIX = 'consumers/';

/** Name of the Decrypt grant on the ops key that lets a registry consumer read catalog documents through S3. */
export const CATALOG_READ_GRANT_NAME = 'rekey-catalog-read';

/** Name of the Decrypt grant on the escrow key that lets a registry consumer read revocation marks through S3. */
export const LEDGER_READ_GRANT_NAME = 'rekey-ledger-read';

/**
 * The registry document's key for `keyring`.
 *
 * @example
 * consumerRegistryKey('pii'); // 'consumers/pii.json'
 */
export function consumerRegistryKey(keyring: string): string {
  return `${CONSUMER_REGISTRY_PREFIX}${keyring}.json`;
}
