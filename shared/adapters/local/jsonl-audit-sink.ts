import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from '../../vocabulary/zod';
import { BackendError, ValidationError } from '../../errors';
import type { AuditEvent, AuditSink } from '../../ports/audit-sink';

const eventSchema = z.strictObject({
  at: z.iso.datetime({ offset: true }),
  actor: z.string().check(z.minLength(1), z.maxLength(1024)),
  action: z.string().check(z.minLength(1), z.maxLength(128)),
  keyring: z.string().check(z.minLength(1), z.maxLength(64)),
  version: z.optional(z.number().check(z.int(), z.positive())),
  reason: z.optional(z.string().check(z.maxLength(1024))),
  details: z.optional(z.record(z.string(), z.union([z.string().check(z.maxLength(1024)), z.number(), z.boolean()]))),
});

/** Filters of {@link JsonlAuditSink.read}. */
export interface AuditReadOptions {
  /** Only events of this keyring. */
  readonly keyring?: string;
  /** Only events at or after this time. */
  readonly since?: Date;
  /** At most this many events, the most recent ones. */
  readonly limit?: number;
}

/**
 * AuditSink appending one JSON line per event to `<home>/audit.jsonl`, flushed to disk
 * (fsync) before `record` resolves. Each event is one `write` on a file opened for append, so
 * several processes can share the file without interleaving lines.
 *
 * @example
 * const audit = new JsonlAuditSink(join(home, 'audit.jsonl'));
 * await audit.record({ at: new Date().toISOString(), actor: 'cli:alice', action: 'keyring.created', keyring: 'payments' });
 */
export class JsonlAuditSink implements AuditSink {
  public constructor(private readonly path: string) {}

  /**
   * Appends one event durably.
   * @throws ValidationError for a malformed event (nothing written); BackendError on I/O failure.
   */
  public async record(event: AuditEvent): Promise<void> {
    const parsed = eventSchema.safeParse(event);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(`malformed audit event at '${issue?.path.map(String).join('.') ?? ''}': ${issue?.message ?? 'invalid'}`);
    }
    const line = Buffer.from(`${JSON.stringify(parsed.data)}\n`, 'utf8');
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const handle = await open(this.path, 'a', 0o600);
      try {
        await handle.write(line);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw new BackendError(`cannot append to the audit log: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /**
   * Reads the events back, oldest first. A last line cut short by a crash is ignored; any other
   * malformed line is a BackendError naming its line number. A missing file reads as empty.
   */
  public async read(options: AuditReadOptions = {}): Promise<AuditEvent[]> {
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
      throw new ValidationError('limit must be a non-negative integer');
    }
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') {
        return [];
      }
      throw new BackendError(`cannot read the audit log: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const lines = text.split('\n');
    const torn = lines.pop();
    const events: AuditEvent[] = [];
    lines.forEach((line, i) => {
      const event = parseLine(line);
      if (event === undefined) {
        throw new BackendError(`audit log line ${i + 1} is malformed`, { retryable: false });
      }
      events.push(event);
    });
    if (torn !== undefined && torn.length > 0) {
      // Unterminated: a crash mid-append leaves a partial line; a complete one is still an event.
      const event = parseLine(torn);
      if (event !== undefined) {
        events.push(event);
      }
    }
    const since = options.since?.getTime();
    const selected = events.filter((e) => (options.keyring === undefined || e.keyring === options.keyring) && (since === undefined || Date.parse(e.at) >= since));
    return options.limit === undefined ? selected : selected.slice(Math.max(0, selected.length - options.limit));
  }
}

function parseLine(line: string): AuditEvent | undefined {
  try {
    const parsed = eventSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
