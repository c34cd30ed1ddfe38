import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { JsonlAuditSink } from '../../../../shared/adapters/local/jsonl-audit-sink';
import { ValidationError } from '../../../../shared/errors';
import type { AuditEvent } from '../../../../shared/ports/audit-sink';

function event(n: number): AuditEvent {
  return { at: new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString(), actor: 'cli:test', action: 'version.created', keyring: 'pii', version: n + 1 };
}

/** Half of a JSON line, as a crash mid-append leaves it. */
const TORN = '{"at":"2030-01-01T00:00:09.000Z","actor":"cli:te';

describe('JsonlAuditSink after a crash', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = scratchDir('rekey-audit-torn-');
    path = join(dir, 'home', 'audit.jsonl');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('record', () => {
    it('starts a new line when the log ends with a torn line, so the next event stays readable', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      await sink.record(event(0));
      appendFileSync(path, TORN);
      // Act
      await sink.record(event(1));
      // Assess
      expect(readFileSync(path, 'utf8').split('\n')).toEqual([JSON.stringify(event(0)), TORN, JSON.stringify(event(1)), '']);
      await expect(sink.scan()).resolves.toEqual({ events: [event(0), event(1)], skipped: [{ line: 2, kind: 'malformed' }] });
    });

    it('adds nothing between events when the log ends with a newline', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      // Act
      await sink.record(event(0));
      await sink.record(event(1));
      // Assess
      expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(event(0))}\n${JSON.stringify(event(1))}\n`);
    });

    it('tightens an existing log with group or other bits to 0600', async () => {
      // Prepare
      mkdirSync(join(dir, 'home'));
      writeFileSync(path, `${JSON.stringify(event(0))}\n`);
      chmodSync(path, 0o644);
      const sink = new JsonlAuditSink(path);
      // Act
      await sink.record(event(1));
      // Assess
      expect(statSync(path).mode & 0o777).toBe(0o600);
      await expect(sink.read()).resolves.toEqual([event(0), event(1)]);
    });
  });

  describe('scan', () => {
    it('returns every whole event and names a torn last line', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      for (let i = 0; i < 3; i += 1) await sink.record(event(i));
      appendFileSync(path, TORN);
      // Act
      const scan = await sink.scan();
      // Assess
      expect(scan).toEqual({ events: [event(0), event(1), event(2)], skipped: [{ line: 4, kind: 'torn' }] });
    });

    it('skips and names a malformed line in the middle instead of failing', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      await sink.record(event(0));
      appendFileSync(path, 'garbage\n{"at":"not a time"}\n');
      await sink.record(event(1));
      // Act
      const scan = await sink.scan({ limit: 1 });
      // Assess
      expect(scan).toEqual({ events: [event(1)], skipped: [{ line: 2, kind: 'malformed' }, { line: 3, kind: 'malformed' }] });
    });

    it('ignores empty lines and reports nothing for a whole log', async () => {
      // Prepare
      mkdirSync(join(dir, 'home'));
      writeFileSync(path, `${JSON.stringify(event(0))}\n\n${JSON.stringify(event(1))}\n`);
      // Act
      const scan = await new JsonlAuditSink(path).scan();
      // Assess
      expect(scan).toEqual({ events: [event(0), event(1)], skipped: [] });
    });

    it('reads a missing log as empty and refuses a negative limit', async () => {
      // Prepare
      const sink = new JsonlAuditSink(path);
      // Act / Assess
      await expect(sink.scan()).resolves.toEqual({ events: [], skipped: [] });
      await expect(sink.scan({ limit: -1 })).rejects.toThrow(ValidationError);
    });
  });
});
