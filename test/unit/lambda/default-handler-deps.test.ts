import { defaultHandlerDeps } from '../../../shared/lambda/create-handler';
import { ValidationError } from '../../../shared/errors';
import { buildRotateServices } from '../../../shared/compose/aws/rotate-services';
import { ENV } from '../../../shared/config/env-names';

const VALID_ENV: Record<string, string> = {
  [ENV.region]: 'us-east-1',
  [ENV.catalogBucket]: 'rekey-catalog',
  [ENV.keyringKeys]: JSON.stringify({ payments: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }),
  [ENV.escrowBucket]: 'rekey-escrow',
  [ENV.escrowKeyArn]: 'arn:aws:kms:us-east-1:123456789012:key/abcd1234-12ab-34cd-56ef-1234567890ab',
  [ENV.eventBusName]: 'default',
};

describe('defaultHandlerDeps', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    for (const name of Object.keys(process.env)) if (name.startsWith('REKEY_') && !name.startsWith('REKEY_TEST_')) delete process.env[name];
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  });
  afterAll(() => {
    process.env = saved;
  });

  describe('services', () => {
    it('builds from the environment on first use, once', async () => {
      // Prepare
      let builds = 0;
      const deps = defaultHandlerDeps('rotate', (config, options) => {
        builds += 1;
        return buildRotateServices(config, options);
      });
      const buildsBefore = builds;
      Object.assign(process.env, VALID_ENV);
      // Act
      const first = await deps.services();
      const second = await deps.services();
      // Assess
      expect(buildsBefore).toBe(0);
      expect(builds).toBe(1);
      expect(second).toBe(first);
      expect(first.config.catalogBucket).toBe('rekey-catalog');
    });

    it('does not keep a failed build: the next call reads the configuration again', async () => {
      // Prepare
      const deps = defaultHandlerDeps('rotate', buildRotateServices);
      const failed = (): unknown => deps.services();
      expect(failed).toThrow(ValidationError);
      Object.assign(process.env, VALID_ENV);
      // Act
      const services = await deps.services();
      // Assess
      expect(services.config.escrowBucket).toBe('rekey-escrow');
      expect(Object.keys(services).sort()).toEqual(['clock', 'close', 'config', 'keyrings', 'kmsCalls']);
    });
  });
});
