import { handler as cacheInvalidate } from '../../../functions/cache-invalidate/handler';
import { handler as escrow } from '../../../functions/escrow/handler';
import { handler as gracePeriod } from '../../../functions/grace-period/handler';
import { handler as reencrypt } from '../../../functions/reencrypt/handler';
import { handler as revoke } from '../../../functions/revoke/handler';
import { handler as rotate } from '../../../functions/rotate/handler';

const context = { functionName: 'rekey-unit', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rekey-unit' } as never;

// Valid events: they pass validation, so the handler goes on to read its configuration.
const CASES: Array<[string, (e: unknown, c: never) => Promise<unknown>, unknown]> = [
  ['rotate', rotate, { keyring: 'payments' }],
  ['grace-period', gracePeriod, {}],
  ['reencrypt', reencrypt, { BatchInput: { keyring: 'payments', bucket: 'data-bucket', prefix: 'r/', mode: 'rewrap' }, Items: [{ Key: 'r/1' }] }],
  ['cache-invalidate', cacheInvalidate, { keyring: 'payments' }],
  ['escrow', escrow, { action: 'drill' }],
  ['revoke', revoke, { version: '0', id: 'e-1', source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'payments', version: 2, reason: 'leak' } }],
];

describe('function entry points', () => {
  const saved = { ...process.env };
  beforeAll(() => {
    for (const name of Object.keys(process.env)) if (name.startsWith('REKEY_') && !name.startsWith('REKEY_TEST_')) delete process.env[name];
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  });
  afterAll(() => {
    process.env = saved;
  });

  describe('handler', () => {
    it.each(CASES)('%s fails without retry, naming the missing configuration', async (_name, handler, event) => {
      // Prepare
      const valid = event;
      // Act
      const out = await handler(valid, context);
      // Assess
      expect(out).toMatchObject({ ok: false, error: { code: 'VALIDATION', retryable: false } });
      expect((out as { error: { message: string } }).error.message).toContain('REKEY_CATALOG_BUCKET is required');
    });

    it.each(CASES)('%s rejects a malformed event before reading any configuration', async (_name, handler) => {
      // Prepare
      const malformed = { nonsense: true };
      // Act
      const out = await handler(malformed, context);
      // Assess
      expect(out).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
      expect((out as { error: { message: string } }).error.message).toMatch(/^invalid event: /);
    });
  });
});
