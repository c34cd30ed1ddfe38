const context = { functionName: 'rekey-unit', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rekey-unit' } as never;

type Handler = (e: unknown, c: never) => Promise<unknown>;

// The entry points build their logger when their module loads, so the modules load only once
// the log level below is set (an expected refusal is not noise in the test output).
const HANDLERS: Record<string, () => Promise<Handler>> = {
  rotate: async () => (await import('../../../functions/rotate/handler')).handler,
  'grace-period': async () => (await import('../../../functions/grace-period/handler')).handler,
  reencrypt: async () => (await import('../../../functions/reencrypt/handler')).handler,
  'cache-invalidate': async () => (await import('../../../functions/cache-invalidate/handler')).handler,
  escrow: async () => (await import('../../../functions/escrow/handler')).handler,
  revoke: async () => (await import('../../../functions/revoke/handler')).handler,
};

// Valid events: they pass validation, so the handler goes on to read its configuration.
const CASES: Array<[string, unknown]> = [
  ['rotate', { keyring: 'payments' }],
  ['grace-period', {}],
  ['reencrypt', { BatchInput: { keyring: 'payments', bucket: 'data-bucket', prefix: 'r/', mode: 'rewrap' }, Items: [{ Key: 'r/1' }] }],
  ['cache-invalidate', { keyring: 'payments' }],
  ['escrow', { action: 'drill' }],
  ['revoke', { version: '0', id: 'e-1', source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'payments', version: 2, reason: 'leak' } }],
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
    it.each(CASES)('%s fails without retry, naming the missing configuration', async (name, event) => {
      // Prepare
      const handler = await HANDLERS[name]!();
      const valid = event;
      // Act
      const out = await handler(valid, context);
      // Assess
      expect(out).toMatchObject({ ok: false, error: { code: 'VALIDATION', retryable: false } });
      expect((out as { error: { message: string } }).error.message).toContain('REKEY_CATALOG_BUCKET is required');
    });

    it.each(CASES)('%s rejects a malformed event before reading any configuration', async (name) => {
      // Prepare
      const handler = await HANDLERS[name]!();
      const malformed = { nonsense: true };
      // Act
      const out = await handler(malformed, context);
      // Assess
      expect(out).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
      expect((out as { error: { message: string } }).error.message).toMatch(/^invalid event: /);
    });
  });
});
