/**
 * Byte counters for the store benchmark: how many bytes pass between rekey and a record store,
 * measured where each backend's bytes really go, so that "a header-only re-wrap moves no
 * payload" is a measured figure rather than a claim.
 *
 * - AWS SDK clients (S3, DynamoDB): a middleware at the end of the finalizeRequest step (inside
 *   the retry loop, so every attempt counts) adds the HTTP request body bytes sent and the
 *   response body bytes received (its Content-Length; the stream as read when there is none). Headers are not counted (S3 keeps its index in object
 *   metadata headers: a few hundred bytes per request, the same for every payload size).
 * - PostgreSQL (`pg.Pool`): the socket `bytesWritten` / `bytesRead` of every pool client, wire
 *   protocol included: what really crossed the connection.
 * - SQLite (better-sqlite3, in process): the bytes of Buffer values bound to, and read back from,
 *   the statements of one database file (an envelope's header and body are Buffers; ids and
 *   numbers are left out).
 */
import type { Socket } from 'node:net';
import { Readable, Transform } from 'node:stream';
import Database from 'better-sqlite3';
import type { Pool } from 'pg';

/** Bytes sent to and received from a store. */
export interface ByteCount {
  readonly sent: number;
  readonly received: number;
}

/**
 * Running totals of bytes sent to and received from one store; read it before and after a
 * phase and subtract ({@link ByteCounter.since}).
 *
 * @example
 * const counter = new ByteCounter();
 * countSdkBodyBytes(s3, counter);
 * const before = counter.read();
 * await store.get('r1');
 * const { sent, received } = counter.since(before);
 */
export class ByteCounter {
  private sent = 0;
  private received = 0;
  private readonly sockets = new Set<Socket>();

  /** Adds bytes sent to the store. */
  public addSent(n: number): void {
    this.sent += n;
  }

  /** Adds bytes received from the store. */
  public addReceived(n: number): void {
    this.received += n;
  }

  /**
   * Follows a socket's cumulative counters; once it closes, its final counts are kept, so a
   * connection the pool drops in the middle of a phase is still counted.
   */
  public trackSocket(socket: Socket): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.sent += socket.bytesWritten;
      this.received += socket.bytesRead;
    });
  }

  /** Totals so far. */
  public read(): ByteCount {
    let sent = this.sent;
    let received = this.received;
    for (const s of this.sockets) {
      sent += s.bytesWritten;
      received += s.bytesRead;
    }
    return { sent, received };
  }

  /** Bytes moved since an earlier {@link read}. */
  public since(before: ByteCount): ByteCount {
    const now = this.read();
    return { sent: now.sent - before.sent, received: now.received - before.received };
  }
}

/** The part of an SDK client this module needs (every v3 client has it). */
interface MiddlewareClient {
  readonly middlewareStack: {
    add(middleware: unknown, options: { step: 'finalizeRequest'; priority: 'low'; name: string; override?: boolean }): void;
  };
}

// A pass-through that counts what flows; errors of the source are handed on, so the SDK still
// sees a failed download as failed. The copy applies no back-pressure: with the default
// high-water mark (16 KiB) a 64 KiB GetObject stalled for good and the process ran out of work
// to wait for. A response is held whole by the SDK anyway.
function counted(source: Readable, add: (n: number) => void): Readable {
  const t = new Transform({
    highWaterMark: 1 << 30,
    transform(chunk: Buffer, _encoding, done) {
      add(chunk.length);
      done(null, chunk);
    },
  });
  source.on('error', (err) => t.destroy(err));
  return source.pipe(t);
}

function bodyBytes(body: unknown, add: (n: number) => void): unknown {
  if (body === undefined || body === null) return body;
  if (typeof body === 'string') add(Buffer.byteLength(body));
  else if (body instanceof Uint8Array) add(body.byteLength);
  else if (body instanceof Readable) return counted(body, add);
  return body;
}

/**
 * Counts the request and response body bytes of every HTTP attempt an AWS SDK v3 client makes.
 *
 * @example
 * const counter = new ByteCounter();
 * countSdkBodyBytes(dynamo, counter); // every later call of `dynamo` is counted
 */
export function countSdkBodyBytes(client: MiddlewareClient, counter: ByteCounter): void {
  const middleware = (next: (args: { request: { body?: unknown; method?: string; headers?: Record<string, string> } }) => Promise<{ response: { body?: unknown; headers?: Record<string, string> } }>) =>
    async (args: { request: { body?: unknown; method?: string; headers?: Record<string, string> } }) => {
      const request = args.request;
      if (request !== null && typeof request === 'object' && 'body' in request) {
        request.body = bodyBytes(request.body, (n) => counter.addSent(n));
      }
      // User metadata is data too (S3's metadata layout keeps the envelope header there): its
      // header lines count, name and value, both ways.
      counter.addSent(metadataHeaderBytes(request?.headers));
      const out = await next(args);
      const response = out.response;
      counter.addReceived(metadataHeaderBytes(response?.headers));
      // Content-Length is the body as it crossed the wire; only a response without one
      // (chunked) has its stream counted as it is read. Counting DynamoDB's streams alone saw
      // nothing: its client reads the body through a path this copy does not sit on.
      // A HEAD response carries the object's Content-Length but no body (RFC 9110, 9.3.2).
      if (args.request.method === 'HEAD') return out;
      const length = Number(response?.headers?.['content-length']);
      if (Number.isSafeInteger(length) && length >= 0) counter.addReceived(length);
      else if (response !== null && typeof response === 'object' && 'body' in response) {
        response.body = bodyBytes(response.body, (n) => counter.addReceived(n));
      }
      return out;
    };
  client.middlewareStack.add(middleware, { step: 'finalizeRequest', priority: 'low', name: 'rekeyBenchByteCounter', override: true });
}

/** Bytes of the `x-amz-meta-*` header lines (name, ": ", value) among `headers`. */
function metadataHeaderBytes(headers: Record<string, string> | undefined): number {
  let n = 0;
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase().startsWith('x-amz-meta-')) n += Buffer.byteLength(name) + 2 + Buffer.byteLength(String(value));
  }
  return n;
}

/**
 * Counts the socket bytes of every connection `pool` opens from now on (attach it before the
 * pool's first query: connections opened earlier are not seen).
 *
 * @example
 * const pool = new Pool({ connectionString: url });
 * countPoolSocketBytes(pool, counter);
 */
export function countPoolSocketBytes(pool: Pool, counter: ByteCounter): void {
  pool.on('connect', (client) => {
    const stream = (client as unknown as { connection?: { stream?: unknown } }).connection?.stream;
    if (stream !== null && typeof stream === 'object' && typeof (stream as Socket).bytesWritten === 'number') counter.trackSocket(stream as Socket);
  });
}

type StatementMethod = (this: Database.Statement, ...params: unknown[]) => unknown;

function bufferBytes(value: unknown): number {
  if (Buffer.isBuffer(value)) return value.length;
  if (Array.isArray(value)) return value.reduce((n: number, v: unknown) => n + bufferBytes(v), 0);
  if (value !== null && typeof value === 'object') return Object.values(value).reduce((n: number, v: unknown) => n + bufferBytes(v), 0);
  return 0;
}

/**
 * Counts the Buffer bytes bound to and read from statements of the SQLite database at `path`
 * (better-sqlite3 runs in this process, so "bytes moved" is what crosses the driver boundary).
 * Patches better-sqlite3's Statement prototype; call the returned function to remove the patch.
 *
 * @example
 * const uninstall = countSqliteValueBytes(join(home, 'records.db'), counter);
 * // ... sweep ...
 * uninstall();
 */
export function countSqliteValueBytes(path: string, counter: ByteCounter): () => void {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<'run' | 'get' | 'all', StatementMethod>;
  probe.close();
  const originals = { run: proto.run, get: proto.get, all: proto.all };
  for (const name of ['run', 'get', 'all'] as const) {
    const original = originals[name];
    proto[name] = function patched(this: Database.Statement, ...params: unknown[]): unknown {
      const mine = this.database.name === path;
      if (mine) counter.addSent(bufferBytes(params));
      const result = original.apply(this, params);
      if (mine && name !== 'run') counter.addReceived(bufferBytes(result));
      return result;
    };
  }
  return () => {
    proto.run = originals.run;
    proto.get = originals.get;
    proto.all = originals.all;
  };
}
