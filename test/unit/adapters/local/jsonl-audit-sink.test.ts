import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { JsonlAuditSink } from '../../../../shared/adapters/local/jsonl-audit-sink';
import { BackendError, ValidationError } from '../../../../shared/errors';
import type { AuditEvent } from '../../../../shared/ports/audit-sink';

function event(n: number, patch: Partial<AuditEvent> = {}): AuditEvent {
  return { at: new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString(), actor: 'cli:test', action: 'version.created', keyring: n % 2 === 0 ? 'even' : 'odd', version: n + 1, ...patch };
}

describe('JsonlAuditSink', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = scratchDir('rekey-audit-');
    path = join(dir, 'home', 'audit.jsonl');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('record', () => {
    it('appends one JSON line per event, creating the folder and a private file', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      const events = [event(0), event(1, { reason: 'quarterly', details: { demoted: 1, emergency: false, note: 'x' } })];
      // Act
      for (const e of events) await sink.record(e);
      // Assess
      const lines = readFileSync(path, 'utf8').split('\n');
      expect(lines.at(-1)).toBe('');
      expect(lines.slice(0, -1).map((l) => JSON.parse(l))).toEqual(events);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    });

    it.each<[string, unknown]>([
      ['no actor', { ...event(0), actor: '' }],
      ['a bad time', { ...event(0), at: 'now' }],
      ['a fractional version', { ...event(0), version: 1.5 }],
      ['an unknown field', { ...event(0), plaintext: 'secret' }],
      ['a nested detail', { ...event(0), details: { key: { bytes: 'x' } } }],
    ])('throws ValidationError on an event with %s and writes nothing', async (_label, bad) => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      // Act / Assess
      await expect(sink.record(bad as AuditEvent)).rejects.toThrow(ValidationError);
      await expect(sink.read()).resolves.toEqual([]);
    });

    it('keeps every line whole when many events are appended at once', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      const events = Array.from({ length: 60 }, (_, i) => event(i, { reason: 'r'.repeat(i * 10) }));
      // Act
      await Promise.all(events.map((e) => sink.record(e)));
      // Assess
      const read = await sink.read();
      expect(read).toHaveLength(60);
      expect(new Set(read.map((e) => e.version))).toEqual(new Set(events.map((e) => e.version)));
    });

    it('throws BackendError when the log cannot be written', async () => {
      // Prepare
      mkdirSync(path, { recursive: true });
      const sink = new JsonlAuditSink(path);
      // Act / Assess
      await expect(sink.record(event(0))).rejects.toThrow(BackendError);
    });
  });

  describe('read', () => {
    it('returns nothing when the log does not exist yet', async () => {
      // Act / Assess
      await expect(new JsonlAuditSink(path).read()).resolves.toEqual([]);
    });

    it('filters by keyring and time and keeps the most recent `limit` events', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      for (let i = 0; i < 10; i += 1) await sink.record(event(i));
      // Act
      const odd = await sink.read({ keyring: 'odd' });
      const recent = await sink.read({ since: new Date(Date.UTC(2030, 0, 1, 0, 0, 6)) });
      const lastTwoEven = await sink.read({ keyring: 'even', limit: 2 });
      // Assess
      expect(odd.map((e) => e.version)).toEqual([2, 4, 6, 8, 10]);
      expect(recent.map((e) => e.version)).toEqual([7, 8, 9, 10]);
      expect(lastTwoEven.map((e) => e.version)).toEqual([7, 9]);
    });

    it('ignores a last line cut short by a crash', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      await sink.record(event(0));
      appendFileSync(path, '{"at":"2030-01-01T00:00:01.000Z","actor":"cli:te');
      // Act
      const read = await sink.read();
      // Assess
      expect(read).toEqual([event(0)]);
    });

    it('throws BackendError naming the line of a corrupt entry', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      await sink.record(event(0));
      appendFileSync(path, 'garbage\n');
      await sink.record(event(1));
      // Act / Assess
      await expect(sink.read()).rejects.toThrow(/line 2 is malformed/);
    });

    it('throws ValidationError on a negative limit', async () => {
      // Act / Assess
      await expect(new JsonlAuditSink(path).read({ limit: -1 })).rejects.toThrow(ValidationError);
    });
  });
});
