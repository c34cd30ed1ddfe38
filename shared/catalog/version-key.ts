/**
 * Generating the wrapped key of a new version: the catalog stores only the wrapped form, so the
 * plaintext is never asked for when the vault can avoid it, and wiped at once when it cannot.
 */
import type { KeyVault } from '../ports/key-vault';
import type { NewVersionKey } from './lifecycle';

/**
 * A fresh version key of `keyring`, wrapped by the vault under exactly `{ keyring, version }`.
 *
 * @example
 * const key = await generateVersionKey(vault, 'payments', 3, 'arn:aws:kms:...');
 */
export async function generateVersionKey(vault: KeyVault, keyring: string, version: number, wrappingKeyId: string | undefined): Promise<NewVersionKey> {
  const context = { keyring, version: String(version) };
  // KMS GenerateDataKeyWithoutPlaintext where the vault offers it.
  if (vault.generateWrappedKey !== undefined) {
    const wrapped = await vault.generateWrappedKey(context, wrappingKeyId);
    return { wrappedKey: wrapped.wrapped.toString('base64'), wrappingKeyId: wrapped.wrappingKeyId };
  }
  const key = await vault.generateKey(context, wrappingKeyId);
  key.plaintext.fill(0);
  return { wrappedKey: key.wrapped.toString('base64'), wrappingKeyId: key.wrappingKeyId };
}
