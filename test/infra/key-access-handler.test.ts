import { CreateKeyCommand, KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import type { Catalog, VersionState } from '../../shared/catalog/model';
import { ValidationError } from '../../shared/errors';
import { handler, parseKeyAccessEvent, reconcileKeyAccess, type KeyAccessDeps } from '../../infra/key-access/handler';
import { KEY_GRANTEES_ENV } from '../../infra/key-access/env-names';
import { ENV } from '../../shared/config/env-names';

const APP = 'arn:aws:iam::123456789012:role/app';
const ESCROW = 'arn:aws:iam::123456789012:role/escrow';

function catalogWith(states: VersionState[]): Catalog {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    schema: 1,
    keyring: 'pii',
    generation: states.length,
    policy: { rotateEverySeconds: 86_400, graceSeconds: 3600, propagationSeconds: 60, retentionSeconds: 86_400 },
    versions: states.map((state, i) => ({ version: i + 1, state, wrappingKeyId: 'k', createdAt: at })),
    createdAt: at,
    updatedAt: at,
  };
}

describe('key-access handler', () => {
  describe('parseKeyAccessEvent', () => {
    it('reads a compromise event as an immediate revocation of that version', () => {
      // Prepare
      const event = { source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'pii', version: 3, reason: 'leak' } };
      // Act
      const request = parseKeyAccessEvent(event, ['pii', 'ops'], 'catalog/');
      // Assess
      expect(request).toEqual({ keyrings: ['pii'], revokedNow: { keyring: 'pii', version: 3 } });
    });

    it('maps a catalog write to its keyring and a bare schedule to every keyring', () => {
      // Prepare
      const written = { source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: 'b' }, object: { key: 'catalog/ops.json' } } };
      // Act / Assess
      expect(parseKeyAccessEvent(written, ['pii', 'ops'], 'catalog/')).toEqual({ keyrings: ['ops'] });
      expect(parseKeyAccessEvent({}, ['pii', 'ops'], 'catalog/')).toEqual({ keyrings: ['pii', 'ops'] });
    });

    it.each<[string, unknown]>([
      ['an unknown keyring', { keyring: 'payments' }],
      ['a non-catalog object', { source: 'aws.s3', detail: { object: { key: 'sweeps/x.json' } } }],
      ['a compromise without version', { source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'pii' } }],
      ['garbage', 'revoke everything'],
    ])('throws ValidationError for %s', (_name, event) => {
      // Prepare / Act / Assess
      expect(() => parseKeyAccessEvent(event, ['pii'], 'catalog/')).toThrow(ValidationError);
    });
  });

  describe('handler configuration', () => {
    const saved = { ...process.env };
    afterEach(() => {
      process.env = { ...saved };
    });

    it.each<[string, string]>([
      [ENV.keyringKeys, '{not json'],
      [KEY_GRANTEES_ENV, '[1,'],
    ])('rejects %s that is not JSON with a ValidationError naming it', async (name, value) => {
      // Prepare
      process.env = {
        ...saved,
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
    });

    it('counts a refused event in HandlerFailures (function, code) and still fails the invocation', async () => {
      // Prepare
      process.env = {
        ...saved,
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
    let deps: KeyAccessDeps;

    const grants = async (): Promise<{ grantee: string; version: string }[]> => {
      const out = await kms.send(new ListGrantsCommand({ KeyId: keyId }));
      return (out.Grants ?? []).map((g) => ({ grantee: g.GranteePrincipal ?? '', version: g.Constraints?.EncryptionContextEquals?.['version'] ?? '' })).sort((a, b) => `${a.grantee}${a.version}`.localeCompare(`${b.grantee}${b.version}`));
    };

    beforeAll(async () => {
      kms = new KMSClient({ endpoint: process.env['REKEY_TEST_MOTO_URL'], region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
      keyId = (await kms.send(new CreateKeyCommand({ Description: `key-access test ${Date.now()}` }))).KeyMetadata?.KeyId ?? '';
      deps = { kms, catalog: { get: async () => ({ catalog: catalogWith(states), etag: 'e' }) }, keyringKeys: { pii: keyId }, grantees: { pii: [APP, ESCROW] } };
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
