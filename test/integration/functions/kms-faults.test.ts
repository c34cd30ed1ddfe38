import type { KMSClient } from '@aws-sdk/client-kms';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import { createRotateHandler } from '../../../functions/rotate/handler';
import { isRekeyError } from '../../../shared/errors';
import { createHarness, lambdaContext, motoClients, statesOf, type Harness } from './support/harness';

const POLICY = { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 600, retentionSeconds: 300 };

/** Fails KMS calls before they leave the client, as KMS does under throttling or an outage. */
function faultyKms(): { client: KMSClient; mode: { halfFailing: boolean; outage: boolean }; failures: () => number } {
  const client = motoClients().kms;
  const mode = { halfFailing: false, outage: false };
  let calls = 0;
  let failures = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      if (mode.halfFailing) calls += 1;
      // While half-failing, the first call fails, the second passes, and so on.
      if (mode.outage || (mode.halfFailing && calls % 2 === 1)) {
        failures += 1;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      }
      return next(args);
    },
    { step: 'initialize', name: 'testKmsFaults' },
  );
  return { client, mode, failures: () => failures };
}

async function invoke(fn: (e: unknown, c: ReturnType<typeof lambdaContext>) => Promise<unknown>, event: unknown): Promise<'ok' | 'retry'> {
  try {
    const out = (await fn(event, lambdaContext())) as { ok?: boolean };
    expect(out.ok).not.toBe(false);
    return 'ok';
  } catch (err) {
    // Every KMS fault must surface as a retryable error, so Scheduler/Lambda retries the call.
    expect(isRekeyError(err) && err.retryable).toBe(true);
    return 'retry';
  }
}

describe('rotation under KMS faults (moto KMS + S3)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe('KMS failing every other call', () => {
    it('completes the rotation through repeated invocations with no duplicate or lost version', async () => {
      // Prepare
      const kms = faultyKms();
      h = await createHarness({ policy: POLICY, clients: { kms: kms.client } });
      const rotate = createRotateHandler(h.deps);
      const grace = createGracePeriodHandler(h.deps);
      kms.mode.halfFailing = true;
      h.advance(3601);
      const outcomes: string[] = [];
      // Act
      for (let i = 0; i < 12 && JSON.stringify(await statesOf(h)) !== JSON.stringify([[1, 'rotating'], [2, 'active']]); i++) {
        outcomes.push(await invoke(rotate, { keyring: h.keyring }));
        outcomes.push(await invoke(grace, { keyring: h.keyring }));
        h.advance(61);
      }
      // Assess
      expect(kms.failures()).toBeGreaterThan(0);
      expect(outcomes).toContain('retry');
      expect(await statesOf(h)).toEqual([[1, 'rotating'], [2, 'active']]);
    });
  });

  describe('full KMS outage mid-rotation', () => {
    it('changes nothing while KMS is down and completes once it returns', async () => {
      // Prepare
      const kms = faultyKms();
      h = await createHarness({ policy: POLICY, clients: { kms: kms.client } });
      const rotate = createRotateHandler(h.deps);
      const grace = createGracePeriodHandler(h.deps);
      h.advance(3601);
      kms.mode.outage = true;
      const before = await h.snapshot();
      // Act
      const during: string[] = [];
      for (let i = 0; i < 3; i++) {
        during.push(await invoke(rotate, { keyring: h.keyring }));
        during.push(await invoke(grace, {}));
      }
      const unchanged = await h.snapshot();
      kms.mode.outage = false;
      await invoke(rotate, { keyring: h.keyring });
      await invoke(grace, { keyring: h.keyring });
      h.advance(61);
      await invoke(grace, { keyring: h.keyring });
      // Assess
      expect(during).toEqual(Array(6).fill('retry'));
      expect(unchanged).toBe(before);
      expect(await statesOf(h)).toEqual([[1, 'rotating'], [2, 'active']]);
    });
  });
});
