import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendError, ConflictError } from '../../../../shared/errors';
import { describeStorageFailure, openLocalDatabase, retryBusy } from '../../../../shared/adapters/local/open-database';
import { scratchDir } from '../../../support/scratch';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS t (x INTEGER)';

function sqliteError(code: string): Error {
  return Object.assign(new Error('database is locked'), { code });
}

describe('openLocalDatabase', () => {
  describe('readOnly', () => {
    it('reads a database without creating or writing anything, and refuses writes naming the path', () => {
      // Prepare
      const dir = scratchDir('open-db-');
      const path = join(dir, 'x.db');
      const rw = openLocalDatabase(path, { label: 'test database', schema: SCHEMA });
      rw.db.prepare('INSERT INTO t VALUES (1)').run();
      rw.db.close();
      // Act
      const ro = openLocalDatabase(path, { label: 'test database', schema: SCHEMA, readOnly: true });
      // Assess
      expect({ readOnly: ro.readOnly, rows: ro.db.prepare('SELECT x FROM t').all() }).toEqual({ readOnly: true, rows: [{ x: 1 }] });
      let failure: unknown;
      try {
        ro.db.prepare('INSERT INTO t VALUES (2)').run();
      } catch (err) {
        failure = describeStorageFailure('test database', path, err, 'write');
      }
      expect(failure).toBeInstanceOf(BackendError);
      expect((failure as Error).message).toBe(`test database ${path} (write) cannot be written (SQLITE_READONLY): the home is read-only or not writable by this user; run commands that change it where it is writable (status, decrypt, inspect, audit, keyring list, records get and plan only read)`);
      ro.db.close();
    });

    it('reads a missing database as empty and creates no file', () => {
      // Prepare
      const path = join(scratchDir('open-db-missing-'), 'none.db');
      // Act
      const ro = openLocalDatabase(path, { label: 'test database', schema: SCHEMA, readOnly: true });
      // Assess
      expect({ rows: ro.db.prepare('SELECT x FROM t').all(), created: existsSync(path) }).toEqual({ rows: [], created: false });
      ro.db.close();
    });
  });

  it('names the path of a file that is not a database', () => {
    // Prepare
    const path = join(scratchDir('open-db-bad-'), 'bad.db');
    writeFileSync(path, Buffer.alloc(4096, 7), { mode: 0o600 });
    // Act / Assess
    expect(() => openLocalDatabase(path, { label: 'test database', schema: SCHEMA })).toThrow(`test database ${path} (open) is damaged or not a rekey database (SQLITE_NOTADB); restore it from a backup`);
  });
});

describe('describeStorageFailure', () => {
  it('names the path and the remedy of a full disk, and passes a RekeyError through', () => {
    // Act
    const full = describeStorageFailure('audit log', '/h/audit.jsonl', Object.assign(new Error('x'), { code: 'ENOSPC' }), 'append');
    const conflict = new ConflictError('lost');
    // Assess
    expect(full.message).toBe('audit log /h/audit.jsonl (append): the disk is full (ENOSPC); free space on that file system and retry');
    expect(describeStorageFailure('audit log', '/h/audit.jsonl', conflict)).toBe(conflict);
  });
});

describe('retryBusy', () => {
  it('retries a busy failure a bounded number of times, then throws it', async () => {
    // Prepare
    let calls = 0;
    // Act
    const outcome = retryBusy(() => {
      calls++;
      throw sqliteError('SQLITE_BUSY');
    }, { attempts: 3, baseDelayMs: 1 });
    // Assess
    await expect(outcome).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(calls).toBe(3);
  });

  it('returns once the lock is free and never retries another failure', async () => {
    // Prepare
    let calls = 0;
    let other = 0;
    // Act
    const value = await retryBusy(() => (++calls < 2 ? (() => { throw sqliteError('SQLITE_BUSY_SNAPSHOT'); })() : 'ok'), { baseDelayMs: 1 });
    const failed = retryBusy(() => {
      other++;
      throw new ConflictError('lost');
    });
    // Assess
    expect({ value, calls }).toEqual({ value: 'ok', calls: 2 });
    await expect(failed).rejects.toBeInstanceOf(ConflictError);
    expect(other).toBe(1);
  });
});
