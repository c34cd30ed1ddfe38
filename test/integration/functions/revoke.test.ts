import { CreateStateMachineCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { createRevokeHandler } from '../../../functions/revoke/handler';
import { createHarness, lambdaContext, motoClients, putRecords, statesOf, uniqueName, type Harness } from './support/harness';

function compromised(h: Harness, version: number, id = uniqueName('evt')) {
  return {
    version: '0',
    id,
    source: 'rekey',
    'detail-type': 'Key Version Compromised',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: { keyring: h.keyring, version, reason: 'SEC-42 key exposure' },
  };
}

describe('revoke function (moto KMS + S3 + Step Functions + redis-server)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe('inline sweep', () => {
    it('revokes, purges the cache, re-encrypts every record, and completes on the retry after the catalog cache lifetime; a duplicate event changes nothing more', async () => {
      // Prepare
      h = await createHarness({ cache: true });
      const keys = await putRecords(h, 2);
      await h.services.cache!.set('c1', Buffer.from('e'), 600, h.keyring, 1);
      const handler = createRevokeHandler(h.deps);
      const event = compromised(h, 1);
      // Act: the first invocation re-encrypts, then fails retryably (writers with a cached
      // catalog may still write under v1); the invoker's retry comes after the cache lifetime.
      const first = handler(event, lambdaContext());
      await expect(first).rejects.toThrow(/settles at/);
      h.advance(61);
      const retried = await handler(event, lambdaContext());
      const duplicate = await handler({ ...event, id: uniqueName('evt') }, lambdaContext());
      // Assess
      expect(retried).toMatchObject({ ok: true, revokedNow: false, activeVersion: 2, remaining: 0, copiesRemaining: 0, complete: true });
      expect(duplicate).toMatchObject({ ok: true, revokedNow: false, activeVersion: 2, remaining: 0, complete: true });
      expect((await statesOf(h)).map(([v, state]) => [v, state === 'active'])).toEqual([[1, false], [2, true]]);
      const store = h.services.recordTargets[0]!.store;
      for (const [i, key] of keys.entries()) {
        const record = (await store.get(key.slice(h.dataPrefix.length)))!;
        expect(record).toMatchObject({ version: 2, originVersion: 2 });
        expect((await h.services.envelopes.decrypt(record.envelope)).plaintext.toString()).toBe(`payload ${i}`);
      }
    });

    it('is never paused by a freeze', async () => {
      // Prepare
      h = await createHarness();
      await h.services.keyrings.freeze(h.keyring, { reason: 'incident', actor: 'test' });
      const handler = createRevokeHandler(h.deps);
      // Act
      await expect(handler(compromised(h, 1), lambdaContext())).rejects.toThrow(/settles at/);
      h.advance(61);
      const out = await handler(compromised(h, 1), lambdaContext());
      // Assess
      expect(out).toMatchObject({ ok: true, complete: true });
      expect((await statesOf(h))[0]).toEqual([1, expect.stringMatching(/revoked|disabled/)]);
    });
  });

  describe('Step Functions hand-off', () => {
    it('starts one sweep execution per target under a deterministic name, even for duplicate events', async () => {
      // Prepare
      const sfn = motoClients().sfn;
      const machine = await sfn.send(
        new CreateStateMachineCommand({
          name: uniqueName('sweep'),
          roleArn: 'arn:aws:iam::123456789012:role/rekey-sweep',
          definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        }),
      );
      h = await createHarness({ extraEnv: { REKEY_SWEEP_STATE_MACHINE_ARN: machine.stateMachineArn!, REKEY_INLINE_SWEEP_LIMIT: '1' } });
      await putRecords(h, 3);
      const handler = createRevokeHandler(h.deps);
      // Act
      const first = await handler(compromised(h, 1), lambdaContext());
      const duplicate = await handler(compromised(h, 1), lambdaContext());
      // Assess
      expect(first).toMatchObject({ ok: true, revokedNow: true, remaining: 3, complete: false, state: 'revoked' });
      expect(duplicate).toMatchObject({ ok: true, revokedNow: false, remaining: 3, complete: false });
      const executions = await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine.stateMachineArn! }));
      expect(executions.executions?.length).toBe(1);
      expect(executions.executions?.[0]?.name).toMatch(/^sweep-kr-.*-v1-reencrypt-[0-9a-f]{12}$/);
    });
  });
});
