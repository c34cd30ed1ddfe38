/**
 * Version keys and envelopes on AWS: the CatalogKeyProvider over the core's catalog store and
 * key vault, and the EnvelopeClient over it. Only the functions that read or rewrite records
 * (reencrypt, revoke) build them.
 */
import { EnvelopeClient } from '../../envelope/envelope-client';
import { CatalogKeyProvider } from '../../keys';
import type { AwsCore } from './aws-core';

/** The provider and the envelope operations over it. */
export interface KeyProviderParts {
  readonly provider: CatalogKeyProvider;
  readonly envelopes: EnvelopeClient;
}

/**
 * Builds the key provider and the envelope client.
 *
 * @example
 * const { provider, envelopes } = buildKeyProvider(core);
 */
export function buildKeyProvider(core: AwsCore): KeyProviderParts {
  // REKEY_CATALOG_TTL_MS: the same lifetime the revocation waits out before it calls itself complete.
  const ttl = core.config.catalogTtlMs;
  const provider = new CatalogKeyProvider({ store: core.catalogs, vault: core.vault, ...(ttl === undefined ? {} : { catalogTtlMs: ttl }) });
  return { provider, envelopes: new EnvelopeClient(provider) };
}
