/**
 * The application client over a real local rekey home (SQLite catalog, file key vault): what an
 * application's own tests run on instead of AWS. Envelopes cross between it and the home's own
 * wiring (openLocal, which the CLI uses) in both directions.
 */
import { createLocalRekeyClient } from '../../../shared/app/client';
import { openLocal } from '../../../shared/compose/local/local-services';
import { RevokedVersionError, UnknownKeyringError } from '../../../shared/errors';
import { METRIC } from '../../../shared/vocabulary/metric-names';
import { scratchDir } from '../../support/scratch';
import { RecordingMetrics } from '../functions/support/harness';

describe('createLocalRekeyClient', () => {
  it('creates the named keyrings once and round-trips with the home the CLI opens', async () => {
    // Prepare
    const home = scratchDir('app-local-');
    const client = await createLocalRekeyClient({ home, keyrings: ['pii'] });
    // Act
    const envelope = await client.encrypt('pii', 'customer 42', { context: { customer: 'c-42' } });
    await client.close();
    const again = await createLocalRekeyClient({ home, keyrings: ['pii'] });
    const reread = await again.decrypt(envelope, { context: { customer: 'c-42' } });
    const rk = await openLocal({ home, mustExist: true });
    const byCli = await rk.envelopes.decrypt(envelope, { context: { customer: 'c-42' } });
    const fromCli = await rk.envelopes.encrypt('pii', Buffer.from('from the CLI'));
    // Assess
    expect(reread.plaintext.toString()).toBe('customer 42');
    expect(byCli.plaintext.toString()).toBe('customer 42');
    expect((await again.decrypt(fromCli)).plaintext.toString()).toBe('from the CLI');
    expect((await rk.keyrings.get('pii')).versions.map((v) => [v.version, v.state])).toEqual([[1, 'active']]);
    await rk.close();
    await again.close();
  });

  it('refuses an unknown keyring and a revoked version as it would on AWS, and counts the failure', async () => {
    // Prepare
    const home = scratchDir('app-local-');
    const metrics = new RecordingMetrics();
    const client = await createLocalRekeyClient({ home, keyrings: ['orders'], metrics });
    const envelope = await client.encrypt('orders', 'order 7');
    const rk = await openLocal({ home, mustExist: true });
    await rk.keyrings.revoke('orders', 1, { actor: 'test', reason: 'TEST-1' });
    await rk.close();
    const fresh = await createLocalRekeyClient({ home, metrics });
    // Act / Assess
    await expect(fresh.encrypt('nope', 'x')).rejects.toThrow(UnknownKeyringError);
    await expect(fresh.decrypt(envelope)).rejects.toThrow(RevokedVersionError);
    fresh.flushMetrics();
    expect(metrics.values(METRIC.decryptFailures, { keyring: 'orders', version: 1 })).toEqual([1]);
    await fresh.close();
    await client.close();
  });

  it('refreshes an envelope of a superseded version to the active one and leaves a current one alone', async () => {
    // Prepare: v1 encrypts, then a rotation whose propagation window has passed makes v2 active.
    const home = scratchDir('app-local-');
    let now = new Date('2030-01-01T00:00:00.000Z');
    const clock = (): Date => now;
    const rk = await openLocal({ home, clock, actor: 'setup' });
    await rk.keyrings.createKeyring('pii', { propagationSeconds: 60 }, { actor: 'setup', now });
    const client = await createLocalRekeyClient({ home, clock });
    const old = await client.encrypt('pii', 'customer 42', { context: { customer: 'c-42' } });
    await rk.keyrings.rotate('pii', { actor: 'setup', reason: 'test', now });
    now = new Date(now.getTime() + 120_000);
    await rk.keyrings.tick({ now });
    await rk.close();
    const later = await createLocalRekeyClient({ home, clock });
    // Act
    const fresh = await later.refresh(old, { context: { customer: 'c-42' } });
    const again = fresh === undefined ? undefined : await later.refresh(fresh, { context: { customer: 'c-42' } });
    // Assess
    expect(later.inspect(old).version).toBe(1);
    expect(fresh).toBeDefined();
    expect(later.inspect(fresh as Buffer).version).toBe(2);
    expect((await later.decrypt(fresh as Buffer, { context: { customer: 'c-42' } })).plaintext.toString()).toBe('customer 42');
    expect(again).toBeUndefined();
    await expect(later.refresh(old, { context: { customer: 'someone else' } })).rejects.toThrow();
    await later.close();
    await client.close();
  });
});
