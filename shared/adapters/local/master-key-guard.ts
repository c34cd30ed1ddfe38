/**
 * The check a local home runs before any command: the master key file must be the one the
 * stored version keys were wrapped under. Without it, a deleted or replaced `master.key` was
 * silently recreated and `rotate`/`tick` activated versions under the new key, so whichever key
 * was restored later, one set of records stayed unreadable.
 */
import { KeyUnavailableError } from '../../errors';
import type { CatalogStore } from '../../ports/catalog-store';
import { foreignMasterKeyMessage, missingMasterKeyMessage, type FileKeyVault } from './file-key-vault';

/** The prefix of wrapping key ids of the local vault (`local:<fingerprint>`); others belong to other vaults. */
const LOCAL_KEY_PREFIX = 'local:';

/**
 * Whether the home holds no keyring: the one state in which a new master key strands nothing.
 *
 * @example
 * const vault = new FileKeyVault({ home, createKey: () => homeIsEmpty(catalogs) });
 */
export async function homeIsEmpty(catalogs: Pick<CatalogStore, 'list'>): Promise<boolean> {
  return (await catalogs.list()).length === 0;
}

/**
 * Refuses a home whose master key is missing while keyrings exist, or differs from the key any
 * stored local version key was wrapped under. Reads only; creates and changes nothing.
 *
 * @example
 * await assertMasterKeyFits(new FileKeyVault({ home, createKey: 'never' }), catalogs);
 * @throws KeyUnavailableError naming the key's path (and, for a foreign key, the keyring and both key ids).
 */
export async function assertMasterKeyFits(vault: FileKeyVault, catalogs: Pick<CatalogStore, 'list' | 'get'>): Promise<void> {
  const keyrings = await catalogs.list();
  if (keyrings.length === 0) return;
  const present = await vault.presentKeyId();
  if (present === undefined) throw new KeyUnavailableError(missingMasterKeyMessage(vault.keyPath));
  for (const keyring of keyrings) {
    const stored = await catalogs.get(keyring);
    // Destroyed versions hold no wrapped key: whatever key wrapped them no longer matters.
    const foreign = stored?.catalog.versions.find((v) => v.wrappedKey !== undefined && v.wrappingKeyId.startsWith(LOCAL_KEY_PREFIX) && v.wrappingKeyId !== present);
    if (foreign !== undefined) throw new KeyUnavailableError(foreignMasterKeyMessage(vault.keyPath, keyring, foreign.wrappingKeyId, present));
  }
}
