import { RevokedVersionError, ValidationError } from '../../../shared/errors';
import { recordContext, rewrapHeader, withHeaderRewrap } from '../../../shared/reencrypt';
import type { CheckpointStore } from '../../../shared/ports/checkpoint-store';
import { LocalStack } from './support/local-stack';

const N = 12;
const idOf = (i: number): string => `rec-${String(i).padStart(3, '0')}`;
const valueOf = (i: number): Buffer => Buffer.from(`value of record ${i}`);

/**
 * The stack's checkpoint store, running `between` once, right after the first batch is
 * checkpointed and before the sweep reads its second batch (the sweep awaits the put).
 */
function afterFirstBatch(stack: LocalStack, between: () => Promise<void>): CheckpointStore {
  let ran = false;
  return {
    get: (id) => stack.checkpoints.get(id),
    clear: (id) => stack.checkpoints.clear(id),
    put: async (id, checkpoint) => {
      await stack.checkpoints.put(id, checkpoint);
      if (ran) return;
      ran = true;
      await between();
    },
  };
}

// Issue 11 against the real catalog provider: header-only re-wrap goes to the active version
// only and never carries a revoked version's data key over; the sweeper copes with both.
describe('header-only re-wrap rules (catalog provider)', () => {
  let stack: LocalStack;

  beforeEach(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
  });

  afterEach(() => stack.close());

  describe('rewrapHeader', () => {
    it('refuses a pending target (rotate, propagation window not over) and a rotating one', async () => {
      // Prepare
      const envelope = await stack.envelopes.encrypt('pii', Buffer.from('x'), { context: recordContext('r1') });
      const header = envelope.subarray(0, stack.envelopes.inspect(envelope).headerLength);
      await stack.keyrings.rotate('pii', { actor: 'test', reason: 'test rotation' });
      stack.provider.invalidate('pii');
      // Act
      const toPending = rewrapHeader(stack.provider, header, { toVersion: 2 });
      // Assess
      expect(await stack.stateOf('pii', 2)).toBe('pending');
      await expect(toPending).rejects.toBeInstanceOf(ValidationError);
      await expect(toPending).rejects.toThrow(/the active version is 1/);

      // Prepare: v2 promoted, v1 rotating; an envelope under v2
      stack.now = new Date(stack.now.getTime() + 3600_000);
      await stack.keyrings.tick({ keyring: 'pii' });
      stack.provider.invalidate('pii');
      const v2 = await stack.envelopes.encrypt('pii', Buffer.from('y'));
      // Act
      const toRotating = stack.envelopes.rewrap(v2, { toVersion: 1 });
      // Assess
      expect(await stack.stateOf('pii', 1)).toBe('rotating');
      await expect(toRotating).rejects.toThrow(/version 1 is not the active version of keyring 'pii' \(the active version is 2\)/);
    });

    it('refuses a revoked version for purpose reencrypt too', async () => {
      // Prepare
      const envelope = await stack.envelopes.encrypt('pii', Buffer.from('x'));
      const header = envelope.subarray(0, stack.envelopes.inspect(envelope).headerLength);
      await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
      stack.provider.invalidate('pii');
      const ops = withHeaderRewrap(stack.envelopes, stack.provider);
      // Act / Assess
      await expect(ops.rewrapHeader(header, { purpose: 'reencrypt' })).rejects.toBeInstanceOf(RevokedVersionError);
      await expect(stack.envelopes.rewrap(envelope, { purpose: 'reencrypt' })).rejects.toBeInstanceOf(RevokedVersionError);
    });
  });

  describe('Sweeper in rewrap mode', () => {
    async function putRecords(): Promise<void> {
      const service = stack.recordService();
      for (let i = 0; i < N; i += 1) await service.put(idOf(i), 'pii', valueOf(i));
    }

    it.each([
      ['header-only batches', (st: LocalStack) => st.sweeper()],
      ['whole-envelope batches', (st: LocalStack) => st.sweeper(st.records, { headerRewrap: false })],
    ])('switches to re-encryption when the version is revoked mid-sweep, so no record keeps its data key (%s)', async (_path, sweeperOf) => {
      // Prepare
      await putRecords();
      await stack.rotateAndPromote('pii');
      const sweeper = sweeperOf(stack);
      const checkpoint = afterFirstBatch(stack, async () => {
        await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
        stack.provider.invalidate('pii');
      });
      // Act
      const result = await sweeper.sweep('pii', 1, { mode: 'rewrap', batchSize: 4, checkpoint });
      // Assess: before the fix the re-wrap counted N - 4 failures and left the first 4 records
      // re-wrapped with v1's data key.
      expect(result).toMatchObject({ mode: 'reencrypt', switchedToReencrypt: true, failedCount: 0, remaining: 0 });
      expect([...(await stack.origins('pii')).values()].every((o) => o > 1)).toBe(true);
      const service = stack.recordService();
      for (let i = 0; i < N; i += 1) expect((await service.get(idOf(i))).plaintext).toEqual(valueOf(i));
    });

    it('notices a revocation from a fresh catalog read although its provider still caches the old catalog', async () => {
      // Prepare: the issue's stale sweep (3,800 records kept v1's data keys): the revocation
      // lands after the first batch, and this sweep's provider is never told.
      await putRecords();
      await stack.rotateAndPromote('pii');
      const sweeper = stack.sweeper(stack.records, { freshCatalog: true });
      const checkpoint = afterFirstBatch(stack, async () => {
        await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
      });
      // Act
      const result = await sweeper.sweep('pii', 1, { mode: 'rewrap', batchSize: 4, checkpoint });
      // Assess
      const catalog = await stack.keyrings.get('pii');
      const active = catalog.versions.find((v) => v.state === 'active')!.version;
      expect(result).toMatchObject({ switchedToReencrypt: true, failedCount: 0, remaining: 0, toVersion: active });
      const origins = [...(await stack.origins('pii')).values()];
      expect(origins).toHaveLength(N);
      expect(origins.every((o) => o === active)).toBe(true);
      expect(await stack.records.countByVersion('pii')).toEqual(new Map([[active, N]]));
    });

    it('moves records to the version active now when a rotation completes mid-sweep (never back to the rotating one)', async () => {
      // Prepare
      await putRecords();
      const first = await stack.rotateAndPromote('pii');
      const checkpoint = afterFirstBatch(stack, async () => {
        await stack.rotateAndPromote('pii');
      });
      // Act
      const result = await stack.sweeper().sweep('pii', 1, { mode: 'rewrap', batchSize: 4, checkpoint });
      // Assess
      const counts = await stack.records.countByVersion('pii');
      expect(result).toMatchObject({ done: N, failedCount: 0, remaining: 0, toVersion: first });
      expect(await stack.stateOf('pii', first)).toBe('rotating');
      expect([counts.get(first), counts.get(first + 1)]).toEqual([4, N - 4]);
    });
  });
});
