/**
 * The record-store contract: one suite that every RecordStore adapter runs against its real
 * backend (SQLite file, S3 and DynamoDB on moto_server, a real PostgreSQL), so that the sweeps,
 * the lazy re-wrap and the revocation, which are written against the port, behave the same
 * wherever the data lives. Each adapter's test file calls {@link describeRecordStoreContract}
 * once with a factory that opens a fresh, empty store and a second client over the same data.
 *
 * What it pins down (shared/ports/record-store.ts): conditional writes that lose to a concurrent
 * writer and never match a reused revision; scans by keyring and version (and by origin) that
 * page with a resumable cursor, also from another client; counts by version and origin that
 * match what was written; the header-only re-wrap (getHeader / putHeaders keep the body
 * byte-identical); batch outcomes per write; bad writes refused with nothing changed; and a
 * Sweeper run over the store, racing an application writer, converging with nothing lost.
 */
import { ConflictError, ValidationError } from '../../shared/errors';
import { parseHeader } from '../../shared/envelope/format';
import type { BatchRecordStore, RecordRef } from '../../shared/ports/record-store';
import { RecordService, Sweeper, withHeaderRewrap } from '../../shared/reencrypt';
import { MemoryCheckpointStore } from '../../shared/adapters/local/memory-checkpoint-store';
import { LocalStack } from '../unit/reencrypt/support/local-stack';

/** A store opened for one contract test. */
export interface ContractHandle {
  /** A fresh, empty store (its own table, schema, file or bucket). */
  readonly store: BatchRecordStore;
  /** A second, independent client over the SAME data (another connection or process): for races. */
  readonly peer: BatchRecordStore;
  close(): Promise<void>;
}

/** Every record of (keyring, version) through the scan, `limit` at a time; `alternate` pages through the peer. */
async function scanAll(
  stores: readonly BatchRecordStore[],
  scan: (s: BatchRecordStore, cursor: string | undefined) => Promise<{ items: readonly RecordRef[]; cursor?: string }>,
): Promise<{ refs: RecordRef[]; pages: number }> {
  const refs: RecordRef[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await scan(stores[pages % stores.length] as BatchRecordStore, cursor);
    refs.push(...page.items);
    cursor = page.cursor;
    pages += 1;
    if (pages > 10_000) throw new Error('scan does not end');
  } while (cursor !== undefined);
  return { refs, pages };
}

const idOf = (i: number): string => `rec-${String(i).padStart(3, '0')}`;
const valueOf = (i: number): Buffer => Buffer.from(`payload ${i} `.repeat(1 + (i % 5)));

/**
 * Runs the record-store contract against `open`.
 *
 * @example
 * describeRecordStoreContract('PgRecordStore', openPostgresContractStore);
 */
export function describeRecordStoreContract(name: string, open: () => Promise<ContractHandle>): void {
  describe(`${name} (record-store contract)`, () => {
    let stack: LocalStack;
    let h: ContractHandle;
    /** The active version of 'pii' when the test starts (earlier tests rotate it). */
    let v1: number;

    beforeAll(async () => {
      stack = new LocalStack();
      await stack.createKeyring('pii');
      await stack.createKeyring('other');
    });
    afterAll(() => stack.close());
    beforeEach(async () => {
      v1 = (await stack.keyrings.get('pii')).versions.find((v) => v.state === 'active')!.version;
      h = await open();
    });
    afterEach(async () => {
      await h.close();
    });

    const service = (store: BatchRecordStore = h.store): RecordService => new RecordService({ records: store, envelopes: stack.envelopes, versions: stack.provider });
    async function envelopeOf(keyring: string, i: number): Promise<Buffer> {
      return stack.envelopes.encrypt(keyring, valueOf(i));
    }

    describe('put', () => {
      it('creates only when absent with expectedRevision null, and refuses a second create', async () => {
        // Prepare
        const envelope = await envelopeOf('pii', 1);
        // Act
        const rev = await h.store.put({ id: idOf(1), keyring: 'pii', version: v1, envelope }, null);
        // Assess
        expect(typeof rev).toBe('string');
        await expect(h.peer.put({ id: idOf(1), keyring: 'pii', version: v1, envelope }, null)).rejects.toBeInstanceOf(ConflictError);
        const got = await h.peer.get(idOf(1));
        expect(got?.envelope.equals(envelope)).toBe(true);
        expect(got?.revision).toBe(rev);
        expect(got?.originVersion).toBe(v1);
      });

      it('loses to a concurrent writer: a write at the revision the other client replaced conflicts and changes nothing', async () => {
        // Prepare
        const first = await h.store.put({ id: idOf(2), keyring: 'pii', version: v1, envelope: await envelopeOf('pii', 2) }, null);
        const theirs = await envelopeOf('pii', 3);
        const mine = await envelopeOf('pii', 4);
        // Act: both read `first`; the peer writes first.
        const theirRev = await h.peer.put({ id: idOf(2), keyring: 'pii', version: v1, envelope: theirs }, first);
        // Assess
        await expect(h.store.put({ id: idOf(2), keyring: 'pii', version: v1, envelope: mine }, first)).rejects.toBeInstanceOf(ConflictError);
        const got = await h.store.get(idOf(2));
        expect(got?.envelope.equals(theirs)).toBe(true);
        expect(got?.revision).toBe(theirRev);
        expect(theirRev).not.toBe(first);
      });

      it('lets exactly one of many simultaneous writers at the same revision win', async () => {
        // Prepare
        const base = await h.store.put({ id: idOf(5), keyring: 'pii', version: v1, envelope: await envelopeOf('pii', 5) }, null);
        const candidates = await Promise.all(Array.from({ length: 6 }, (_, i) => envelopeOf('pii', 10 + i)));
        // Act
        const settled = await Promise.allSettled(candidates.map((envelope, i) => (i % 2 === 0 ? h.store : h.peer).put({ id: idOf(5), keyring: 'pii', version: v1, envelope }, base)));
        // Assess
        const won = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [i] : []));
        expect(won).toHaveLength(1);
        for (const s of settled) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(ConflictError);
        expect((await h.store.get(idOf(5)))?.envelope.equals(candidates[won[0] as number] as Buffer)).toBe(true);
      });

      it('never reuses a revision: a record deleted and created again does not match its old revision', async () => {
        // Prepare
        const old = await h.store.put({ id: idOf(6), keyring: 'pii', version: v1, envelope: await envelopeOf('pii', 6) }, null);
        await h.store.delete(idOf(6), old);
        const again = await envelopeOf('pii', 7);
        const fresh = await h.peer.put({ id: idOf(6), keyring: 'pii', version: v1, envelope: again }, null);
        // Act / Assess
        await expect(h.store.put({ id: idOf(6), keyring: 'pii', version: v1, envelope: await envelopeOf('pii', 8) }, old)).rejects.toBeInstanceOf(ConflictError);
        await expect(h.store.delete(idOf(6), old)).rejects.toBeInstanceOf(ConflictError);
        const got = await h.store.get(idOf(6));
        expect(got?.envelope.equals(again)).toBe(true);
        expect(got?.revision).toBe(fresh);
      });

      it('refuses a keyring or version that the envelope header does not carry, and stores nothing', async () => {
        // Prepare
        const envelope = await envelopeOf('pii', 9);
        // Act / Assess
        await expect(h.store.put({ id: idOf(9), keyring: 'other', version: v1, envelope }, null)).rejects.toBeInstanceOf(ValidationError);
        await expect(h.store.put({ id: idOf(9), keyring: 'pii', version: v1 + 7, envelope }, null)).rejects.toBeInstanceOf(ValidationError);
        expect(await h.store.get(idOf(9))).toBeUndefined();
        expect(await h.store.countByVersion('pii')).toEqual(new Map());
      });
    });

    describe('delete', () => {
      it('deletes conditionally: a stale revision conflicts and the record stays', async () => {
        // Prepare
        const rev = await h.store.put({ id: idOf(11), keyring: 'pii', version: v1, envelope: await envelopeOf('pii', 11) }, null);
        const newer = await h.peer.put({ id: idOf(11), keyring: 'pii', version: v1, envelope: await envelopeOf('pii', 12) }, rev);
        // Act / Assess
        await expect(h.store.delete(idOf(11), rev)).rejects.toBeInstanceOf(ConflictError);
        expect((await h.store.get(idOf(11)))?.revision).toBe(newer);
        await h.store.delete(idOf(11), newer);
        expect(await h.peer.get(idOf(11))).toBeUndefined();
      });
    });

    describe('scanByVersion and counts', () => {
      it('pages through exactly the records of one keyring version, resumable from the other client, and counts them', async () => {
        // Prepare: 23 records of pii under v1, then a rotation; 9 written under v2; 4 of another keyring.
        const svc = service();
        for (let i = 0; i < 23; i += 1) await svc.put(idOf(100 + i), 'pii', valueOf(i));
        for (let i = 0; i < 4; i += 1) await svc.put(idOf(200 + i), 'other', valueOf(i));
        const v2 = await stack.rotateAndPromote('pii');
        for (let i = 0; i < 9; i += 1) await svc.put(idOf(300 + i), 'pii', valueOf(i));
        // Act: pages of 5, alternating between the two clients (a resumed scan in another process).
        const old = await scanAll([h.store, h.peer], (s, cursor) => s.scanByVersion('pii', v1, { limit: 5, ...(cursor === undefined ? {} : { cursor }) }));
        const fresh = await scanAll([h.peer, h.store], (s, cursor) => s.scanByVersion('pii', v2, { limit: 4, ...(cursor === undefined ? {} : { cursor }) }));
        // Assess
        const oldIds = old.refs.map((r) => r.id);
        expect(new Set(oldIds).size).toBe(oldIds.length);
        expect(oldIds.sort()).toEqual(Array.from({ length: 23 }, (_, i) => idOf(100 + i)));
        expect(old.pages).toBeGreaterThanOrEqual(5);
        expect(old.refs.every((r) => r.keyring === 'pii' && r.version === v1 && r.originVersion === v1)).toBe(true);
        expect(fresh.refs.map((r) => r.id).sort()).toEqual(Array.from({ length: 9 }, (_, i) => idOf(300 + i)));
        expect(await h.store.countByVersion('pii')).toEqual(new Map([[v1, 23], [v2, 9]]));
        expect(await h.peer.countByVersion('other')).toEqual(new Map([[(await stack.keyrings.get('other')).versions[0]!.version, 4]]));
        expect(await h.store.countByVersion('none')).toEqual(new Map());
      });

      it('scans and counts by origin: a header-only re-wrap keeps the origin, a re-encryption advances it', async () => {
        // Prepare
        const svc = service();
        for (let i = 0; i < 7; i += 1) await svc.put(idOf(400 + i), 'pii', valueOf(i));
        const v2 = await stack.rotateAndPromote('pii');
        const sweeper = new Sweeper({ records: h.store, envelopes: withHeaderRewrap(stack.envelopes, stack.provider), versions: stack.provider });
        // Act: re-wrap all (origin stays v1), then write 3 new records under v2.
        const swept = await sweeper.sweep('pii', v1, { mode: 'rewrap', batchSize: 3, concurrency: 2, checkpoint: new MemoryCheckpointStore() });
        for (let i = 0; i < 3; i += 1) await svc.put(idOf(500 + i), 'pii', valueOf(i));
        // Assess
        expect(swept.failedCount).toBe(0);
        expect(await h.store.countByVersion('pii')).toEqual(new Map([[v2, 10]]));
        expect(await h.store.countByOrigin('pii')).toEqual(new Map([[v1, 7], [v2, 3]]));
        const exposed = await scanAll([h.store, h.peer], (s, cursor) => s.scanByOrigin('pii', v1, { limit: 2, ...(cursor === undefined ? {} : { cursor }) }));
        expect(exposed.refs.map((r) => r.id).sort()).toEqual(Array.from({ length: 7 }, (_, i) => idOf(400 + i)));
        expect(exposed.refs.every((r) => r.version === v2 && r.originVersion === v1)).toBe(true);
        const all = await scanAll([h.peer], (s, cursor) => s.scanByOrigin('pii', v2, { limit: 4, ...(cursor === undefined ? {} : { cursor }) }));
        expect(all.refs).toHaveLength(10);
      });

      it('refuses a malformed cursor with a ValidationError', async () => {
        await service().put(idOf(600), 'pii', valueOf(1));
        await expect(h.store.scanByVersion('pii', v1, { limit: 2, cursor: '%%not-a-cursor%%' })).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe('header-only re-wrap', () => {
      it('reads the header alone and replaces it, keeping the body byte-identical and the record readable', async () => {
        // Prepare
        const svc = service();
        for (let i = 0; i < 4; i += 1) await svc.put(idOf(700 + i), 'pii', valueOf(i));
        const before = await Promise.all(Array.from({ length: 4 }, async (_, i) => (await h.store.get(idOf(700 + i)))!));
        const v2 = await stack.rotateAndPromote('pii');
        const envelopes = withHeaderRewrap(stack.envelopes, stack.provider);
        const headers = await Promise.all(before.map(async (r) => (await h.peer.getHeader(r.id))!));
        // Act: one write of the batch loses to a concurrent application write.
        const raced = await h.peer.put({ id: before[2]!.id, keyring: 'pii', version: v2, envelope: await envelopeOf('pii', 99) }, before[2]!.revision);
        const writes = await Promise.all(
          headers.map(async (hd) => {
            const next = await envelopes.rewrapHeader(hd.header);
            return { write: { id: hd.id, keyring: hd.keyring, version: next.version, header: next.header }, expectedRevision: hd.revision };
          }),
        );
        const outcomes = await h.store.putHeaders(writes);
        // Assess
        expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, true]);
        for (let i = 0; i < 4; i += 1) {
          const b = before[i]!;
          const hd = headers[i]!;
          expect(hd.header.equals(b.envelope.subarray(0, parseHeader(b.envelope).headerLength))).toBe(true);
          expect(hd.version).toBe(v1);
          expect(hd.originVersion).toBe(v1);
          const after = (await h.store.get(b.id))!;
          if (i === 2) {
            expect(after.revision).toBe(raced);
            continue;
          }
          const outcome = outcomes[i]!;
          expect(outcome.ok && outcome.revision).toBe(after.revision);
          expect(after.version).toBe(v2);
          expect(after.originVersion).toBe(v1);
          const len = parseHeader(after.envelope).headerLength;
          expect(after.envelope.subarray(len).equals(b.envelope.subarray(hd.header.length))).toBe(true);
          expect((await service(h.peer).get(b.id)).plaintext.equals(valueOf(i))).toBe(true);
        }
        expect(await h.store.countByVersion('pii')).toEqual(new Map([[v2, 4]]));
        expect(await h.store.getHeader('absent')).toBeUndefined();
      });

      it('writes whole envelopes in a batch, each succeeding or conflicting on its own', async () => {
        // Prepare
        const a = await h.store.put({ id: idOf(800), keyring: 'pii', version: v1, envelope: await envelopeOf('pii', 1) }, null);
        const newA = await envelopeOf('pii', 2);
        const newB = await envelopeOf('pii', 3);
        // Act: a at its revision, b absent (create), c absent but expected present (conflict)
        const outcomes = await h.store.putBatch([
          { write: { id: idOf(800), keyring: 'pii', version: v1, envelope: newA }, expectedRevision: a },
          { write: { id: idOf(801), keyring: 'pii', version: v1, envelope: newB }, expectedRevision: null },
          { write: { id: idOf(802), keyring: 'pii', version: v1, envelope: newB }, expectedRevision: a },
        ]);
        // Assess
        expect(outcomes.map((o) => o.ok)).toEqual([true, true, false]);
        expect((await h.peer.get(idOf(800)))?.envelope.equals(newA)).toBe(true);
        expect((await h.peer.get(idOf(801)))?.envelope.equals(newB)).toBe(true);
        expect(await h.peer.get(idOf(802))).toBeUndefined();
      });
    });

    describe('a sweep over the store', () => {
      it('converges with an application writer racing it through the other client: nothing lost, all on the active version', async () => {
        // Prepare
        const M = 24;
        const svc = service();
        for (let i = 0; i < M; i += 1) await svc.put(idOf(900 + i), 'pii', valueOf(i));
        const active = await stack.rotateAndPromote('pii');
        const from = (await h.store.countByVersion('pii')).keys().next().value as number;
        const expected = new Map(Array.from({ length: M }, (_, i) => [idOf(900 + i), valueOf(i)]));
        const app = service(h.peer);
        const sweeper = new Sweeper({ records: h.store, envelopes: withHeaderRewrap(stack.envelopes, stack.provider), versions: stack.provider });
        // Act
        const writer = async (): Promise<void> => {
          for (let i = 0; i < M; i += 3) {
            const value = Buffer.from(`rewritten ${i}`);
            await app.put(idOf(900 + i), 'pii', value);
            expected.set(idOf(900 + i), value);
          }
        };
        const [result] = await Promise.all([sweeper.sweep('pii', from, { mode: 'rewrap', batchSize: 5, concurrency: 3, checkpoint: new MemoryCheckpointStore() }), writer()]);
        // Assess
        expect(result.failedCount).toBe(0);
        expect(result.remaining).toBe(0);
        expect(await h.store.countByVersion('pii')).toEqual(new Map([[active, M]]));
        for (const [id, value] of expected) expect((await app.get(id)).plaintext.equals(value)).toBe(true);
      });
    });
  });
}
