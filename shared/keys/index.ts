/**
 * Version keys: the bounded cache of unwrapped version keys and the catalog-backed provider
 * that the envelope layer reads them from.
 */
export { VersionKeyCache } from './version-key-cache';
export type { VersionKeyCacheOptions } from './version-key-cache';
export { CatalogKeyProvider } from './catalog-key-provider';
export type { CatalogKeyProviderOptions } from './catalog-key-provider';
