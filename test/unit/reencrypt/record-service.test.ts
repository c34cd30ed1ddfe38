import { ConflictError, DecryptError, NotFoundError, RevokedVersionError, ValidationError } from '../../../shared/errors';
import type { RecordStore } from '../../../shared/ports/record-store';
import type { AuditEvent } from '../../../shared/ports/audit-sink';
import { RECORD_ID_CONTEXT_KEY, RecordService } from '../../../shared/reencrypt';
import { LocalStack } from './support/local-stack';
import { delegate } from './support/store-wrappers';

describe('RecordService', () => {
  let stack: LocalStack;

  beforeEach(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
  });

  afterEach(() => stack.close());

  describe('put', () => {
    it('stores an envelope under the active version that get decrypts', async () => {
      // Prepare
      const service = stack.recordService();
      // Act
      const revision = await service.put('user-1', 'pii', Buffer.from('alice'), { context: { tenant: 't1' } });
      // Assess
      const read = await service.get('user-1', { context: { tenant: 't1' } });
      expect(read).toMatchObject({ keyring: 'pii', version: 1, revision, rewrap: 'none' });
      expect(read.plaintext.toString()).toBe('alice');
      expect((await stack.records.get('user-1'))?.envelope.includes(Buffer.from('alice'))).toBe(false);
    });

    it('throws ValidationError and stores nothing when the caller context uses the reserved key', async () => {
      // Prepare
      const service = stack.recordService();
      // Act
      const attempt = service.put('user-1', 'pii', Buffer.from('x'), { context: { [RECORD_ID_CONTEXT_KEY]: 'other' } });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(await stack.records.get('user-1')).toBeUndefined();
    });

    it('throws ConflictError when an if-absent write meets an existing record', async () => {
      // Prepare
      const service = stack.recordService();
      await service.put('user-1', 'pii', Buffer.from('first'));
      // Act
      const attempt = service.put('user-1', 'pii', Buffer.from('second'), { expectedRevision: null });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect((await service.get('user-1')).plaintext.toString()).toBe('first');
    });
  });

  describe('get', () => {
    it('throws DecryptError when a ciphertext is moved to another record id', async () => {
      // Prepare
      const service = stack.recordService();
      await service.put('user-1', 'pii', Buffer.from('alice'));
      const stolen = (await stack.records.get('user-1'))!;
      await stack.records.put({ id: 'user-2', keyring: 'pii', version: stolen.version, envelope: stolen.envelope });
      // Act
      const attempt = service.get('user-2');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(DecryptError);
    });

    it('throws DecryptError when the caller context differs', async () => {
      // Prepare
      const service = stack.recordService();
      await service.put('user-1', 'pii', Buffer.from('alice'), { context: { tenant: 't1' } });
      // Act
      const attempt = service.get('user-1', { context: { tenant: 't2' } });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(DecryptError);
    });

    it('throws NotFoundError for a missing record', async () => {
      // Act / Assess
      await expect(stack.recordService().get('nope')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('returns the plaintext of an old-version record and moves the stored record to the active version', async () => {
      // Prepare
      const service = stack.recordService();
      await service.put('user-1', 'pii', Buffer.from('alice'), { context: { tenant: 't1' } });
      const before = (await stack.records.get('user-1'))!;
      const active = await stack.rotateAndPromote('pii');
      // Act
      const read = await service.get('user-1', { context: { tenant: 't1' } });
      // Assess
      expect(read.plaintext.toString()).toBe('alice');
      expect(read).toMatchObject({ version: 1, rewrap: 'rewrapped' });
      const after = (await stack.records.get('user-1'))!;
      expect(after.version).toBe(active);
      expect(stack.envelopes.inspect(after.envelope).version).toBe(active);
      // Header only: the payload bytes are the same ones.
      const bodyOf = (e: Buffer): Buffer => e.subarray(stack.envelopes.inspect(e).headerLength);
      expect(bodyOf(after.envelope).equals(bodyOf(before.envelope))).toBe(true);
      expect((await service.get('user-1', { context: { tenant: 't1' } })).rewrap).toBe('none');
    });

    it('lets an application write made between the read and the write-back win', async () => {
      // Prepare
      const service = stack.recordService();
      await service.put('user-1', 'pii', Buffer.from('old value'));
      await stack.rotateAndPromote('pii');
      let raced = false;
      const racing: RecordStore = {
        ...delegate(stack.records),
        get: async (id) => {
          const read = await stack.records.get(id);
          if (!raced) {
            raced = true;
            await stack.recordService().put(id, 'pii', Buffer.from('new value'));
          }
          return read;
        },
      };
      // Act
      const read = await stack.recordService(racing).get('user-1');
      // Assess
      expect(read.plaintext.toString()).toBe('old value');
      expect(read.rewrap).toBe('conflict');
      expect((await service.get('user-1')).plaintext.toString()).toBe('new value');
    });

    it('throws RevokedVersionError to ordinary callers once the version is revoked', async () => {
      // Prepare
      const service = stack.recordService();
      await service.put('user-1', 'pii', Buffer.from('alice'));
      await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
      stack.provider.invalidate('pii');
      // Act
      const attempt = service.get('user-1');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(RevokedVersionError);
      expect((await stack.records.get('user-1'))?.version).toBe(1);
    });
  });

  describe('flushAudit', () => {
    it('audits lazy re-wraps as one records.rewrapped event per keyring and version with a count, never per record', async () => {
      // Prepare
      const events: AuditEvent[] = [];
      const audit = { record: async (e: AuditEvent) => { events.push(e); } };
      const service = new RecordService({ records: stack.records, envelopes: stack.envelopes, versions: stack.provider, audit, clock: () => stack.now });
      for (let i = 0; i < 5; i += 1) await service.put(`r${i}`, 'pii', Buffer.from(`v${i}`));
      const active = await stack.rotateAndPromote('pii');
      // Act: five reads re-wrap five records; nothing is written until the flush.
      for (let i = 0; i < 5; i += 1) expect((await service.get(`r${i}`)).rewrap).toBe('rewrapped');
      const beforeFlush = events.length;
      await service.flushAudit();
      await service.flushAudit();
      // Assess
      expect(beforeFlush).toBe(0);
      expect(events).toEqual([expect.objectContaining({ action: 'records.rewrapped', keyring: 'pii', version: 1, details: { toVersion: active, count: 5 } })]);
    });

    it('flushes on its own once the oldest counted re-wrap is auditFlushMs old', async () => {
      // Prepare
      const events: AuditEvent[] = [];
      const audit = { record: async (e: AuditEvent) => { events.push(e); } };
      const service = new RecordService({ records: stack.records, envelopes: stack.envelopes, versions: stack.provider, audit, clock: () => stack.now, auditFlushMs: 1000 });
      await service.put('a', 'pii', Buffer.from('a'));
      await service.put('b', 'pii', Buffer.from('b'));
      await stack.rotateAndPromote('pii');
      // Act
      await service.get('a');
      stack.now = new Date(stack.now.getTime() + 1000);
      await service.get('b');
      // Assess
      expect(events.map((e) => e.details?.count)).toEqual([2]);
    });
  });
});
