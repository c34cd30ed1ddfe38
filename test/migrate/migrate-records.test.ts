import fc from 'fast-check';
import { ConflictError } from '../../shared/errors';
import { MemoryCheckpointStore } from '../../shared/adapters/local/memory-checkpoint-store';
import { classifyRecord, createEsdkDecryptor, migrateRecords, RecordStoreMigrationStore } from '../../shared/migrate';
import type { MigrationEnvelopes } from '../../shared/migrate';
import type { LocalStack } from '../unit/reencrypt/support/local-stack';
import { esdkKey, esdkMessage, FaultyStore, stackWith } from './support';

const SECRET = 'card=4111111111111111';

/** Writes rows the way data existed before rekey: raw bytes indexed under the keyring. */
async function seedRaw(stack: LocalStack, rows: Readonly<Record<string, Buffer>>): Promise<void> {
  for (const [id, bytes] of Object.entries(rows)) await stack.records.put({ id, keyring: 'pii', version: 1, envelope: bytes }, null);
}

async function readAll(stack: LocalStack, ids: readonly string[]): Promise<Map<string, string>> {
  const service = stack.recordService();
  const out = new Map<string, string>();
  for (const id of ids) out.set(id, (await service.get(id)).plaintext.toString());
  return out;
}

describe('migrateRecords over the local record store', () => {
  let stack: LocalStack;
  let store: RecordStoreMigrationStore;
  beforeEach(async () => {
    stack = await stackWith('pii');
    store = new RecordStoreMigrationStore({ records: stack.records, keyring: 'pii' });
  });
  afterEach(() => stack.close());

  describe('from plaintext', () => {
    it('seals plaintext rows in place, readable through RecordService, and skips what is not plaintext', async () => {
      // Prepare
      const message = await esdkMessage(esdkKey(), Buffer.from('esdk data'));
      await seedRaw(stack, { a: Buffer.from(`${SECRET}-a`), b: Buffer.from('{"name":"Ada"}'), e: message, u: Buffer.from([1, 1, 0, 3, 0x61]) });
      await stack.recordService().put('r', 'pii', Buffer.from('already sealed'));
      const before = await stack.records.get('e');
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes });
      // Assess
      expect(report).toMatchObject({ listed: 5, migrated: 2, conflicts: 0, failedCount: 0, completed: true, seen: { plaintext: 2, esdk: 1, rekey: 1, undecidable: 1 } });
      expect(await readAll(stack, ['a', 'b', 'r'])).toEqual(new Map([['a', `${SECRET}-a`], ['b', '{"name":"Ada"}'], ['r', 'already sealed']]));
      expect((await stack.records.get('e'))?.envelope.equals(before?.envelope ?? Buffer.alloc(0))).toBe(true);
      expect((await stack.records.get('u'))?.envelope).toEqual(Buffer.from([1, 1, 0, 3, 0x61]));
      // The records index their version now, so a sweep finds them.
      expect((await stack.records.countByVersion('pii')).get(1)).toBe(5);
    });

    it('binds the caller context with the record id, so a read needs both', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from(SECRET) });
      // Act
      await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes, context: { tenant: 'acme' } });
      // Assess
      const service = stack.recordService();
      expect((await service.get('a', { context: { tenant: 'acme' } })).plaintext.toString()).toBe(SECRET);
      await expect(service.get('a')).rejects.toThrow();
      // Moved to another id, the envelope does not open: the id is bound.
      const moved = (await stack.records.get('a'))?.envelope ?? Buffer.alloc(0);
      await expect(stack.envelopes.decrypt(moved, { context: { tenant: 'acme', 'rekey:record-id': 'b' } })).rejects.toThrow();
    });

    it('does nothing on a second run: every record is a rekey envelope', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from('1'), b: Buffer.from('2') });
      await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes });
      const first = (await stack.records.get('a'))?.revision;
      // Act
      const again = await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes });
      // Assess
      expect(again).toMatchObject({ migrated: 0, seen: { rekey: 2, plaintext: 0 } });
      expect((await stack.records.get('a'))?.revision).toBe(first);
    });

    it('only counts in a dry run, and writes nothing', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from('1'), e: await esdkMessage(esdkKey(), Buffer.from('x')) });
      const checkpoint = new MemoryCheckpointStore();
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes, dryRun: true, checkpoint });
      // Assess
      expect(report).toMatchObject({ dryRun: true, listed: 2, migrated: 0, seen: { plaintext: 1, esdk: 1 } });
      expect((await stack.records.get('a'))?.envelope.toString()).toBe('1');
      expect(await checkpoint.get(report.migrationId)).toBeUndefined();
    });

    it('never writes a record whose new envelope does not decrypt to the same bytes', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from(SECRET) });
      const lying: MigrationEnvelopes = {
        encrypt: (k, p, o) => stack.envelopes.encrypt(k, p, o),
        inspect: (e) => stack.envelopes.inspect(e),
        decrypt: async (e, o) => {
          const d = await stack.envelopes.decrypt(e, o);
          d.plaintext.writeUInt8(d.plaintext.readUInt8(0) ^ 1, 0);
          return d;
        },
      };
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: lying });
      // Assess
      expect(report).toMatchObject({ migrated: 0, failedCount: 1, failed: [{ id: 'a', reason: 'verification-failed' }] });
      expect((await stack.records.get('a'))?.envelope.toString()).toBe(SECRET);
      expect(JSON.stringify(report)).not.toContain('4111');
    });

    it('fails a record alone when the keyring cannot encrypt, with a code and no data', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from(SECRET) });
      // Act
      const report = await migrateRecords({ keyring: 'nope', from: 'plaintext', store, envelopes: stack.envelopes });
      // Assess
      expect(report.failed).toEqual([{ id: 'a', reason: 'key-unavailable' }]);
      expect(JSON.stringify(report)).not.toContain('4111');
    });
  });

  describe('crash and resume', () => {
    it('completes after a crash halfway, every record readable and none wrapped twice', async () => {
      // Prepare
      const rows: Record<string, Buffer> = {};
      for (let i = 0; i < 25; i += 1) rows[`id-${String(i).padStart(2, '0')}`] = Buffer.from(`${SECRET}-${i}`);
      await seedRaw(stack, rows);
      const checkpoint = new MemoryCheckpointStore();
      const faulty = new FaultyStore(store, { crashAfterWrites: 12 });
      // Act
      const crashed = migrateRecords({ keyring: 'pii', from: 'plaintext', store: faulty, envelopes: stack.envelopes, checkpoint, batchSize: 5, concurrency: 2 });
      await expect(crashed).rejects.toThrow('injected crash');
      const saved = await checkpoint.get('migrate:pii:plaintext:records/pii');
      faulty.faults = {};
      const resumed = await migrateRecords({ keyring: 'pii', from: 'plaintext', store: faulty, envelopes: stack.envelopes, checkpoint, batchSize: 5, concurrency: 2 });
      // Assess
      expect(saved).toMatchObject({ completed: false });
      expect(saved?.done).toBeGreaterThanOrEqual(10);
      expect(resumed.resumed).toBe(true);
      expect(resumed.completed).toBe(true);
      expect(faulty.writes).toBe(25);
      const read = await readAll(stack, Object.keys(rows));
      for (const [id, bytes] of Object.entries(rows)) expect(read.get(id)).toBe(bytes.toString());
      // One envelope each: the decrypted bytes are the plaintext, not another envelope.
      for (const id of Object.keys(rows)) expect(classifyRecord(Buffer.from(read.get(id) ?? ''))).toBe('plaintext');
    });

    it('starts a new pass after a completed one, which picks up records written since', async () => {
      // Prepare
      const checkpoint = new MemoryCheckpointStore();
      await seedRaw(stack, { a: Buffer.from('1') });
      await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes, checkpoint });
      await seedRaw(stack, { b: Buffer.from('2') });
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes, checkpoint });
      // Assess
      expect(report).toMatchObject({ resumed: false, migrated: 1, seen: { rekey: 1, plaintext: 1 } });
    });
  });

  describe('concurrent writers', () => {
    it('lets a writer that changed the record between read and write win, and migrates it next run', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from('old a'), b: Buffer.from('old b') });
      const faulty = new FaultyStore(store, {
        afterRead: async (r) => {
          if (r.id === 'a') await stack.records.put({ id: 'a', keyring: 'pii', version: 1, envelope: Buffer.from('new a') }, r.revision);
        },
      });
      // Act
      const first = await migrateRecords({ keyring: 'pii', from: 'plaintext', store: faulty, envelopes: stack.envelopes });
      const afterFirst = (await stack.records.get('a'))?.envelope.toString();
      const second = await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes });
      // Assess
      expect(first).toMatchObject({ migrated: 1, conflicts: 1 });
      expect(afterFirst).toBe('new a');
      expect(second).toMatchObject({ migrated: 1 });
      expect(await readAll(stack, ['a', 'b'])).toEqual(new Map([['a', 'new a'], ['b', 'old b']]));
    });

    it('leaves a record an application sealed meanwhile as the application wrote it', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from('old a') });
      const faulty = new FaultyStore(store, {
        afterRead: async (r) => {
          await stack.recordService().put('a', 'pii', Buffer.from('app wrote this'), { expectedRevision: r.revision });
        },
      });
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'plaintext', store: faulty, envelopes: stack.envelopes });
      // Assess
      expect(report).toMatchObject({ migrated: 0, conflicts: 1 });
      expect((await readAll(stack, ['a'])).get('a')).toBe('app wrote this');
    });

    it('counts a conditional write the store refuses as a conflict', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from('x') });
      const refusing = new FaultyStore(store);
      refusing.replace = () => Promise.reject(new ConflictError('changed'));
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'plaintext', store: refusing, envelopes: stack.envelopes });
      // Assess
      expect(report).toMatchObject({ migrated: 0, conflicts: 1, failedCount: 0 });
    });
  });

  describe('rate limit', () => {
    it('takes one token per record from the sweep limiter', async () => {
      // Prepare
      await seedRaw(stack, { a: Buffer.from('1'), b: Buffer.from('2'), c: Buffer.from('3') });
      let now = 0;
      const sleeps: number[] = [];
      // Act
      const report = await migrateRecords({
        keyring: 'pii', from: 'plaintext', store, envelopes: stack.envelopes, ratePerSecond: 1, concurrency: 1,
        clock: { now: () => now },
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
      });
      // Assess
      expect(report.rateLimiter.taken).toBe(3);
      expect(sleeps).toEqual([1000, 1000]);
    });
  });

  describe('from esdk', () => {
    it('decrypts ESDK messages of every format with the raw AES keyring and seals them; plaintext is left', async () => {
      // Prepare
      const key = esdkKey();
      await seedRaw(stack, {
        s: await esdkMessage(key, Buffer.from(`${SECRET}-s`), { flavour: 'v2-signed', context: { app: 'orders' } }),
        u: await esdkMessage(key, Buffer.from(`${SECRET}-u`), { flavour: 'v2-unsigned', context: { app: 'orders' } }),
        l: await esdkMessage(key, Buffer.from(`${SECRET}-l`), { flavour: 'v1-legacy', context: { app: 'orders' } }),
        p: Buffer.from('plain'),
      });
      const decryptor = await createEsdkDecryptor({ keyring: { kind: 'raw-aes', ...key }, requiredContext: { app: 'orders' } });
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'esdk', decryptor, store, envelopes: stack.envelopes });
      // Assess
      expect(report).toMatchObject({ migrated: 3, seen: { esdk: 3, plaintext: 1 }, failedCount: 0 });
      expect(await readAll(stack, ['s', 'u', 'l'])).toEqual(new Map([['s', `${SECRET}-s`], ['u', `${SECRET}-u`], ['l', `${SECRET}-l`]]));
      expect((await stack.records.get('p'))?.envelope.toString()).toBe('plain');
    });

    it('leaves messages with another encryption context or another key, with reason codes only', async () => {
      // Prepare
      const key = esdkKey();
      await seedRaw(stack, {
        ctx: await esdkMessage(key, Buffer.from(SECRET), { context: { app: 'billing' } }),
        other: await esdkMessage(esdkKey(), Buffer.from(SECRET), { context: { app: 'orders' } }),
      });
      const before = await Promise.all(['ctx', 'other'].map(async (id) => (await stack.records.get(id))?.envelope));
      const decryptor = await createEsdkDecryptor({ keyring: { kind: 'raw-aes', ...key }, requiredContext: { app: 'orders' } });
      // Act
      const report = await migrateRecords({ keyring: 'pii', from: 'esdk', decryptor, store, envelopes: stack.envelopes });
      // Assess
      expect(report.failed).toEqual([{ id: 'ctx', reason: 'source-context-mismatch' }, { id: 'other', reason: 'source-decrypt-failed' }]);
      const after = await Promise.all(['ctx', 'other'].map(async (id) => (await stack.records.get(id))?.envelope));
      expect(after).toEqual(before);
      expect(JSON.stringify(report)).not.toContain('4111');
    });

    it('refuses an esdk run without a decryptor, but dry-runs one', async () => {
      // Prepare
      await seedRaw(stack, { e: await esdkMessage(esdkKey(), Buffer.from('x')) });
      // Act
      const run = migrateRecords({ keyring: 'pii', from: 'esdk', store, envelopes: stack.envelopes });
      const dry = await migrateRecords({ keyring: 'pii', from: 'esdk', store, envelopes: stack.envelopes, dryRun: true });
      // Assess
      await expect(run).rejects.toThrow('needs a decryptor');
      expect(dry.seen.esdk).toBe(1);
    });
  });

  describe('property', () => {
    it('after a migration with random crashes and reruns, every plaintext record reads back and nothing else changed', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 12 }),
          fc.integer({ min: 0, max: 12 }),
          fc.integer({ min: 1, max: 5 }),
          async (payloads, crashAfter, batchSize) => {
            // Prepare
            const local = await stackWith('pii');
            try {
              const s = new RecordStoreMigrationStore({ records: local.records, keyring: 'pii' });
              const rows = new Map(payloads.map((p, i) => [`r${i}`, Buffer.from(p)]));
              for (const [id, bytes] of rows) await local.records.put({ id, keyring: 'pii', version: 1, envelope: bytes }, null);
              const checkpoint = new MemoryCheckpointStore();
              const faulty = new FaultyStore(s, { crashAfterWrites: crashAfter });
              // Act
              await migrateRecords({ keyring: 'pii', from: 'plaintext', store: faulty, envelopes: local.envelopes, checkpoint, batchSize }).catch(() => undefined);
              faulty.faults = {};
              await migrateRecords({ keyring: 'pii', from: 'plaintext', store: faulty, envelopes: local.envelopes, checkpoint, batchSize });
              // Assess
              for (const [id, bytes] of rows) {
                const stored = (await local.records.get(id))?.envelope ?? Buffer.alloc(0);
                if (classifyRecord(bytes) === 'plaintext') {
                  expect((await local.recordService().get(id)).plaintext.equals(bytes)).toBe(true);
                } else {
                  expect(stored.equals(bytes)).toBe(true);
                }
              }
            } finally {
              local.close();
            }
          },
        ),
        { numRuns: 25 },
      );
    });
  });
});
