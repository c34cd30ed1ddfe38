/**
 * Random histories of rotate / tick (at random later times) / revoke / freeze / breaker /
 * reference and escrow facts / crashes (the vault or the store throwing at a chosen call, a
 * write that lands but whose caller dies) against one KeyringService. After every step the
 * stored catalogs must be sound and every change between two snapshots must be one the
 * lifecycle allows, with the facts that held at that moment.
 *
 * Issue 11 adds data outside the record store: key uses (a file decrypted), unmanaged sources
 * declared and withdrawn, re-enabling, and header-only re-wraps (records moved off a version,
 * its key used to do so) followed by a revocation of that version. Properties: no version is
 * disabled while its key was used within the quiet period, a keyring with unmanaged data is
 * never disabled on counts alone, nothing is destroyed without the opt-in, and only a re-enable
 * of a never-revoked version moves a version back.
 */
import fc from 'fast-check';
import { KeyringService } from '../../../shared/catalog/keyring-service';
import { checkInvariants } from '../../../shared/catalog/invariants';
import { canDecrypt, isPaused, planTransitions } from '../../../shared/catalog/lifecycle';
import type { Catalog, KeyVersion, VersionState } from '../../../shared/catalog/model';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { FrozenError, IllegalTransitionError } from '../../../shared/errors';
import type { CatalogStore } from '../../../shared/ports/catalog-store';
import type { KeyVault } from '../../../shared/ports/key-vault';
import { MapFacts, MemoryAuditSink, MemoryKeyVault, after } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const QUIET = 20;
// 'a' opted in to destruction, 'b' keeps the default (never destroyed).
const POLICIES = {
  a: { rotateEverySeconds: 100, graceSeconds: 30, propagationSeconds: 10, retentionSeconds: 50, quietSeconds: QUIET, destroyAfterRetention: true },
  b: { rotateEverySeconds: 100, graceSeconds: 30, propagationSeconds: 10, retentionSeconds: 50, quietSeconds: QUIET, destroyAfterRetention: false },
} as const;
const KEYRINGS = ['a', 'b'] as const;

class CrashError extends Error {
  public override readonly name = 'CrashError';
}

type CrashPoint = 'vault' | 'get' | 'put-before' | 'put-after' | 'list';

type Command =
  | { op: 'rotate'; k: number }
  | { op: 'tick'; advance: number; k: number | undefined }
  | { op: 'revoke'; k: number; pick: number }
  | { op: 'freeze' | 'unfreeze' | 'trip' | 'reset'; k: number }
  | { op: 'refs'; k: number; pick: number; n: number }
  | { op: 'escrow'; k: number; pick: number; verified: boolean }
  | { op: 'crash'; at: CrashPoint; skip: number }
  | { op: 'use'; k: number; pick: number }
  | { op: 'sources'; k: number; unmanaged: boolean }
  | { op: 'reenable'; k: number; pick: number }
  | { op: 'rewrap'; k: number; pick: number };

const k = fc.integer({ min: 0, max: KEYRINGS.length - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('rotate' as const), k }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), advance: fc.integer({ min: 0, max: 160 }), k: fc.option(k, { nil: undefined }) }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('revoke' as const), k, pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constantFrom('freeze' as const, 'unfreeze' as const, 'trip' as const, 'reset' as const), k }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('refs' as const), k, pick: fc.nat(), n: fc.integer({ min: 0, max: 2 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('escrow' as const), k, pick: fc.nat(), verified: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('crash' as const), at: fc.constantFrom<CrashPoint>('vault', 'get', 'put-before', 'put-after', 'list'), skip: fc.integer({ min: 0, max: 3 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('use' as const), k, pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('sources' as const), k, unmanaged: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('reenable' as const), k, pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('rewrap' as const), k, pick: fc.nat() }), weight: 2 },
);

const RANK: Record<Exclude<VersionState, 'revoked'>, number> = { pending: 0, active: 1, rotating: 2, deprecated: 3, disabled: 4, destroyed: 5 };

/** Arms one crash: the (skip+1)-th matching call throws. */
class Crasher {
  private armed: { at: CrashPoint; left: number } | undefined;
  public arm(at: CrashPoint, skip: number): void {
    this.armed = { at, left: skip };
  }
  public hit(at: CrashPoint): boolean {
    if (this.armed === undefined || this.armed.at !== at) return false;
    if (this.armed.left > 0) {
      this.armed.left -= 1;
      return false;
    }
    this.armed = undefined;
    return true;
  }
}

function crashingStore(inner: CatalogStore, crasher: Crasher): CatalogStore {
  return {
    get: async (name) => {
      if (crasher.hit('get')) throw new CrashError('died before reading');
      return inner.get(name);
    },
    list: async () => {
      if (crasher.hit('list')) throw new CrashError('died before listing');
      return inner.list();
    },
    put: async (catalog, etag) => {
      if (crasher.hit('put-before')) throw new CrashError('died between key generation and the write');
      const tag = await inner.put(catalog, etag);
      if (crasher.hit('put-after')) throw new CrashError('died after the write, before auditing');
      return tag;
    },
  };
}

function crashingVault(inner: KeyVault, crasher: Crasher): KeyVault {
  return {
    kind: inner.kind,
    generateKey: async (context, id) => {
      const key = await inner.generateKey(context, id);
      if (crasher.hit('vault')) throw new CrashError('died right after the vault generated a key');
      return key;
    },
    unwrap: (w, c, id) => inner.unwrap(w, c, id),
    wrap: (p, c, id) => inner.wrap(p, c, id),
  };
}

function pickVersion(catalog: Catalog, pick: number): KeyVersion {
  return catalog.versions[pick % catalog.versions.length] as KeyVersion;
}

/** Checks that `next` is a legal successor of `prev` given the facts of the step. */
async function checkStep(prev: Catalog, next: Catalog, ctx: { now: Date; facts: MapFacts; op: Command['op']; tickOk: boolean }): Promise<void> {
  const name = next.keyring;
  expect(checkInvariants(next)).toEqual([]);
  expect(next.versions.length).toBeGreaterThanOrEqual(prev.versions.length);
  const pausedBefore = isPaused(prev);
  for (let i = 0; i < next.versions.length; i += 1) {
    const n = next.versions[i] as KeyVersion;
    const p = prev.versions[i];
    // A version once revoked is never readable again by anyone but the re-encryption worker.
    if (n.revokedAt !== undefined) {
      expect(canDecrypt(n.state, 'read')).toBe(false);
    }
    if (p === undefined) {
      expect(n.version).toBe((next.versions[i - 1]?.version ?? 0) + 1);
      continue;
    }
    // Versions are never renumbered, replaced or re-keyed.
    expect(n.version).toBe(p.version);
    expect(n.createdAt).toBe(p.createdAt);
    if (n.state !== 'destroyed') expect(n.wrappedKey).toBe(p.wrappedKey);
    if (p.state === n.state) continue;
    if (p.state === 'disabled' && n.state === 'deprecated') {
      // Only an operator's re-enable moves a version back, and never a revoked one.
      expect({ op: ctx.op, reenabled: n.reenabledAt !== undefined, revoked: n.revokedAt }).toEqual({ op: 'reenable', reenabled: true, revoked: undefined });
      continue;
    }
    if (p.state === 'revoked') {
      expect(['disabled', 'destroyed']).toContain(n.state);
    } else if (n.state !== 'revoked') {
      expect(RANK[n.state]).toBeGreaterThan(RANK[p.state]);
    } else {
      expect(p.state).not.toBe('destroyed');
    }
    if (pausedBefore && n.state !== 'revoked' && !(p.state === 'active' && n.state === 'rotating' && ctx.op === 'revoke')) {
      throw new Error(`version ${n.version} of ${name} moved ${p.state} → ${n.state} while paused (${ctx.op})`);
    }
    const refs = ctx.facts.refs.get(`${name}#${n.version}`) ?? ctx.facts.defaultReferences;
    if (n.state === 'disabled' || n.state === 'destroyed') {
      expect({ version: n.version, refs }).toEqual({ version: n.version, refs: 0 });
      // The key went quiet first: no use within the quiet period, and never on counts alone
      // where unmanaged data is declared (its quiet period is days; these histories last minutes).
      const lastUse = ctx.facts.uses.get(`${name}#${n.version}`)?.at.getTime() ?? 0;
      expect({ version: n.version, quietFor: ctx.now.getTime() - lastUse >= QUIET * 1000 }).toEqual({ version: n.version, quietFor: true });
      expect({ version: n.version, unmanaged: prev.sources?.unmanaged ?? [] }).toEqual({ version: n.version, unmanaged: [] });
    }
    if (n.state === 'destroyed') {
      const policy = POLICIES[name as keyof typeof POLICIES];
      expect(policy.destroyAfterRetention).toBe(true);
      expect(ctx.facts.escrow.has(`${name}#${n.version}`)).toBe(true);
      expect(Date.parse(n.disabledAt!) + policy.retentionSeconds * 1000).toBeLessThanOrEqual(ctx.now.getTime());
    }
  }
  // A tick that completed leaves nothing due: the reconciler reached its fixed point.
  if (ctx.op === 'tick' && ctx.tickOk) {
    const references = new Map(next.versions.map((v) => [v.version, ctx.facts.refs.get(`${name}#${v.version}`) ?? ctx.facts.defaultReferences]));
    const escrowVerified = new Set(next.versions.filter((v) => ctx.facts.escrow.has(`${name}#${v.version}`)).map((v) => v.version));
    const keyUse = await ctx.facts.keyUse(name);
    expect(planTransitions(next, ctx.now, { references, escrowVerified, keyUse })).toEqual([]);
  }
}

describe('KeyringService (properties)', () => {
  describe('any history of operations, crashes and facts', () => {
    it('keeps every catalog sound and every change legal after every step', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), fc.constantFrom(0, 1), async (commands, defaultRefs) => {
          // Prepare
          const store = new SqliteCatalogStore(':memory:');
          const crasher = new Crasher();
          const facts = new MapFacts(defaultRefs);
          const audit = new MemoryAuditSink();
          let now = T0;
          const service = new KeyringService({
            store: crashingStore(store, crasher),
            vault: crashingVault(new MemoryKeyVault(), crasher),
            audit,
            facts,
            clock: () => now,
          });
          for (const name of KEYRINGS) await service.createKeyring(name, POLICIES[name], { actor: 'test' });
          const snapshot = async (): Promise<Map<string, Catalog>> => new Map(await Promise.all(KEYRINGS.map(async (n) => [n, (await store.get(n))!.catalog] as const)));
          let prev = await snapshot();

          for (const cmd of commands) {
            // Act
            const tickOk = new Set<string>();
            try {
              switch (cmd.op) {
                case 'rotate':
                  await service.rotate(KEYRINGS[cmd.k]!, { actor: 'test', reason: 'manual' }).catch((err) => {
                    if (!(err instanceof FrozenError)) throw err;
                  });
                  break;
                case 'tick': {
                  now = after(now, cmd.advance);
                  const summary = await service.tick({ keyring: cmd.k === undefined ? undefined : KEYRINGS[cmd.k], now });
                  for (const r of summary.keyrings) {
                    if (r.error === undefined) tickOk.add(r.keyring);
                    // The one error summary never repeats an unknown error's message (it may carry data): the
                    // crash is recognised by its class name.
                    else expect(r.error.message).toMatch(/CrashError/);
                  }
                  break;
                }
                case 'revoke': {
                  const target = pickVersion(prev.get(KEYRINGS[cmd.k]!)!, cmd.pick);
                  await service.revoke(KEYRINGS[cmd.k]!, target.version, { actor: 'test', reason: 'incident' }).catch((err) => {
                    if (!(err instanceof IllegalTransitionError && target.state === 'destroyed')) throw err;
                  });
                  break;
                }
                case 'freeze':
                  await service.freeze(KEYRINGS[cmd.k]!, { actor: 'test', reason: 'incident' });
                  break;
                case 'unfreeze':
                  await service.unfreeze(KEYRINGS[cmd.k]!, { actor: 'test' });
                  break;
                case 'trip':
                  await service.tripBreaker(KEYRINGS[cmd.k]!, 'failures');
                  break;
                case 'reset':
                  await service.resetBreaker(KEYRINGS[cmd.k]!);
                  break;
                case 'refs':
                  facts.setReferences(KEYRINGS[cmd.k]!, pickVersion(prev.get(KEYRINGS[cmd.k]!)!, cmd.pick).version, cmd.n);
                  break;
                case 'escrow':
                  facts.setEscrow(KEYRINGS[cmd.k]!, pickVersion(prev.get(KEYRINGS[cmd.k]!)!, cmd.pick).version, cmd.verified);
                  break;
                case 'crash':
                  crasher.arm(cmd.at, cmd.skip);
                  break;
                case 'use':
                  // A reader unwrapped the version key (only versions that may decrypt can be used).
                  {
                    const v = pickVersion(prev.get(KEYRINGS[cmd.k]!)!, cmd.pick);
                    if (canDecrypt(v.state, 'reencrypt')) facts.use(KEYRINGS[cmd.k]!, v.version, now);
                  }
                  break;
                case 'sources':
                  await service.updateSources(KEYRINGS[cmd.k]!, cmd.unmanaged ? ['files'] : [], { mode: 'set', actor: 'test', now });
                  break;
                case 'reenable': {
                  const v = pickVersion(prev.get(KEYRINGS[cmd.k]!)!, cmd.pick);
                  await service.reenable(KEYRINGS[cmd.k]!, v.version, { actor: 'test', now }).catch((err) => {
                    if (!(err instanceof IllegalTransitionError && (v.state !== 'disabled' || v.revokedAt !== undefined))) throw err;
                  });
                  break;
                }
                case 'rewrap': {
                  // A header-only sweep moved the version's records to the active version: it
                  // unwrapped the old version key to do so (a use); a revoke may follow.
                  const catalog = prev.get(KEYRINGS[cmd.k]!)!;
                  const v = pickVersion(catalog, cmd.pick);
                  const active = catalog.versions.find((x) => x.state === 'active');
                  if (active !== undefined && v.version !== active.version && canDecrypt(v.state, 'read')) {
                    const name = KEYRINGS[cmd.k]!;
                    const moved = facts.refs.get(`${name}#${v.version}`) ?? facts.defaultReferences;
                    facts.setReferences(name, active.version, (facts.refs.get(`${name}#${active.version}`) ?? facts.defaultReferences) + moved);
                    facts.setReferences(name, v.version, 0);
                    facts.use(name, v.version, now);
                  }
                  break;
                }
              }
            } catch (err) {
              if (!(err instanceof CrashError)) throw err;
            }
            // Assess
            const next = await snapshot();
            for (const name of KEYRINGS) {
              await checkStep(prev.get(name)!, next.get(name)!, { now, facts, op: cmd.op, tickOk: tickOk.has(name) });
            }
            prev = next;
          }
          // Nothing secret ever reaches the audit trail.
          const serialized = JSON.stringify(audit.events);
          for (const c of prev.values()) for (const v of c.versions) if (v.wrappedKey !== undefined) expect(serialized).not.toContain(v.wrappedKey);
          store.close();
        }),
        { numRuns: 150 },
      );
    });
  });
});
