/** Environment variable of the key-access function only: JSON object keyring → grantee role ARNs. */
export const KEY_GRANTEES_ENV = 'REKEY_KEY_GRANTEES';
