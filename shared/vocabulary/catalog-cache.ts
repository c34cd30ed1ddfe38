/**
 * How long a process may trust a catalog it read: one value for every reader and writer. The
 * key provider serves versions from a catalog this old at most, and an emergency revocation
 * counts the records left only once this long has passed since it revoked, so a writer that
 * still encrypted under the revoked version from its cached catalog has stopped by then. Two
 * defaults would let the revocation declare itself complete while a reader still trusted the
 * old catalog.
 *
 * Kept free of imports: the core (keys, reencrypt) and the configuration both read it.
 */

/**
 * The catalog cache lifetime when none is configured, in milliseconds: CatalogKeyProvider's
 * `catalogTtlMs` and EmergencyRevocation's settle window. `REKEY_CATALOG_TTL_MS` overrides it
 * (shared/config).
 */
export const DEFAULT_CATALOG_TTL_MS = 60_000;

/**
 * The longest catalog cache lifetime accepted from configuration, in milliseconds (one day): a
 * revocation waits this long before it can complete, so a longer one is a typo, not a policy.
 */
export const MAX_CATALOG_TTL_MS = 86_400_000;
