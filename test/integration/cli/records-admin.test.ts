import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestHome, T0, expectFailure } from './support/test-home';

interface ListJson { records: Array<{ id: string; keyring: string; version: number; size: number; updatedAt: string | null }>; nextCursor: string | null }
interface ImportJson {
  keyring: string;
  imported: number;
  existing: number;
  existingIds: string[];
  failed: number;
  failures: Array<{ item: string; reason: string }>;
  bytes: number;
  stopped: boolean;
  skipped: { dotfiles: number; notFiles: number };
}

const NOW = new Date(T0).toISOString();

describe('rekey records list / delete / import (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
    await home.ok(['keyring', 'create', 'logs', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('records list', () => {
    it('lists id, keyring, version, size and last write, filtered by keyring and paged with --after', async () => {
      // Arrange
      for (const id of ['a-1', 'a-2', 'a-3']) await home.ok(['records', 'put', id, '--keyring', 'pii'], { stdin: randomBytes(100), now: NOW });
      await home.ok(['records', 'put', 'b-1', '--keyring', 'logs'], { stdin: randomBytes(10), now: NOW });

      // Act
      const all = await home.json<ListJson>(['records', 'list', '--json']);
      const pii = await home.json<ListJson>(['records', 'list', 'pii', '--limit', '2', '--json']);
      const rest = await home.json<ListJson>(['records', 'list', 'pii', '--limit', '2', '--after', pii.nextCursor ?? '', '--json']);
      const v2 = await home.json<ListJson>(['records', 'list', '--keyring', 'pii', '--version', '2', '--json']);
      const text = await home.ok(['records', 'list', 'logs']);

      // Assess
      expect(all.records.map((r) => [r.id, r.keyring, r.version])).toEqual([['a-1', 'pii', 1], ['a-2', 'pii', 1], ['a-3', 'pii', 1], ['b-1', 'logs', 1]]);
      expect(all.records.every((r) => r.size > 100 || r.keyring === 'logs')).toBe(true);
      expect(all.records.every((r) => r.updatedAt !== null && !Number.isNaN(Date.parse(r.updatedAt)))).toBe(true);
      expect(Object.keys(all.records[0] ?? {}).sort()).toEqual(['id', 'keyring', 'size', 'updatedAt', 'version']);
      expect(pii.records.map((r) => r.id)).toEqual(['a-1', 'a-2']);
      expect(rest.records.map((r) => r.id)).toEqual(['a-3']);
      expect(rest.nextCursor).toBeNull();
      expect(v2.records).toEqual([]);
      expect(text.stdout.toString('utf8')).toMatch(/^ID\s+KEYRING\s+VERSION\s+SIZE\s+UPDATED\nb-1\s+logs\s+v1\s+\d+\s+\d{4}-\d\d-\d\dT/);
    });

    it('refuses a --limit over 100000 with exit 2', async () => {
      // Act
      const r = await home.run(['records', 'list', '--limit', '100001']);

      // Assess
      expectFailure(r, 2, /--limit must be at most 100000/);
    });
  });

  describe('records delete', () => {
    it('deletes a record, and a second delete exits 4 saying there is no such record', async () => {
      // Arrange
      await home.ok(['records', 'put', 'user-1', '--keyring', 'pii'], { stdin: Buffer.from('x'), now: NOW });

      // Act
      const first = await home.json<{ deleted: string }>(['records', 'delete', 'user-1', '--json', '--yes']);
      const get = await home.run(['records', 'get', 'user-1']);
      const again = await home.run(['records', 'delete', 'user-1']);

      // Assess
      expect(first).toEqual({ deleted: 'user-1' });
      expectFailure(get, 4);
      expectFailure(again, 4, /no record 'user-1': nothing was deleted/);
    });
  });

  describe('records import DIR', () => {
    it('imports every regular file as a record named after it, skipping dotfiles and sub-folders', async () => {
      // Arrange
      const dir = home.path('export');
      mkdirSync(join(dir, 'nested'), { recursive: true });
      const files = new Map<string, Buffer>([['u-1.json', randomBytes(300)], ['u-2.json', Buffer.alloc(0)], ['u 3.txt', Buffer.from('héllo')]]);
      for (const [name, data] of files) writeFileSync(join(dir, name), data);
      writeFileSync(join(dir, '.DS_Store'), 'x');
      writeFileSync(join(dir, 'nested', 'deep'), 'not imported');
      symlinkSync(join(dir, 'u-1.json'), join(dir, 'link'));

      // Act
      const report = await home.json<ImportJson>(['records', 'import', dir, '--keyring', 'pii', '--json'], { now: NOW });
      const list = await home.json<ListJson>(['records', 'list', '--json']);
      const back: Buffer[] = [];
      for (const id of files.keys()) back.push((await home.ok(['records', 'get', id])).stdout);

      // Assess
      expect(report).toMatchObject({ keyring: 'pii', imported: 3, existing: 0, failed: 0, stopped: false, skipped: { dotfiles: 1, notFiles: 2 } });
      expect(list.records.map((r) => r.id)).toEqual(['u 3.txt', 'u-1.json', 'u-2.json']);
      expect(back.map((b) => b.toString('hex'))).toEqual([...files.values()].map((b) => b.toString('hex')));
    });

    it('never overwrites an existing id: reports it and leaves it unchanged, so a rerun imports only what is missing', async () => {
      // Arrange
      const dir = home.path('export');
      mkdirSync(dir);
      writeFileSync(join(dir, 'keep'), 'new content');
      writeFileSync(join(dir, 'fresh'), 'fresh');
      await home.ok(['records', 'put', 'keep', '--keyring', 'pii'], { stdin: Buffer.from('original'), now: NOW });

      // Act
      const first = await home.json<ImportJson>(['records', 'import', dir, '--keyring', 'pii', '--json'], { now: NOW });
      const second = await home.run(['records', 'import', dir, '--keyring', 'pii'], { now: NOW });

      // Assess
      expect(first).toMatchObject({ imported: 1, existing: 1, existingIds: ['keep'], failed: 0 });
      expect(second.code).toBe(0);
      expect(second.stderr).toMatch(/imported 0 record\(s\) into pii .* 2 already existed, 0 failed/);
      expect((await home.ok(['records', 'get', 'keep'])).stdout.toString()).toBe('original');
    });

    it('binds --context like records put: the record reads back only with it', async () => {
      // Arrange
      const dir = home.path('export');
      mkdirSync(dir);
      writeFileSync(join(dir, 'r1'), 'bound');

      // Act
      await home.ok(['records', 'import', dir, '--keyring', 'pii', '--context', 'tenant=acme'], { now: NOW });
      const withCtx = await home.ok(['records', 'get', 'r1', '--context', 'tenant=acme']);
      const without = await home.run(['records', 'get', 'r1']);

      // Assess
      expect(withCtx.stdout.toString()).toBe('bound');
      expectFailure(without, 3, /unable to decrypt/);
    });

    it('exits 7 after a summary when some files cannot be read, having imported the others', async () => {
      // Arrange
      const dir = home.path('export');
      mkdirSync(dir);
      writeFileSync(join(dir, 'good'), 'ok');
      writeFileSync(join(dir, 'empty'), Buffer.alloc(0));
      // A (sparse) file over the record limit fails alone, before it is read; chmod would not
      // do, the tests may run as root.
      writeFileSync(join(dir, 'huge'), Buffer.alloc(0));
      truncateSync(join(dir, 'huge'), 64 * 1024 * 1024 + 1);

      // Act
      const r = await home.run(['records', 'import', dir, '--keyring', 'pii', '--json'], { now: NOW });
      const report = JSON.parse(r.stdout.toString('utf8')) as ImportJson;

      // Assess
      expect(r.code).toBe(7);
      expect(r.stderr).toMatch(/^rekey: 1 item\(s\) failed and 2 were imported: fix them and rerun the same command \(ids already imported are skipped\)$/m);
      expect(report).toMatchObject({ imported: 2, failed: 1 });
      expect(report.failures).toEqual([{ item: 'huge', reason: expect.stringMatching(/larger than a record .* --framed/) as unknown as string }]);
      expect((await home.json<ListJson>(['records', 'list', '--json'])).records.map((x) => x.id)).toEqual(['empty', 'good']);
    });

    it('refuses a missing folder with exit 4 and an unknown keyring before writing anything', async () => {
      // Arrange
      const dir = home.path('export');
      mkdirSync(dir);
      writeFileSync(join(dir, 'a'), 'a');

      // Act
      const missing = await home.run(['records', 'import', home.path('nope'), '--keyring', 'pii']);
      const unknown = await home.run(['records', 'import', dir, '--keyring', 'nosuch']);
      const noKeyring = await home.run(['records', 'import', dir]);

      // Assess
      expectFailure(missing, 4, /no folder .* to import/);
      expect(unknown.code).toBe(4);
      expectFailure(noKeyring, 2, /name the keyring/);
      expect((await home.json<ListJson>(['records', 'list', '--json'])).records).toEqual([]);
    });
  });

  describe('records import - (JSON Lines on stdin)', () => {
    it('imports data and base64 lines; a bad line fails alone, named by its number, nothing of it written', async () => {
      // Arrange
      const bin = randomBytes(64);
      const lines = [
        JSON.stringify({ id: 'j-1', data: 'text ✓' }),
        '',
        JSON.stringify({ id: 'j-2', base64: bin.toString('base64') }),
        '{"id": "j-3", "data": ',
        JSON.stringify({ id: 'j-4', data: 'a', base64: 'YQ==' }),
        JSON.stringify({ id: 'j-5', data: 'last' }),
      ].join('\n');

      // Act
      const r = await home.run(['records', 'import', '-', '--keyring', 'pii', '--json'], { stdin: Buffer.from(lines), now: NOW });
      const report = JSON.parse(r.stdout.toString('utf8')) as ImportJson;
      const ids = (await home.json<ListJson>(['records', 'list', '--json'])).records.map((x) => x.id);

      // Assess
      expect(r.code).toBe(7);
      expect(r.stderr).toMatch(/^rekey: 2 item\(s\) failed and 3 were imported/m);
      expect(report.failures.map((f) => f.reason)).toEqual([
        'line 4 is not JSON; nothing of it was written',
        'line 5 needs exactly one of "data" (UTF-8 text) or "base64"; nothing of it was written',
      ]);
      expect(ids).toEqual(['j-1', 'j-2', 'j-5']);
      expect((await home.ok(['records', 'get', 'j-1'])).stdout.toString('utf8')).toBe('text ✓');
      expect((await home.ok(['records', 'get', 'j-2'])).stdout.equals(bin)).toBe(true);
      expect(r.stderr).not.toMatch(/text ✓|last/);
    });
  });
});
