import { createEscrowHandler } from '../../../functions/escrow/handler';
import { createHarness, lambdaContext, type Harness } from './support/harness';

describe('escrow function (moto KMS + S3 Object Lock)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe('archive', () => {
    it('archives every version lacking an escrow record once, and records it in the catalog', async () => {
      // Prepare
      h = await createHarness();
      await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'second version' });
      const handler = createEscrowHandler(h.deps);
      // Act
      const first = await handler({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      const second = await handler({ action: 'archive', keyring: h.keyring }, lambdaContext());
      // Assess
      expect(first).toMatchObject({ ok: true, results: [{ keyring: h.keyring, versions: [{ version: 1, created: true }, { version: 2, created: true }] }] });
      expect(second).toMatchObject({ ok: true, results: [{ keyring: h.keyring, versions: [] }] });
      expect(await h.services.escrowStore.list(h.keyring)).toEqual([1, 2]);
      const catalog = await h.services.keyrings.get(h.keyring);
      expect(catalog.versions.every((v) => v.escrowedAt !== undefined)).toBe(true);
      expect(h.metrics.values('EscrowVersionsArchived', { keyring: h.keyring })).toEqual([1, 1]);
    });

    it('skips a version revoked before its first archive (no grant by design) and still archives the others', async () => {
      // Prepare: version 1 revoked before any archive run; its replacement (2) is active.
      h = await createHarness();
      await h.services.keyrings.revoke(h.keyring, 1, { reason: 'leaked', actor: 'test' });
      const handler = createEscrowHandler(h.deps);
      // Act
      const archived = await handler({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      const drilled = await handler({ keyring: h.keyring, action: 'drill' }, lambdaContext());
      // Assess: in AWS the escrow role cannot unwrap version 1 any more (its grant is revoked),
      // so trying would fail every run and leave version 2 unescrowed; the drill does not count
      // version 1 as missing either.
      expect(archived).toMatchObject({ ok: true, results: [{ keyring: h.keyring, versions: [{ version: 2, created: true }] }] });
      expect(await h.services.escrowStore.list(h.keyring)).toEqual([2]);
      expect(drilled).toMatchObject({ ok: true, results: [{ failures: 0, versions: [{ version: 2, ok: true }] }] });
      expect(h.metrics.values('EscrowDrillFailures', { keyring: h.keyring })).toEqual([0]);
    });
  });

  describe('drill', () => {
    it('publishes zero failures and records verifiedAt when every version restores', async () => {
      // Prepare
      h = await createHarness();
      const handler = createEscrowHandler(h.deps);
      await handler({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      // Act
      const out = await handler({ keyring: h.keyring, action: 'drill' }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ ok: true, action: 'drill', results: [{ failures: 0, versions: [{ version: 1, ok: true }] }] });
      expect(h.metrics.values('EscrowDrillFailures', { keyring: h.keyring })).toEqual([0]);
      expect((await h.services.keyrings.get(h.keyring)).versions[0]!.escrowVerifiedAt).toBe(h.now().toISOString());
    });

    it('archives a version the archive schedule has not reached yet instead of reporting it missing', async () => {
      // Prepare: version 2 created after the last archive run (a rotation between the hourly archive and the daily drill).
      h = await createHarness();
      const handler = createEscrowHandler(h.deps);
      await handler({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'second version' });
      // Act
      const out = await handler({ keyring: h.keyring, action: 'drill' }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ ok: true, results: [{ failures: 0, versions: [{ version: 1, ok: true }, { version: 2, ok: true }] }] });
      expect(await h.services.escrowStore.list(h.keyring)).toEqual([1, 2]);
      expect(h.metrics.values('EscrowDrillFailures', { keyring: h.keyring })).toEqual([0]);
    });

    it('publishes the number of failed versions when escrow records are missing', async () => {
      // Prepare: the catalog says version 1 was archived, but its record is not there (lost).
      h = await createHarness();
      await h.services.keyrings.recordEscrow(h.keyring, 1, { escrowedAt: h.now(), actor: 'test' });
      // Act
      const out = await createEscrowHandler(h.deps)({ keyring: h.keyring, action: 'drill' }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ ok: false, results: [{ failures: 1, versions: [{ version: 1, ok: false, reason: 'missing' }] }] });
      expect(h.metrics.values('EscrowDrillFailures', { keyring: h.keyring })).toEqual([1]);
      expect((await h.services.keyrings.get(h.keyring)).versions[0]!.escrowVerifiedAt).toBeUndefined();
    });
  });

  describe('restore', () => {
    it('refuses a version that still has its key (typed error) and leaves the catalog as it was', async () => {
      // Prepare
      h = await createHarness();
      const handler = createEscrowHandler(h.deps);
      await handler({ keyring: h.keyring, action: 'archive' }, lambdaContext());
      const before = await h.services.keyrings.get(h.keyring);
      // Act
      const out = await handler({ keyring: h.keyring, action: 'restore', version: 1, reason: 'INC-1' }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ ok: false, error: { code: 'ILLEGAL_TRANSITION' } });
      expect((await h.services.keyrings.get(h.keyring)).generation).toBe(before.generation);
    });

    it('rejects a restore event without its version, and restore fields on other actions', async () => {
      // Prepare
      h = await createHarness();
      const handler = createEscrowHandler(h.deps);
      // Act
      const noVersion = await handler({ keyring: h.keyring, action: 'restore' }, lambdaContext());
      const stray = await handler({ keyring: h.keyring, action: 'drill', version: 1 }, lambdaContext());
      // Assess
      expect(noVersion).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
      expect(stray).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    });
  });
});
