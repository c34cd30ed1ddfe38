/**
 * Version keys: the bounded cache of unwrapped version keys and the catalog-backed provider
 * that the envelope layer reads them from.
 */
export { VersionKeyCache } from './version-key-cache';
export type { VersionKeyCacheOptions } from './version-key-cache';
export { CatalogKeyProvider } from './catalog-key-provider';
export { DEFAULT_CATALOG_TTL_MS } from '../vocabulary/catalog-cache';
export type { CatalogKeyProviderOptions } from './catalog-key-provider';
export { RecordingKeyVault } from './recording-vault';
export type { RecordingKeyVaultOptions } from './recording-vault';
export { DeniedDecryptAudit } from './denied-decrypt-audit';
export type { DeniedDecryptAuditOptions } from './denied-decrypt-audit';
