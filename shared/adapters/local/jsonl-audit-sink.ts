import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './file-modes';
import { describeStorageFailure } from './open-database';
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
  simulated: z.optional(z.literal(true)),
  recordedAt: z.optional(z.iso.datetime({ offset: true })),
});

/** Options of {@link JsonlAuditSink}. */
export interface JsonlAuditSinkOptions {
  /**
   * The run acts at a simulated time (--now, tick --at): every event is written with
   * `simulated: true` and `recordedAt` (the real time), its `at` left as the simulated time.
   * @default false
   */
  readonly simulated?: boolean;
  /** The real time source for `recordedAt`. @default () => new Date() */
  readonly wallClock?: () => Date;
  /**
   * Called after each event is durably appended (fsynced). Every local change writes an audit
   * event, so the CLI uses it to learn that a run changed something even when it fails later.
   */
  readonly onRecord?: () => void;
}

/** Filters of {@link JsonlAuditSink.read}. */
export interface AuditReadOptions {
  /** Only events of this keyring. */
  readonly keyring?: string;
  /** Only events at or after this time. */
  readonly since?: Date;
  /** At most this many events, the most recent ones. */
  readonly limit?: number;
}

/** A line of the log that {@link JsonlAuditSink.scan} skipped. */
export interface SkippedAuditLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** `torn`: the last line, unterminated (a crash mid-append); `malformed`: any other line that is not an event. */
  readonly kind: 'torn' | 'malformed';
}

/** What {@link JsonlAuditSink.scan} found: the events that were read, and the lines that were not. */
export interface AuditScan {
  /** The selected events, oldest first. */
  readonly events: AuditEvent[];
  /** Every line that is not an event (empty lines excepted), in file order, whatever the filters. */
  readonly skipped: readonly SkippedAuditLine[];
}

/**
 * AuditSink appending one JSON line per event to `<home>/audit.jsonl`, flushed to disk
 * (fsync) before `record` resolves. Each event is one `write` on a file opened for append, so
 * several processes can share the file without interleaving lines. When the file does not end
 * with a newline (a crash cut the last append short), the event starts on a new line, so a torn
 * line never swallows the next event; two appenders racing on that repair leave at most an
 * empty line, which readers ignore. The file is created 0600 (a missing folder 0700), and
 * tightened to owner-only when found with group or other bits.
 *
 * @example
 * const audit = new JsonlAuditSink(join(home, 'audit.jsonl'));
 * await audit.record({ at: new Date().toISOString(), actor: 'cli:alice', action: 'keyring.created', keyring: 'payments' });
 */
export class JsonlAuditSink implements AuditSink {
  public constructor(
    private readonly path: string,
    private readonly options: JsonlAuditSinkOptions = {},
  ) {}

  /**
   * Appends one event durably.
   * @throws ValidationError for a malformed event (nothing written); BackendError on I/O failure.
   */
  public async record(event: AuditEvent): Promise<void> {
    const stamped = this.options.simulated === true ? { ...event, simulated: true as const, recordedAt: (this.options.wallClock ?? (() => new Date()))().toISOString() } : event;
    const parsed = eventSchema.safeParse(stamped);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(`malformed audit event at '${issue?.path.map(String).join('.') ?? ''}': ${issue?.message ?? 'invalid'}`);
    }
    const line = Buffer.from(`${JSON.stringify(parsed.data)}\n`, 'utf8');
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: PRIVATE_DIR_MODE });
      // a+: appends stay atomic (O_APPEND) and the last byte can be read for the repair.
      const handle = await open(this.path, 'a+', PRIVATE_FILE_MODE);
      try {
        const stat = await handle.stat();
        if ((stat.mode & 0o077) !== 0) await handle.chmod(stat.mode & 0o700);
        const repair = (await endsWithNewline(handle, stat.size)) ? Buffer.alloc(0) : Buffer.from('\n', 'utf8');
        // One write for the repair and the event, so no other appender lands between them.
        await handle.write(Buffer.concat([repair, line]));
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      // Names the path and what to do (disk full, read-only home); nothing of the event is quoted.
      throw describeStorageFailure('audit log', this.path, err, 'append');
    }
    this.options.onRecord?.();
  }

  /**
   * Reads the events back, oldest first. A last line cut short by a crash is ignored; any other
   * malformed line is a BackendError naming its line number (use {@link JsonlAuditSink.scan} to
   * read past it). A missing file reads as empty.
   * @throws ValidationError for a bad limit; BackendError on I/O failure or a malformed line.
   */
  public async read(options: AuditReadOptions = {}): Promise<AuditEvent[]> {
    const { events, skipped } = await this.scan(options);
    const bad = skipped.find((s) => s.kind === 'malformed');
    if (bad !== undefined) {
      throw new BackendError(`audit log line ${bad.line} is malformed`, { retryable: false });
    }
    return events;
  }

  /**
   * Reads every event that can be read, oldest first, and names the lines that cannot: a torn
   * last line and any other line that is not a valid event are skipped and listed in `skipped`,
   * so one damaged line never hides the rest of the trail. A missing file reads as empty.
   *
   * @example
   * const { events, skipped } = await audit.scan({ keyring: 'pii' });
   * for (const s of skipped) console.error(`audit log line ${s.line} skipped (${s.kind})`);
   * @throws ValidationError for a bad limit; BackendError on I/O failure.
   */
  public async scan(options: AuditReadOptions = {}): Promise<AuditScan> {
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
      throw new ValidationError('limit must be a non-negative integer');
    }
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') {
        return { events: [], skipped: [] };
      }
      throw describeStorageFailure('audit log', this.path, err, 'read');
    }
    const lines = text.split('\n');
    // After the last newline: empty for a whole file, else an unterminated last line.
    const last = lines.length - 1;
    const events: AuditEvent[] = [];
    const skipped: SkippedAuditLine[] = [];
    lines.forEach((line, i) => {
      // Empty lines carry no event; the append repair race can leave one.
      if (line.length === 0) return;
      const event = parseLine(line);
      if (event !== undefined) {
        // A complete but unterminated last line is still an event.
        events.push(event);
      } else {
        skipped.push({ line: i + 1, kind: i === last ? 'torn' : 'malformed' });
      }
    });
    const since = options.since?.getTime();
    const selected = events.filter((e) => (options.keyring === undefined || e.keyring === options.keyring) && (since === undefined || Date.parse(e.at) >= since));
    return { events: options.limit === undefined ? selected : selected.slice(Math.max(0, selected.length - options.limit)), skipped };
  }
}

/** Whether the file's last byte is a newline (an empty file counts as ending with one). */
async function endsWithNewline(handle: FileHandle, size: number): Promise<boolean> {
  if (size === 0) return true;
  const byte = Buffer.alloc(1);
  const { bytesRead } = await handle.read(byte, 0, 1, size - 1);
  return bytesRead === 1 && byte[0] === 0x0a;
}

function parseLine(line: string): AuditEvent | undefined {
  try {
    const parsed = eventSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
