import { CreateKeyCommand, KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import type { Catalog, VersionState } from '../../../shared/catalog/model';
import { ValidationError } from '../../../shared/errors';
import { handler } from '../../../functions/key-access/handler';
import { KmsGrantStore } from '../../../shared/adapters/aws/kms-grant-store';
import { reconcileKeyAccess, type KeyAccessServices } from '../../../shared/usecases/key-access';
import { ENV, KEY_GRANTEES_ENV } from '../../../shared/config/env-names';

const APP = 'arn:aws:iam::123456789012:role/app';
const ESCROW = 'arn:aws:iam::123456789012:role/escrow';
// The rest of the configuration every function is deployed with (shared/config/load-config.ts).
const SHARED_CONFIG = {
  AWS_REGION: 'us-east-1',
  [ENV.escrowBucket]: 'rekey-escrow',
  [ENV.escrowKeyArn]: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ac',
  [ENV.eventBusName]: 'rekey',
};

function catalogWith(states: VersionState[]): Catalog {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    schema: 1,
    keyring: 'pii',
    generation: states.length,
    policy: { rotateEverySeconds: 86_400, graceSeconds: 3600, propagationSeconds: 60, retentionSeconds: 86_400, quietSeconds: 0, destroyAfterRetention: false },
    versions: states.map((state, i) => ({ version: i + 1, state, wrappingKeyId: 'k', createdAt: at })),
    createdAt: at,
    updatedAt: at,
  };
}

describe('key-access function (moto KMS)', () => {
  describe('handler configuration', () => {
    const saved = { ...process.env };
    // The handler logs every failure and emits its metric on stdout: kept, and read, by the test.
    let errorLog: string[];
    beforeEach(() => {
      errorLog = [];
      jest.spyOn(console, 'error').mockImplementation((line: unknown) => void errorLog.push(String(line)));
      jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    });
    afterEach(() => {
      process.env = { ...saved };
      jest.restoreAllMocks();
    });

    it.each<[string, string]>([
      [ENV.keyringKeys, '{not json'],
      [KEY_GRANTEES_ENV, '[1,'],
    ])('rejects %s that is not JSON with a ValidationError naming it', async (name, value) => {
      // Prepare
      process.env = {
        ...saved,
        ...SHARED_CONFIG,
        [ENV.catalogBucket]: 'rekey-catalog',
        [ENV.keyringKeys]: JSON.stringify({ pii: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }),
        [KEY_GRANTEES_ENV]: JSON.stringify({ pii: [APP] }),
        [name]: value,
      };
      // Act
      const run = handler({});
      // Assess
      await expect(run).rejects.toThrow(ValidationError);
      await expect(run).rejects.toThrow(`invalid configuration: ${name}`);
      expect(errorLog.map((l) => JSON.parse(l) as unknown)).toEqual([{ message: 'key access failed', error: expect.objectContaining({ code: 'VALIDATION', name: 'ValidationError' }) }]);
    });

    it('counts a refused event in HandlerFailures (function, code) and still fails the invocation', async () => {
      // Prepare
      process.env = {
        ...saved,
        ...SHARED_CONFIG,
        [ENV.catalogBucket]: 'rekey-catalog',
        [ENV.keyringKeys]: JSON.stringify({ pii: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }),
        [KEY_GRANTEES_ENV]: JSON.stringify({ pii: [APP] }),
      };
      const lines: string[] = [];
      const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
      // Act
      const run = handler({ bogus: true });
      try {
        await expect(run).rejects.toThrow(ValidationError);
      } finally {
        spy.mockRestore();
      }
      // Assess
      const points = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"HandlerFailures"')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(points).toEqual([expect.objectContaining({ function: 'key-access', code: 'VALIDATION', HandlerFailures: 1 })]);
    });
  });

  describe('reconcileKeyAccess', () => {
    let kms: KMSClient;
    let keyId: string;
    let states: VersionState[];
    let deps: KeyAccessServices;

    const grants = async (): Promise<{ grantee: string; version: string }[]> => {
      const out = await kms.send(new ListGrantsCommand({ KeyId: keyId }));
      return (out.Grants ?? []).map((g) => ({ grantee: g.GranteePrincipal ?? '', version: g.Constraints?.EncryptionContextEquals?.['version'] ?? '' })).sort((a, b) => `${a.grantee}${a.version}`.localeCompare(`${b.grantee}${b.version}`));
    };

    beforeAll(async () => {
      kms = new KMSClient({ endpoint: process.env['REKEY_TEST_MOTO_URL'], region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
      keyId = (await kms.send(new CreateKeyCommand({ Description: `key-access test ${Date.now()}` }))).KeyMetadata?.KeyId ?? '';
      deps = {
        grants: new KmsGrantStore({ client: kms }),
        catalogs: { get: async () => ({ catalog: catalogWith(states), etag: 'e' }) },
        keyringKeys: { pii: keyId },
        grantees: { pii: [APP, ESCROW] },
        catalogPrefix: 'catalog/',
      };
    });

    it('creates a Decrypt grant per grantee and readable version, exactly once', async () => {
      // Prepare
      states = ['deprecated', 'active'];
      // Act
      const first = await reconcileKeyAccess({ keyrings: ['pii'] }, deps);
      const second = await reconcileKeyAccess({ keyrings: ['pii'] }, deps);
      // Assess
      expect(first).toEqual([{ keyring: 'pii', created: 4, revoked: 0 }]);
      expect(second).toEqual([{ keyring: 'pii', created: 0, revoked: 0 }]);
      expect(await grants()).toEqual([
        { grantee: APP, version: '1' },
        { grantee: APP, version: '2' },
        { grantee: ESCROW, version: '1' },
        { grantee: ESCROW, version: '2' },
      ]);
    });

    it('revokes a compromised version at once, even before the catalog says so', async () => {
      // Prepare
      states = ['deprecated', 'active'];
      // Act
      await reconcileKeyAccess({ keyrings: ['pii'], revokedNow: { keyring: 'pii', version: 2 } }, deps);
      // Assess
      expect(await grants()).toEqual([
        { grantee: APP, version: '1' },
        { grantee: ESCROW, version: '1' },
      ]);
    });

    it('drops the grants of a version the catalog disabled', async () => {
      // Prepare
      states = ['disabled', 'revoked', 'active'];
      // Act
      const result = await reconcileKeyAccess({ keyrings: ['pii'] }, deps);
      // Assess
      expect(result).toEqual([{ keyring: 'pii', created: 2, revoked: 2 }]);
      expect(await grants()).toEqual([
        { grantee: APP, version: '3' },
        { grantee: ESCROW, version: '3' },
      ]);
    });
  });
});
