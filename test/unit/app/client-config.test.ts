import { checkClientOptions, configFromOutputs, resolveClientConfig } from '../../../shared/app/client-config';
import { createLocalRekeyClient, createRekeyClient } from '../../../shared/app/client';
import type { RekeyClientOptions } from '../../../shared/app/client-types';
import { ValidationError } from '../../../shared/errors';

const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555';
const OUTPUTS = {
  CatalogBucket: 'rekey-catalog',
  CatalogPrefix: 'catalog/',
  KeyringKeys: JSON.stringify({ pii: KEY }),
  EscrowBucket: 'rekey-escrow',
  EscrowKeyArn: KEY,
  EventBusName: 'rekey-bus',
  FunctionNames: JSON.stringify({ rotate: 'rekey-rotate' }),
  AlarmTopicArn: 'arn:aws:sns:eu-west-1:111122223333:alarms',
  SomethingNew: 'ignored',
};

describe('application client configuration', () => {
  describe('checkClientOptions', () => {
    it.each<[string, unknown]>([
      ['no source', {}],
      ['two sources', { env: {}, outputs: {} }],
      ['a typo', { evn: {} }],
      ['a bad stack name', { stackName: 'my stack' }],
      ['a zero catalog lifetime', { env: {}, catalogTtlMs: 0 }],
      ['a fractional key-cache lifetime', { env: {}, keyCache: { ttlMs: 1.5 } }],
      ['an unknown key-cache option', { env: {}, keyCache: { ttl: 5 } }],
      ['not an object', null],
    ])('throws ValidationError for %s', (_what, options) => {
      // Act / Assess
      expect(() => checkClientOptions(options as RekeyClientOptions)).toThrow(ValidationError);
    });

    it('accepts each single source', () => {
      // Act / Assess
      expect(() => checkClientOptions({ env: {} })).not.toThrow();
      expect(() => checkClientOptions({ outputs: {} })).not.toThrow();
      expect(() => checkClientOptions({ stackName: 'Rekey-prod', region: 'eu-west-1', keyCache: { ttlMs: 60_000 } })).not.toThrow();
    });
  });

  describe('configFromOutputs', () => {
    it('feeds each output the variable it feeds on the functions and ignores the others', () => {
      // Act
      const config = configFromOutputs(OUTPUTS, 'eu-west-1');
      // Assess
      expect(config).toMatchObject({ region: 'eu-west-1', catalogBucket: 'rekey-catalog', catalogPrefix: 'catalog/', keyringKeys: { pii: KEY }, escrowBucket: 'rekey-escrow' });
    });

    it('throws ValidationError naming what the outputs lack', () => {
      // Act / Assess
      expect(() => configFromOutputs({ CatalogBucket: 'rekey-catalog' })).toThrow(/stack outputs .*REKEY_KEYRING_KEYS is required/);
    });
  });

  describe('resolveClientConfig', () => {
    it('reads the environment with the names the functions read, the explicit region winning', async () => {
      // Prepare
      const env = { REKEY_CATALOG_BUCKET: 'b-1', REKEY_KEYRING_KEYS: JSON.stringify({ pii: KEY }), REKEY_ESCROW_BUCKET: 'e-1', REKEY_ESCROW_KEY_ARN: KEY, REKEY_EVENT_BUS_NAME: 'bus', AWS_REGION: 'us-east-1' };
      // Act
      const config = await resolveClientConfig({ env, region: 'eu-west-1' });
      // Assess
      expect(config).toMatchObject({ region: 'eu-west-1', catalogBucket: 'b-1' });
    });

    it('refuses a catalog lifetime longer than the stack revocation waits for', async () => {
      // Prepare
      const env = { REKEY_CATALOG_BUCKET: 'b-1', REKEY_KEYRING_KEYS: JSON.stringify({ pii: KEY }), REKEY_ESCROW_BUCKET: 'e-1', REKEY_ESCROW_KEY_ARN: KEY, REKEY_EVENT_BUS_NAME: 'bus', REKEY_CATALOG_TTL_MS: '30000' };
      // Act / Assess
      await expect(resolveClientConfig({ env, catalogTtlMs: 60_000 })).rejects.toThrow(/longer than the stack's catalog lifetime \(30000 ms\)/);
      await expect(resolveClientConfig({ env, catalogTtlMs: 10_000 })).resolves.toMatchObject({ catalogTtlMs: 30_000 });
      await expect(resolveClientConfig({ outputs: OUTPUTS, catalogTtlMs: 60_001 })).rejects.toThrow(ValidationError);
    });
  });

  describe('createRekeyClient and createLocalRekeyClient', () => {
    it('fail with the configuration problem before anything is built', async () => {
      // Act / Assess
      await expect(createRekeyClient({ env: {} })).rejects.toThrow(/REKEY_CATALOG_BUCKET is required/);
      await expect(createLocalRekeyClient({ home: '' })).rejects.toThrow(ValidationError);
    });
  });
});
