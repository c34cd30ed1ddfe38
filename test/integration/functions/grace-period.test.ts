import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { createEscrowHandler } from '../../../functions/escrow/handler';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import { S3KeyUseLog } from '../../../shared/adapters/aws/s3-key-use-log';
import { createHarness, lambdaContext, putRecords, statesOf, type Harness } from './support/harness';

// A short quiet period and destruction opted in, so that one test walks the whole lifecycle in
// minutes; the defaults (7 days quiet, no destruction) have their own tests below.
const POLICY = { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 120, retentionSeconds: 300, quietSeconds: 60, destroyAfterRetention: true };
const DEFAULTS = { rotateEverySeconds: 30 * 86_400, propagationSeconds: 60, graceSeconds: 120, retentionSeconds: 300 };
/** The ticks of one rotation: past the rotation period, the propagation window, the grace period. */
const ROTATION_STEPS = [3601, 61, 121];

async function putDecryptStats(h: Harness, version: number, failures: number, attempts: number): Promise<void> {
  const at = new Date(h.now().getTime() - 60_000);
  const dims = [
    { Name: 'keyring', Value: h.keyring },
    { Name: 'version', Value: String(version) },
  ];
  await h.clients.cloudWatch.send(
    new PutMetricDataCommand({
      Namespace: 'Rekey',
      MetricData: [
        { MetricName: 'DecryptFailures', Dimensions: dims, Value: failures, Unit: 'Count', Timestamp: at },
        { MetricName: 'DecryptAttempts', Dimensions: dims, Value: attempts, Unit: 'Count', Timestamp: at },
      ],
    }),
  );
}

/**
 * An application's unwrap of version 1, as the key-use function records it from
 * CloudTrail: observation of key use begins with the first such record (never with a reconciler's read).
 */
async function observeUse(h: Harness): Promise<void> {
  const log = new S3KeyUseLog({ client: h.clients.s3, bucket: h.buckets.catalog, clock: h.now });
  await log.recordUse(h.keyring, 1, { at: h.now(), by: 'arn:aws:sts::123456789012:assumed-role/app/session' });
}

describe('grace-period function (moto KMS + S3 + CloudWatch)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe('lifecycle transitions', () => {
    it('walks a rotation through pending, active, rotating, deprecated and disabled', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      await observeUse(h);
      const handler = createGracePeriodHandler(h.deps);
      const seen: Array<Array<[number, string]>> = [];
      // Act
      // The last step is the quiet period (60 s), counted from v1's last use, at its deprecation.
      for (const [i, step] of [...ROTATION_STEPS, 60].entries()) {
        h.advance(step);
        // The application still reads an old v1 record just before the grace period ends.
        if (i === 2) await observeUse(h);
        await handler({ keyring: h.keyring }, lambdaContext());
        seen.push(await statesOf(h));
      }
      // Assess
      expect(seen).toEqual([
        [[1, 'active'], [2, 'pending']],
        [[1, 'rotating'], [2, 'active']],
        [[1, 'deprecated'], [2, 'active']],
        [[1, 'disabled'], [2, 'active']],
      ]);
    });

    it('keeps a deprecated version without references readable for the default quiet period (7 days), then disables it', async () => {
      // Prepare
      h = await createHarness({ policy: DEFAULTS });
      await observeUse(h);
      const handler = createGracePeriodHandler(h.deps);
      for (const [i, step] of [30 * 86_400 + 1, 61, 121].entries()) {
        h.advance(step);
        if (i === 2) await observeUse(h);
        await handler({ keyring: h.keyring }, lambdaContext());
      }
      const afterGrace = await statesOf(h);
      // Act
      // Quiet until 7 days after v1's last use, at its deprecation.
      h.advance(7 * 86_400 - 1);
      await handler({ keyring: h.keyring }, lambdaContext());
      const justBefore = await statesOf(h);
      h.advance(1);
      await handler({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(afterGrace).toEqual([[1, 'deprecated'], [2, 'active']]);
      expect(justBefore).toEqual([[1, 'deprecated'], [2, 'active']]);
      expect(await statesOf(h)).toEqual([[1, 'disabled'], [2, 'active']]);
    });

    it('never disables while no key-use event was ever observed (no CloudTrail trail): silence is not evidence', async () => {
      // Prepare: nothing ever reached the key-use function.
      h = await createHarness({ policy: POLICY });
      const handler = createGracePeriodHandler(h.deps);
      // Act: a rotation, then far more than the quiet period.
      for (const step of [...ROTATION_STEPS, 60, 86_400]) {
        h.advance(step);
        await handler({ keyring: h.keyring }, lambdaContext());
      }
      // Assess: still deprecated (readable); the log was not started by the reconciler's reads.
      expect((await statesOf(h))[0]).toEqual([1, 'deprecated']);
      expect(await new S3KeyUseLog({ client: h.clients.s3, bucket: h.buckets.catalog }).observingSince(h.keyring)).toBeUndefined();
    });

    it('never destroys by default, retention and a verified drill notwithstanding', async () => {
      // Prepare
      h = await createHarness({ policy: { ...POLICY, destroyAfterRetention: false } });
      await observeUse(h);
      const grace = createGracePeriodHandler(h.deps);
      const escrow = createEscrowHandler(h.deps);
      await escrow({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      // A rotation, then the quiet period (60 s from v1's deprecation).
      for (const step of [...ROTATION_STEPS, 60]) {
        h.advance(step);
        await grace({ keyring: h.keyring }, lambdaContext());
      }
      const disabled = await statesOf(h);
      // Act
      h.advance(301);
      await escrow({ keyring: h.keyring, action: 'drill' }, lambdaContext());
      await grace({ keyring: h.keyring }, lambdaContext());
      h.advance(86_400);
      await grace({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(disabled).toEqual([[1, 'disabled'], [2, 'active']]);
      // A day later the keyring has rotated again (v3 pending); v1 is still only disabled.
      expect((await statesOf(h))[0]).toEqual([1, 'disabled']);
    });

    it('keeps a deprecated version while a record references it and publishes the distribution', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      await putRecords(h, 2);
      const handler = createGracePeriodHandler(h.deps);
      // Act
      for (const step of [3601, 61, 121]) {
        h.advance(step);
        await handler({}, lambdaContext());
      }
      const out = (await handler({ keyring: h.keyring }, lambdaContext())) as unknown as { results: Array<{ distribution: unknown }> };
      // Assess
      expect(await statesOf(h)).toEqual([[1, 'deprecated'], [2, 'active']]);
      expect(out.results[0]!.distribution).toMatchObject({ records: { '1': 2 } });
      expect(h.metrics.values('RecordsByVersion', { keyring: h.keyring, version: 1 }).at(-1)).toBe(2);
      expect(h.metrics.values('OldestReferencedVersionAge', { keyring: h.keyring }).at(-1)).toBe(3601 + 61 + 121);
    });

    it('destroys a disabled version only after its retention and a verified escrow drill', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      await observeUse(h);
      const grace = createGracePeriodHandler(h.deps);
      const escrow = createEscrowHandler(h.deps);
      // The hourly archive escrows a version while it is readable: once disabled, the escrow
      // role's grant for it is gone (key-access), so the archive skips it.
      await escrow({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      // A rotation, then the quiet period (60 s from v1's deprecation).
      for (const step of [...ROTATION_STEPS, 60]) {
        h.advance(step);
        await grace({ keyring: h.keyring }, lambdaContext());
      }
      h.advance(301);
      // Act
      await grace({ keyring: h.keyring }, lambdaContext());
      const beforeEscrow = await statesOf(h);
      await escrow({ keyring: h.keyring, action: 'drill' }, lambdaContext());
      await grace({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(beforeEscrow).toEqual([[1, 'disabled'], [2, 'active']]);
      expect(await statesOf(h)).toEqual([[1, 'destroyed'], [2, 'active']]);
    });
  });

  describe('circuit breaker', () => {
    it('trips during a rotation when decrypt failures exceed the threshold, pausing transitions', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      const handler = createGracePeriodHandler(h.deps);
      h.advance(3601);
      await handler({ keyring: h.keyring }, lambdaContext());
      await putDecryptStats(h, 1, 40, 100);
      h.advance(61);
      // Act
      const out = await handler({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ results: [{ keyring: h.keyring, breaker: 'trip', paused: 'breaker', applied: [] }] });
      expect(await statesOf(h)).toEqual([[1, 'active'], [2, 'pending']]);
      expect((await h.services.keyrings.get(h.keyring)).breaker?.reason).toMatch(/above 10.00%/);
      expect(h.metrics.values('BreakerTripped', { keyring: h.keyring }).at(-1)).toBe(1);
    });

    it('does not trip when no rotation is under way', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      await putDecryptStats(h, 1, 40, 100);
      // Act
      const out = await createGracePeriodHandler(h.deps)({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ results: [{ keyring: h.keyring, breaker: 'hold' }] });
      expect((await h.services.keyrings.get(h.keyring)).breaker).toBeUndefined();
    });

    it('resets once the failure rate falls back, and the rotation resumes', async () => {
      // Prepare
      h = await createHarness({ policy: POLICY });
      const handler = createGracePeriodHandler(h.deps);
      h.advance(3601);
      await handler({ keyring: h.keyring }, lambdaContext());
      await putDecryptStats(h, 1, 40, 100);
      h.advance(61);
      await handler({ keyring: h.keyring }, lambdaContext());
      h.advance(1800);
      await putDecryptStats(h, 1, 0, 500);
      // Act
      const out = await handler({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ results: [{ keyring: h.keyring, breaker: 'reset' }] });
      expect(await statesOf(h)).toEqual([[1, 'rotating'], [2, 'active']]);
    });
  });
});
