import { createRotateHandler } from '../../../functions/rotate/handler';
import { createHarness, lambdaContext, statesOf, type Harness } from './support/harness';

describe('rotate function (moto KMS + S3)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe('scheduled invocation', () => {
    it('does nothing when the rotation is not due', async () => {
      // Prepare
      h = await createHarness({ policy: { rotateEverySeconds: 86_400 } });
      const handler = createRotateHandler(h.deps);
      const before = await h.snapshot();
      // Act
      const out = await handler({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(out).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'not-due' }] });
      expect(await h.snapshot()).toBe(before);
    });

    it('creates exactly one pending version when due, however often it runs', async () => {
      // Prepare
      h = await createHarness({ policy: { rotateEverySeconds: 86_400 } });
      const handler = createRotateHandler(h.deps);
      h.advance(86_401);
      // Act
      const first = await handler({ keyring: h.keyring }, lambdaContext());
      const second = await handler({ keyrings: [h.keyring] }, lambdaContext());
      // Assess
      expect(first).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'created', version: 2 }] });
      expect(second).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'pending-exists', version: 2 }] });
      expect(await statesOf(h)).toEqual([[1, 'active'], [2, 'pending']]);
      expect(h.metrics.values('VersionsCreated', { keyring: h.keyring })).toEqual([1]);
    });

    it('reports a frozen keyring as paused and creates nothing', async () => {
      // Prepare
      h = await createHarness({ policy: { rotateEverySeconds: 86_400 } });
      await h.services.keyrings.freeze(h.keyring, { reason: 'incident', actor: 'test' });
      h.advance(90_000);
      const before = await h.snapshot();
      // Act
      const out = await createRotateHandler(h.deps)({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(out).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'paused' }] });
      expect(await h.snapshot()).toBe(before);
    });
  });

  describe('operator invocation', () => {
    it('rotates now with force, actor and reason', async () => {
      // Prepare
      h = await createHarness({ policy: { rotateEverySeconds: 86_400 } });
      // Act
      const out = await createRotateHandler(h.deps)({ keyring: h.keyring, force: true, actor: 'cli:alice', reason: 'suspicion' }, lambdaContext());
      // Assess
      expect(out).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'created', version: 2 }] });
      expect(await statesOf(h)).toEqual([[1, 'active'], [2, 'pending']]);
    });

    it('fails the invocation on an unknown keyring (a deployment fault: schedules name configured keyrings)', async () => {
      // Prepare
      h = await createHarness();
      // Act
      const attempt = createRotateHandler(h.deps)({ keyring: 'no-such-keyring', force: true, actor: 'cli:alice', reason: 'x' }, lambdaContext());
      // Assess: thrown, so Lambda's async retries, the failure queue and the Errors alarm see it.
      await expect(attempt).rejects.toMatchObject({ code: 'UNKNOWN_KEYRING', retryable: false });
    });
  });
});
