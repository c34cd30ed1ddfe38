/**
 * openLocal, the one wiring the CLI, `npm start` and the local jobs share (issue 11): the
 * master-key check runs inside it (not only in the CLI), a refused home is left with nothing
 * open; one catalog cache lifetime (REKEY_CATALOG_TTL_MS) reaches the key provider and the
 * revocation's settle window alike; sweeps re-read version states from the catalog itself; lazy
 * re-wraps reach the audit trail when the home closes.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openLocal, type LocalServices } from '../../../shared/compose/local/local-services';
import { inspectEnvelope } from '../../../shared/envelope';
import { KeyUnavailableError, ValidationError } from '../../../shared/errors';
import { scratchDir } from '../../support/scratch';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const MINUTE = 60_000;
const POLICY = { propagationSeconds: 60 };

/** Paths under `dir` this process holds open (Linux: /proc/self/fd). */
function openUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) out.push(target);
    } catch {
      // The descriptor readdir itself used is gone by now.
    }
  }
  return out;
}

function auditOf(home: string): Array<Record<string, unknown>> {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('openLocal (shared/compose/local/local-services.ts)', () => {
  let home: string;
  let now: Date;
  const clock = (): Date => now;
  const opened: LocalServices[] = [];
  const open = async (actor: string): Promise<LocalServices> => {
    const rk = await openLocal({ home, clock, actor });
    opened.push(rk);
    return rk;
  };
  const savedTtl = process.env.REKEY_CATALOG_TTL_MS;

  beforeEach(() => {
    home = scratchDir('rekey-open-local-');
    now = new Date(T0);
  });
  afterEach(async () => {
    for (const rk of opened.splice(0)) await rk.close();
    if (savedTtl === undefined) delete process.env.REKEY_CATALOG_TTL_MS;
    else process.env.REKEY_CATALOG_TTL_MS = savedTtl;
    rmSync(home, { recursive: true, force: true });
  });

  /** A home with keyring pii: v1 rotating (records r1 and r2 under it), v2 active. */
  async function rotatedHome(): Promise<void> {
    const rk = await openLocal({ home, clock, actor: 'setup' });
    try {
      await rk.keyrings.createKeyring('pii', POLICY, { actor: 'setup', now });
      await rk.recordService.put('r1', 'pii', Buffer.from('record one'));
      await rk.recordService.put('r2', 'pii', Buffer.from('record two'));
      await rk.keyrings.rotate('pii', { actor: 'setup', reason: 'test', now });
      now = new Date(T0 + 2 * MINUTE);
      await rk.keyrings.tick({ now });
    } finally {
      await rk.close();
    }
    expect((await openLocal({ home, clock, actor: 'check' }).then(async (rk) => {
      const c = await rk.keyrings.get('pii');
      await rk.close();
      return c;
    })).versions.map((v) => [v.version, v.state])).toEqual([[1, 'rotating'], [2, 'active']]);
  }

  describe('the master-key check', () => {
    it('refuses a home whose master.key is gone, creates none, and leaves nothing open', async () => {
      // Prepare
      const rk = await openLocal({ home, clock, actor: 'setup' });
      await rk.keyrings.createKeyring('pii', POLICY, { actor: 'setup', now });
      await rk.close();
      rmSync(join(home, 'master.key'));

      // Act
      const refused = openLocal({ home, clock, actor: 'job' });

      // Assess
      await expect(refused).rejects.toThrow(KeyUnavailableError);
      await expect(openLocal({ home, clock, actor: 'job' })).rejects.toThrow(join(home, 'master.key'));
      expect(existsSync(join(home, 'master.key'))).toBe(false);
      expect(openUnder(home)).toEqual([]);
    });

    it('creates the master key for an empty home only', async () => {
      // Act
      const rk = await open('setup');

      // Assess: opening alone creates no key; the first keyring does.
      expect(existsSync(join(home, 'master.key'))).toBe(false);
      await rk.keyrings.createKeyring('pii', POLICY, { actor: 'setup', now });
      expect(existsSync(join(home, 'master.key'))).toBe(true);
    });

    it('refuses a malformed REKEY_CATALOG_TTL_MS before opening anything', async () => {
      // Prepare
      process.env.REKEY_CATALOG_TTL_MS = '90 seconds';

      // Act / Assess
      await expect(openLocal({ home, clock })).rejects.toThrow(ValidationError);
      await expect(openLocal({ home, clock })).rejects.toThrow(/REKEY_CATALOG_TTL_MS must be a positive integer/);
      expect(readdirSync(home)).toEqual([]);
    });
  });

  describe('one catalog cache lifetime', () => {
    it('gives REKEY_CATALOG_TTL_MS to the readers and to the revocation: it completes only after a writer with a cached catalog stopped writing under the version', async () => {
      // Prepare: 10 minutes instead of the 60 s default.
      process.env.REKEY_CATALOG_TTL_MS = String(10 * MINUTE);
      const writer = await open('writer');
      await writer.keyrings.createKeyring('pii', POLICY, { actor: 'setup', now });
      await writer.recordService.put('r1', 'pii', Buffer.from('one'));
      const security = await open('security');

      // Act
      now = new Date(T0 + 1000);
      const first = await security.revocation.revoke('pii', 1, { reason: 'INC-1', actor: 'security' });
      now = new Date(T0 + 5 * MINUTE);
      // The writer still trusts the catalog it read at T0 (10 minutes): it encrypts under v1.
      await writer.recordService.put('r2', 'pii', Buffer.from('two'));
      const r2Version = (await writer.records.get('r2'))?.version;
      const second = await security.revocation.revoke('pii', 1, { reason: 'INC-1', actor: 'security' });
      now = new Date(T0 + 11 * MINUTE);
      await writer.recordService.put('r3', 'pii', Buffer.from('three'));
      const third = await security.revocation.revoke('pii', 1, { reason: 'INC-1', actor: 'security' });

      // Assess
      const settlesAt = new Date(T0 + 1000 + 10 * MINUTE).toISOString();
      expect(first).toMatchObject({ pending: 'settling', settlesAt, remaining: 0 });
      expect(r2Version).toBe(1);
      expect(second).toMatchObject({ pending: 'settling', settlesAt, remaining: 0 });
      expect((await writer.records.get('r3'))?.version).toBe(2);
      expect(third).toMatchObject({ remaining: 0, settlesAt });
      expect(third.pending).toBeUndefined();
      expect(await security.records.countByVersion('pii')).toEqual(new Map([[2, 3]]));
      expect((await writer.recordService.get('r2')).plaintext.toString()).toBe('two');
    });
  });

  describe('wiring of the sweep and the lazy re-wrap', () => {
    it('refuses to start a re-wrap sweep of a version another process revoked, although this process cached it as rotating', async () => {
      // Prepare: the catalog step of a revocation only (v3 replaces v1): r1 and r2 are still under v1.
      await rotatedHome();
      const sweeping = await open('sweeper');
      expect(await sweeping.provider.versionState('pii', 1)).toBe('rotating');
      const security = await open('security');
      await security.keyrings.revoke('pii', 1, { reason: 'INC-2', actor: 'security', now });

      // Act
      const refused = sweeping.sweeper.sweep('pii', 1, { mode: 'rewrap', checkpoint: sweeping.checkpoints });

      // Assess
      await expect(refused).rejects.toThrow(/version 1 of 'pii' is revoked: sweep it in 'reencrypt' mode/);
      expect(await sweeping.records.countByVersion('pii')).toEqual(new Map([[1, 2]]));
    });

    it('switches a running re-wrap sweep to re-encryption at the next batch when another process revokes the version', async () => {
      // Prepare: one record per batch; the revocation lands while the first batch's checkpoint is saved.
      await rotatedHome();
      const sweeping = await open('sweeper');
      const security = await open('security');
      let revoked = false;
      const checkpoint = {
        get: (id: string) => sweeping.checkpoints.get(id),
        clear: (id: string) => sweeping.checkpoints.clear(id),
        put: async (id: string, cp: Parameters<LocalServices['checkpoints']['put']>[1]) => {
          await sweeping.checkpoints.put(id, cp);
          if (!revoked) {
            revoked = true;
            await security.keyrings.revoke('pii', 1, { reason: 'INC-3', actor: 'security', now });
          }
        },
      };

      // Act
      const swept = await sweeping.sweeper.sweep('pii', 1, { mode: 'rewrap', checkpoint, batchSize: 1, concurrency: 1 });

      // Assess: the first record was re-wrapped to v2 before the revocation, keeping its v1 data
      // key; once switched, the sweep re-encrypts by origin, so both end with a new data key under
      // v3, the version the fresh catalog names active.
      expect(revoked).toBe(true);
      expect(swept).toMatchObject({ switchedToReencrypt: true, mode: 'reencrypt', remaining: 0 });
      const headers = await Promise.all(['r1', 'r2'].map(async (id) => inspectEnvelope((await sweeping.records.get(id))?.envelope ?? Buffer.alloc(0))));
      expect(headers.map((h) => [h.version, h.originVersion])).toEqual([[3, 3], [3, 3]]);
      expect(await sweeping.records.countByOrigin('pii')).toEqual(new Map([[3, 2]]));
    });

    it('audits lazy re-wraps once, aggregated, when the home closes', async () => {
      // Prepare
      await rotatedHome();
      const reader = await openLocal({ home, clock, actor: 'reader' });

      // Act
      const read = await reader.recordService.get('r1');
      const beforeClose = auditOf(home).filter((e) => e.action === 'records.rewrapped');
      await reader.close();

      // Assess
      expect(read).toMatchObject({ rewrap: 'rewrapped', version: 1 });
      expect(beforeClose).toEqual([]);
      expect(auditOf(home).filter((e) => e.action === 'records.rewrapped')).toEqual([
        expect.objectContaining({ actor: 'reader', keyring: 'pii', version: 1, details: { toVersion: 2, count: 1 } }),
      ]);
    });
  });
});
