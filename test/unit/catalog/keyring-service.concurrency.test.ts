/**
 * Two reconcilers on one SQLite catalog file: two KeyringService instances in this process
 * (two connections), and this process against a second Node process. Every due rotation must
 * create exactly one version, every promotion happen once, and no write be lost.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../support/scratch';
import { KeyringService } from '../../../shared/catalog/keyring-service';
import { checkInvariants } from '../../../shared/catalog/invariants';
import type { Catalog } from '../../../shared/catalog/model';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { JsonlAuditSink } from '../../../shared/adapters/local/jsonl-audit-sink';
import type { KeyVault } from '../../../shared/ports/key-vault';
import { MapFacts, MemoryAuditSink, MemoryKeyVault, after } from './support/fakes';
import { raceSchedule, type RaceSpec } from './support/race-schedule';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const POLICY = { rotateEverySeconds: 100, graceSeconds: 20, propagationSeconds: 10, retentionSeconds: 30 };

/** A vault that yields to the event loop a random number of times, so that racing calls interleave. */
function jitteryVault(): KeyVault {
  const inner = new MemoryKeyVault();
  const jitter = async (): Promise<void> => {
    for (let i = Math.floor(Math.random() * 4); i > 0; i -= 1) await new Promise((r) => setImmediate(r));
  };
  return {
    kind: 'jittery',
    generateKey: async (c, id) => {
      await jitter();
      return inner.generateKey(c, id);
    },
    unwrap: (w, c) => inner.unwrap(w, c),
    wrap: (p, c) => inner.wrap(p, c),
  };
}

/** Every consecutive pair of history entries must be a forward step of the previous one (nothing lost). */
function assertNoLostUpdate(history: ReadonlyArray<{ generation: number; catalog: Catalog }>): void {
  expect(history.map((h) => h.generation)).toEqual(history.map((_, i) => i + 1));
  for (let i = 1; i < history.length; i += 1) {
    const prev = history[i - 1]!.catalog;
    const next = history[i]!.catalog;
    expect(checkInvariants(next)).toEqual([]);
    expect(next.generation).toBe(prev.generation + 1);
    expect(next.versions.slice(0, prev.versions.length).map((v) => [v.version, v.createdAt])).toEqual(prev.versions.map((v) => [v.version, v.createdAt]));
  }
}

function facts(rounds: number, keyring: string): MapFacts {
  const f = new MapFacts(0);
  for (let v = 1; v <= rounds + 1; v += 1) f.setEscrow(keyring, v, true);
  return f;
}

describe('KeyringService (concurrency)', () => {
  let dir: string;
  const stores: SqliteCatalogStore[] = [];

  beforeEach(() => {
    dir = scratchDir('rekey-race-');
  });

  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const openStore = (): SqliteCatalogStore => {
    const s = new SqliteCatalogStore(join(dir, 'catalog.db'));
    stores.push(s);
    return s;
  };

  describe('two instances in one process racing rotate and tick', () => {
    it('creates exactly one version per due rotation and loses no update', async () => {
      // Prepare
      const rounds = 25;
      const audits = [new MemoryAuditSink(), new MemoryAuditSink()];
      const [a, b] = audits.map(
        (audit) => new KeyringService({ store: openStore(), vault: jitteryVault(), audit, facts: facts(rounds, 'ring'), clock: () => T0 }),
      ) as [KeyringService, KeyringService];
      await a.createKeyring('ring', POLICY, { actor: 'test' });
      const created: number[] = [];
      const activated: number[] = [];
      const count = (action: string) => audits.reduce((n, s) => n + s.events.filter((e) => e.action === action).length, 0);

      // Act
      for (let r = 1; r <= rounds; r += 1) {
        const due = after(T0, r * 110);
        const before = (await a.get('ring')).versions.length;
        const [ticks] = await Promise.all([
          Promise.all([a.tick({ now: due }), b.tick({ now: due })]),
          a.rotate('ring', { actor: 'a', reason: 'race', now: due }),
          b.rotate('ring', { actor: 'b', reason: 'race', now: due }),
        ]);
        expect(ticks.map((s) => s.failed)).toEqual([0, 0]);
        created.push((await b.get('ring')).versions.length - before);
        const promoted = count('version.activated');
        await Promise.all([a.tick({ now: after(due, 10) }), b.tick({ now: after(due, 10) })]);
        activated.push(count('version.activated') - promoted);
      }

      // Assess
      expect(created).toEqual(Array.from({ length: rounds }, () => 1));
      expect(activated).toEqual(Array.from({ length: rounds }, () => 1));
      expect(count('version.created')).toBe(rounds);
      const final = await a.get('ring');
      expect(final.versions.map((v) => v.version)).toEqual(Array.from({ length: rounds + 1 }, (_, i) => i + 1));
      expect(final.versions.at(-1)?.state).toBe('active');
      assertNoLostUpdate(await stores[0]!.history('ring'));
    });
  });

  describe('two processes on one catalog file', () => {
    it('ends exactly where one reconciler alone would, with every transition audited once', async () => {
      // Prepare
      const spec: RaceSpec = {
        db: join(dir, 'catalog.db'),
        audit: join(dir, 'audit.jsonl'),
        keyring: 'shared',
        base: T0.toISOString(),
        rounds: 30,
        period: POLICY.rotateEverySeconds + POLICY.propagationSeconds,
        propagation: POLICY.propagationSeconds,
      };
      const audit = new JsonlAuditSink(spec.audit);
      const local = new KeyringService({ store: openStore(), vault: new MemoryKeyVault(), audit, facts: facts(spec.rounds, spec.keyring), clock: () => T0 });
      await local.createKeyring(spec.keyring, POLICY, { actor: 'test' });
      const alone = new KeyringService({ store: new SqliteCatalogStore(':memory:'), vault: new MemoryKeyVault(), audit: new MemoryAuditSink(), facts: facts(spec.rounds, spec.keyring), clock: () => T0 });
      await alone.createKeyring(spec.keyring, POLICY, { actor: 'test' });
      for (const now of raceSchedule(spec)) await alone.tick({ now });
      const expected = (await alone.get(spec.keyring)).versions.map((v) => [v.version, v.state]);

      const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'support', 'race-worker.ts'), JSON.stringify(spec)], {
        cwd: join(__dirname, '..', '..', '..'),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (out.includes('ready\n')) resolve();
        };
        child.stdout.on('data', check);
        child.on('exit', () => reject(new Error(`worker exited early: ${err}`)));
      });

      // Act
      child.stdin.write('go\n');
      let localFailed = 0;
      for (const now of raceSchedule(spec)) localFailed += (await local.tick({ keyring: spec.keyring, now })).failed;
      const code = await exited;

      // Assess
      expect({ code, err }).toEqual({ code: 0, err: '' });
      expect(JSON.parse(out.split('\n')[1]!)).toEqual({ failed: 0 });
      expect(localFailed).toBe(0);
      const final = await local.get(spec.keyring);
      expect(final.versions.map((v) => [v.version, v.state])).toEqual(expected);
      assertNoLostUpdate(await stores[0]!.history(spec.keyring));
      const events = await audit.read({ keyring: spec.keyring });
      const generation = (e: { details?: Readonly<Record<string, unknown>> }) => e.details?.['generation'] as number;
      // Lines of two processes may land out of commit order; the generation each carries restores it.
      const inCommitOrder = (name: string) =>
        events
          .filter((e) => e.action === name)
          .sort((x, y) => generation(x) - generation(y))
          .map((e) => e.version);
      const versionsAfterFirst = Array.from({ length: spec.rounds }, (_, i) => i + 2);
      expect(inCommitOrder('version.created')).toEqual(versionsAfterFirst);
      expect(inCommitOrder('version.activated')).toEqual(versionsAfterFirst);
      expect(events.every((e) => Number.isSafeInteger(generation(e)))).toBe(true);
    });
  });
});
