import { createCacheInvalidateHandler } from '../../../functions/cache-invalidate/handler';
import { createEscrowHandler } from '../../../functions/escrow/handler';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import { createReencryptHandler } from '../../../functions/reencrypt/handler';
import { createRevokeHandler } from '../../../functions/revoke/handler';
import { createRotateHandler } from '../../../functions/rotate/handler';
import type { HandlerDeps } from '../../../shared/lambda/create-handler';
import type { RekeyServices } from '../../../shared/compose/aws/rekey-services';
import { createHarness, lambdaContext, putRecords, type Harness } from './support/harness';

type Factory = (deps: HandlerDeps<RekeyServices>) => (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

const HUGE = 'k'.repeat(200_000);
const deep = (n: number): unknown => (n === 0 ? 'x' : { a: deep(n - 1) });

/** Shapes that are wrong for every handler. */
function common(k: string): unknown[] {
  return [
    null,
    42,
    'rotate',
    true,
    [],
    [{ keyring: k }],
    { keyring: HUGE },
    { keyring: 'has space' },
    { keyring: '../../etc/passwd' },
    { keyring: '' },
    { keyring: 12 },
    { keyring: ['a'] },
    { keyring: { nested: deep(50) } },
    { keyring: 'ключ' },
    JSON.parse(`{"__proto__": {"polluted": true}, "keyring": 7}`),
  ];
}

function corpora(h: Harness, keys: string[]): Array<[string, Factory, unknown[]]> {
  const k = h.keyring;
  const batch = { keyring: k, bucket: h.buckets.data, prefix: h.dataPrefix, mode: 'rewrap' };
  const item = { Key: keys[0] };
  const ebEvent = (over: Record<string, unknown>, detail: unknown = { keyring: k, version: 1, reason: 'leak' }) => ({
    version: '0',
    id: 'evt-1',
    source: 'rekey',
    'detail-type': 'Key Version Compromised',
    detail,
    ...over,
  });
  return [
    [
      'rotate',
      createRotateHandler,
      [
        ...common(k),
        {},
        { keyring: k, keyrings: [k] },
        { keyrings: [] },
        { keyrings: [k, k] },
        { keyrings: Array.from({ length: 101 }, (_, i) => `k${i}`) },
        { keyring: k, force: false },
        { keyring: k, force: 'true', actor: 'a', reason: 'r' },
        { keyring: k, force: true },
        { keyring: k, force: true, actor: 'a' },
        { keyring: k, force: true, actor: 'has space', reason: 'r' },
        { keyring: k, force: true, actor: 'a', reason: 'r'.repeat(513) },
        { keyrings: [k], force: true, actor: 'a', reason: 'r' },
        { keyring: k, actor: 'a', reason: 'r' },
        { keyring: k, extra: 1 },
        { keyring: k, force: true, actor: 'a', reason: '\u0000nul' },
      ],
    ],
    [
      'grace-period',
      createGracePeriodHandler,
      [
        ...common(k),
        { keyring: k, version: 1 },
        { keyrings: [k] },
        { keyring: null },
        { Keyring: k },
        { keyring: `${k}\n` },
        { keyring: k, dryRun: true },
        { keyring: 'a'.repeat(65) },
      ],
    ],
    [
      'reencrypt',
      createReencryptHandler,
      [
        ...common(k),
        {},
        { BatchInput: batch },
        { Items: [item] },
        { BatchInput: batch, Items: [] },
        { BatchInput: { ...batch, mode: 'shred' }, Items: [item] },
        { BatchInput: { ...batch, version: 0 }, Items: [item] },
        { BatchInput: { ...batch, version: -1 }, Items: [item] },
        { BatchInput: { ...batch, version: 1.5 }, Items: [item] },
        { BatchInput: { ...batch, version: Number.NaN }, Items: [item] },
        { BatchInput: { ...batch, version: '1' }, Items: [item] },
        { BatchInput: { ...batch, bucket: 'Bad_Bucket' }, Items: [item] },
        { BatchInput: { ...batch, keyring: 'x y' }, Items: [item] },
        { BatchInput: { ...batch, prefix: '/abs' }, Items: [item] },
        { BatchInput: batch, Items: [{ Key: 'outside/prefix' }] },
        { BatchInput: batch, Items: [{ Key: keys[0], Size: -1 }] },
        // Items are AWS's envelope (extra fields allowed); LastModified is epoch seconds (ItemReader docs).
        { BatchInput: batch, Items: [{ Key: keys[0], LastModified: '2022-11-16T00:29:32.000Z' }] },
        { BatchInput: batch, Items: [{ Key: '' }] },
        { BatchInput: batch, Items: [{ Key: HUGE }] },
        { BatchInput: batch, Items: Array.from({ length: 1001 }, () => item) },
        { BatchInput: batch, Items: [item], extra: 1 },
        { BatchInput: { ...batch, bucket: 'other-bucket-not-configured' }, Items: [{ Key: keys[0] }] },
        { BatchInput: { ...batch, keyring: 'unconfigured-keyring' }, Items: [{ Key: keys[0] }] },
        { invocationSchemaVersion: '3.0', invocationId: 'i', job: { id: 'j' }, tasks: [] },
        { invocationSchemaVersion: '1.0', invocationId: 'i', job: { id: 'j' }, tasks: [] },
        { invocationSchemaVersion: '1.0', invocationId: 'i', job: { id: 'j' }, tasks: [{ taskId: 't', s3Key: 'k', s3BucketArn: 'not-an-arn' }] },
        { invocationSchemaVersion: '2.0', invocationId: 'i', job: { id: 'j', userArguments: { mode: 'shred' } }, tasks: [{ taskId: 't', s3Key: 'k', s3Bucket: h.buckets.data }] },
        { invocationSchemaVersion: '2.0', invocationId: 'i', job: { id: 'j' }, tasks: [{ taskId: 't', s3Key: '%E0%A4%A', s3Bucket: h.buckets.data }] },
      ],
    ],
    [
      'cache-invalidate',
      createCacheInvalidateHandler,
      [
        ...common(k),
        { keyring: k, version: 1 },
        { keyring: k, reason: 'revoked' },
        { version: 1, reason: 'revoked' },
        { keyring: k, version: 1, reason: 'rotated' },
        { keyring: k, version: 0, reason: 'revoked' },
        { keyring: k, version: -3, reason: 'revoked' },
        { keyring: k, version: 2.5, reason: 'revoked' },
        { keyring: k, version: '1', reason: 'revoked' },
        { keyring: k, version: Number.POSITIVE_INFINITY, reason: 'revoked' },
        { keyring: k, version: 1, reason: 'revoked', all: true },
      ],
    ],
    [
      'escrow',
      createEscrowHandler,
      [
        ...common(k),
        {},
        { keyring: k },
        { keyring: k, action: 'restore' },
        { keyring: k, action: 'ARCHIVE' },
        { keyring: k, action: ['drill'] },
        { keyring: k, action: 'drill', version: 1 },
        { action: 'drill', keyring: null },
        { action: null },
      ],
    ],
    [
      'revoke',
      createRevokeHandler,
      [
        ...common(k),
        {},
        ebEvent({ source: 'aws.kms' }),
        ebEvent({ source: 'rekey.audit' }),
        ebEvent({ 'detail-type': 'Key Version Rotated' }),
        ebEvent({ 'detail-type': undefined }),
        ebEvent({ id: undefined }),
        ebEvent({ id: 'has space' }),
        ebEvent({ version: '1' }),
        ebEvent({ detail: undefined }),
        ebEvent({}, null),
        ebEvent({}, 'keyring=k'),
        ebEvent({}, { keyring: k, version: 1 }),
        ebEvent({}, { keyring: k, version: 0, reason: 'r' }),
        ebEvent({}, { keyring: k, version: -1, reason: 'r' }),
        ebEvent({}, { keyring: k, version: 1.25, reason: 'r' }),
        ebEvent({}, { keyring: k, version: '1', reason: 'r' }),
        ebEvent({}, { keyring: k, version: 1, reason: '' }),
        ebEvent({}, { keyring: k, version: 1, reason: 'x'.repeat(100_000) }),
        ebEvent({}, { keyring: HUGE, version: 1, reason: 'r' }),
        ebEvent({}, { keyring: k, version: 1, reason: 'r', extra: deep(20) }),
        ebEvent({}, [{ keyring: k, version: 1, reason: 'r' }]),
      ],
    ],
  ];
}

describe('every function (moto KMS + S3 + redis-server)', () => {
  let h: Harness;
  let keys: string[];
  beforeAll(async () => {
    h = await createHarness({ cache: true, policy: { rotateEverySeconds: 3600 } });
    keys = await putRecords(h, 2);
    await h.services.cache!.set('entry-1', Buffer.from('envelope bytes'), 600, h.keyring, 1);
    // Due work exists, so a malformed event that slipped through would visibly change state.
    h.advance(7200);
  });
  afterAll(async () => h?.close());

  describe('malformed events', () => {
    it('has at least 20 malformed events per function', () => {
      // Prepare
      const all = corpora(h, keys);
      // Act
      const sizes = all.map(([name, , events]) => [name, events.length] as const);
      // Assess
      expect(all.map(([name]) => name).sort()).toEqual(['cache-invalidate', 'escrow', 'grace-period', 'reencrypt', 'revoke', 'rotate']);
      for (const [, n] of sizes) expect(n).toBeGreaterThanOrEqual(20);
    });

    it.each(['rotate', 'grace-period', 'reencrypt', 'cache-invalidate', 'escrow', 'revoke'])(
      'rejects each malformed %s event with a ValidationError failure and changes nothing',
      async (name) => {
        // Prepare
        const [, factory, events] = corpora(h, keys).find(([n]) => n === name)!;
        const handler = factory(h.deps);
        const before = await h.snapshot();
        // Act
        const outs: unknown[] = [];
        for (const event of events) outs.push(await handler(event, lambdaContext()));
        // Assess
        for (const [i, out] of outs.entries()) {
          expect({ i, out }).toMatchObject({ i, out: { ok: false, error: { code: 'VALIDATION', name: 'ValidationError', retryable: false } } });
          const message = (out as { error: { message: string } }).error.message;
          expect(message.length).toBeLessThan(1200);
          expect(message).not.toContain('kkkkkkkkkkkkkkkkkkkkkkkk');
        }
        expect(await h.snapshot()).toBe(before);
        expect(h.metrics.values('HandlerFailures', { function: name, code: 'VALIDATION' }).length).toBe(events.length);
      },
    );
  });
});
