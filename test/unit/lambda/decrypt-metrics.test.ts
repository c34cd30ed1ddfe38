import { randomBytes } from 'node:crypto';
import { EnvelopeClient } from '../../../shared/envelope';
import type { VersionKeyProvider } from '../../../shared/envelope/api';
import { DecryptError, RevokedVersionError } from '../../../shared/errors';
import { DecryptMetrics, UNPARSEABLE } from '../../../shared/lambda/decrypt-metrics';
import type { MetricsPublisher } from '../../../shared/lambda/rekey-metrics';

/** Two versions of keyring 'orders'; version 1 is revoked for ordinary readers. */
function provider(): VersionKeyProvider {
  const keys = new Map([[1, randomBytes(32)], [2, randomBytes(32)]]);
  let active = 1;
  return {
    forEncrypt: async () => ({ version: active, key: keys.get(active)! }),
    forDecrypt: async (_k, version, purpose) => {
      if (version === 1 && active === 2 && purpose === 'read') throw new RevokedVersionError('orders', 1);
      return keys.get(version)!;
    },
    // Test hook: move to version 2 and revoke 1.
    set activeVersion(v: number) {
      active = v;
    },
  } as VersionKeyProvider & { activeVersion: number };
}

class Recording implements MetricsPublisher {
  public readonly points: Array<{ name: string; value: number; dims: unknown }> = [];
  public put(name: string, value: number, dims?: unknown): void {
    this.points.push({ name, value, dims });
  }
}

describe('DecryptMetrics', () => {
  describe('as an EnvelopeClient observer', () => {
    it('counts attempts and failures by keyring and version and publishes them on flush', async () => {
      // Prepare
      const p = provider() as VersionKeyProvider & { activeVersion: number };
      const recording = new Recording();
      const metrics = new DecryptMetrics(recording);
      const client = new EnvelopeClient(p, { observer: metrics });
      const v1 = await client.encrypt('orders', Buffer.from('one'));
      const tampered = Buffer.from(v1);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
      // Act
      await client.decrypt(v1);
      await client.decrypt(v1);
      await expect(client.decrypt(tampered)).rejects.toBeInstanceOf(DecryptError);
      await expect(client.decrypt(Buffer.from('not an envelope'))).rejects.toBeInstanceOf(DecryptError);
      p.activeVersion = 2;
      await expect(client.decrypt(v1)).rejects.toBeInstanceOf(RevokedVersionError);
      const v2 = await client.encrypt('orders', Buffer.from('two'));
      await client.decrypt(v2);
      metrics.flush();
      // Assess
      expect(recording.points).toEqual(
        expect.arrayContaining([
          { name: 'DecryptAttempts', value: 4, dims: { keyring: 'orders', version: 1 } },
          { name: 'DecryptFailures', value: 2, dims: { keyring: 'orders', version: 1 } },
          { name: 'DecryptAttempts', value: 1, dims: { keyring: UNPARSEABLE } },
          { name: 'DecryptFailures', value: 1, dims: { keyring: UNPARSEABLE } },
          { name: 'DecryptAttempts', value: 1, dims: { keyring: 'orders', version: 2 } },
          { name: 'DecryptFailures', value: 0, dims: { keyring: 'orders', version: 2 } },
        ]),
      );
      expect(recording.points).toHaveLength(6);
    });

    it('starts from zero after a flush and publishes nothing when nothing happened', async () => {
      // Prepare
      const recording = new Recording();
      const metrics = new DecryptMetrics(recording);
      const client = new EnvelopeClient(provider(), { observer: metrics });
      await client.decrypt(await client.encrypt('orders', Buffer.from('x')));
      metrics.flush();
      // Act
      metrics.flush();
      // Assess
      expect(recording.points).toHaveLength(2);
    });

    it('never lets a throwing observer change the outcome of a decryption', async () => {
      // Prepare
      const client = new EnvelopeClient(provider(), {
        observer: {
          decrypted: () => {
            throw new Error('metrics backend down');
          },
          failed: () => {
            throw new Error('metrics backend down');
          },
        },
      });
      const envelope = await client.encrypt('orders', Buffer.from('still works'));
      // Act
      const opened = await client.decrypt(envelope);
      const refused = client.decrypt(Buffer.from('garbage'));
      // Assess
      expect(opened.plaintext.toString()).toBe('still works');
      await expect(refused).rejects.toBeInstanceOf(DecryptError);
    });
  });
});
