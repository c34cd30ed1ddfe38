/**
 * The application client over a local rekey home (file key vault, SQLite catalog): the same
 * {@link RekeyClient} an application uses on AWS, so its tests run its own code without AWS.
 * The local backends load when the first local client is made, never in a Lambda that only
 * creates AWS clients.
 */
import { DecryptMetrics } from '../lambda/decrypt-metrics';
import { EnvelopeClient } from '../envelope/envelope-client';
import { ValidationError } from '../errors';
import { AppRekeyClient } from './app-client';
import type { LocalRekeyClientOptions, RekeyClient } from './client-types';

/** Who the audit trail of the local home names for keyrings this client creates. */
const LOCAL_ACTOR = 'app:local-client';

/**
 * Opens (creating if needed) the rekey home `home` and returns a client over it; `keyrings`
 * are created there when missing. Close it when the test is done.
 *
 * @example
 * const rekey = await createLocalRekeyClient({ home: tmpHome, keyrings: ['pii'] });
 * const envelope = await rekey.encrypt('pii', Buffer.from('4111'));
 * await rekey.close();
 * @throws ValidationError for a missing home; KeyUnavailableError for a home whose master key is missing or foreign.
 */
export async function createLocalRekeyClient(options: LocalRekeyClientOptions): Promise<RekeyClient> {
  if (options === null || typeof options !== 'object' || typeof options.home !== 'string' || options.home === '') {
    throw new ValidationError('createLocalRekeyClient needs { home }: the folder of the local rekey home');
  }
  const [{ openLocal }, { DiscardMetrics }] = await Promise.all([import('../compose/local/local-services'), import('../compose/local/discard-metrics')]);
  const rk = await openLocal({
    home: options.home,
    actor: LOCAL_ACTOR,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.catalogTtlMs === undefined ? {} : { catalogTtlMs: options.catalogTtlMs }),
  });
  try {
    for (const keyring of options.keyrings ?? []) {
      // A home reused across test runs already has it; a deleted name is refused by createKeyring, as it should be.
      if ((await rk.catalogs.get(keyring)) === undefined) await rk.keyrings.createKeyring(keyring, undefined, { actor: LOCAL_ACTOR });
    }
  } catch (err) {
    await rk.close();
    throw err;
  }
  const decryptMetrics = new DecryptMetrics(options.metrics ?? new DiscardMetrics());
  // The home's own provider (key use recorded, revoked reads audited), with this client's counts.
  const envelopes = new EnvelopeClient(rk.provider, { observer: decryptMetrics });
  return new AppRekeyClient({ envelopes, decryptMetrics, release: () => rk.close() });
}
