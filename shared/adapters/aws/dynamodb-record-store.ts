/**
 * DynamoDbRecordStore: the RecordStore on an Amazon DynamoDB table (RECORD_TABLE_DEFINITION of
 * ./dynamodb-record-table).
 *
 * One item per record: `id`, `keyring`, `ver` (current version), `origin` (the header's origin
 * version, read by the store, never taken from the caller), `rev` (a fresh random id per write,
 * never reused: a record deleted and created again never matches an old revision), `h` and `b`
 * (the envelope's header and body; the envelope is `h || b`), `updated` (epoch ms) and the index
 * sort keys `vsk` / `osk` (`<10-digit version>#<id>`). Scans and counts read the two global
 * secondary indexes, which carry only keys, `ver`, `origin` and `rev`: never a table Scan, never
 * an envelope byte.
 *
 * Consistency: reads of one record (get, getHeader, getHeaders) of the primary are strongly
 * consistent (replica reads: see below); the indexes, like every DynamoDB GSI, follow writes
 * with a short delay, so a scan or a count may briefly miss or still show a record just written
 * (a GSI offers no strongly consistent read: ConsistentRead there is a ValidationException,
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html). A sweep tolerates it (its conditional
 * writes never apply a stale read, and a record missed by one pass is found by the next);
 * anything that gates on a count of zero must count again after the sweep has settled.
 *
 * No write is transactional across records: a batch issues one conditional write per item
 * (see BatchRecordStore), with bounded concurrency.
 *
 * Read replicas (global tables): with `replica`, every read (get, getHeader, getHeaders, the
 * scans, the counts, scanSegment) goes to the replica, e.g. a global table's replica in the
 * reader's Region, and every write (put, putHeaders, putBatch, delete) to the primary,
 * conditional on the revision read. A replica may lag: it can show an older revision, a record
 * the primary has deleted, or miss one just written. A write made from such a read conflicts on
 * the primary and writes nothing, because a revision is never reused: a revision equal to the
 * primary's means the replica showed exactly the primary's item, so a write that passes its
 * condition applies to the bytes that were read. A stale read never overwrites a newer item and
 * never brings a deleted one back; a lazy re-wrap made from it is dropped (the primary already
 * holds something newer), and nothing is ever written to the replica.
 *
 * That holds only while every writer of the table writes to the same Region. In a global table
 * with multi-Region eventual consistency (MREC), a condition is checked against the copy of the
 * Region that takes the write only; replication then settles concurrent writes to one item made
 * in different Regions by last writer wins on a timestamp, and the losing write is dropped
 * without a trace (AWS Prescriptive Guidance, DynamoDB global tables, "Key facts about MREC",
 * https://docs.aws.amazon.com/prescriptive-guidance/latest/dynamodb-global-tables/overview.html).
 * Conditional writes are therefore only sound when all writes go to one Region ("write to one
 * Region mode", where eventually consistent reads may go to any replica,
 * https://docs.aws.amazon.com/prescriptive-guidance/latest/dynamodb-global-tables/write-to-one-region.html):
 * an application writing records in another Region could silently undo a re-wrap or a
 * re-encryption made on the primary, or have its own write undone by them.
 *
 * Replica reads are eventually consistent by default (half the read cost; a strongly consistent
 * read of an MREC replica still returns only that Region's copy). `consistentRead: true` suits a
 * multi-Region strongly consistent (MRSC) table, whose strongly consistent reads return the
 * latest item from any replica. A replica with the primary's own client and table name is how
 * to read the primary with eventually consistent reads. Counts from a replica lag too: a gate
 * that must not pass early (disable, destroy) counts on {@link DynamoDbRecordStore.withoutReplica}.
 */
import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type PutItemCommandInput,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { ConflictError, NotFoundError, ThrottledError, ValidationError, isRekeyError, type RekeyError } from '../../errors';
import { headerIndex } from '../record-header-index';
import type {
  BatchRecordStore,
  BatchWriteOutcome,
  ConditionalWrite,
  RecordPage,
  RecordRef,
  StoredHeader,
  StoredRecord,
} from '../../ports/record-store';
import { awsErrorCode, mapAwsError } from './map-aws-error';
import { ORIGIN_INDEX, VERSION_INDEX } from './dynamodb-record-table';

/**
 * Options of {@link DynamoDbRecordStore}.
 *
 * @example
 * const options: DynamoDbRecordStoreOptions = { client: new DynamoDBClient({}), tableName: 'rekey-records', concurrency: 32 };
 */
export interface DynamoDbRecordStoreOptions {
  /** The DynamoDB client (region, credentials, timeouts are the caller's). */
  readonly client: DynamoDBClient;
  /** A table created from RECORD_TABLE_DEFINITION. */
  readonly tableName: string;
  /** Most requests in flight for one batch call (putHeaders, putBatch, getHeaders). @default 16 */
  readonly concurrency?: number;
  /** The time stamped on each write (`updated`). @default the real clock */
  readonly clock?: () => number;
  /**
   * Where reads go (see the module documentation): a global table's replica in the reader's
   * Region, another table fed by replication, or the primary's own client and table for
   * eventually consistent reads. Writes never go there. @default reads of the primary, strongly consistent
   */
  readonly replica?: DynamoDbReplicaOptions;
}

/**
 * The replica a {@link DynamoDbRecordStore} reads from.
 *
 * @example
 * const replica: DynamoDbReplicaOptions = { client: new DynamoDBClient({ region: 'eu-west-1' }) };
 */
export interface DynamoDbReplicaOptions {
  /** The client of the replica's Region (a global table's replica has the primary's table name). */
  readonly client: DynamoDBClient;
  /** The replica's table. @default the primary's tableName */
  readonly tableName?: string;
  /**
   * Strongly consistent reads of the replica's table (what an MRSC global table needs to return
   * the latest item from any replica; index reads are eventually consistent whatever this says).
   * @default false
   */
  readonly consistentRead?: boolean;
}

/**
 * A header-only write: the stored body is kept.
 *
 * @example
 * const write: DynamoDbHeaderInput = { id: 'user-1', keyring: 'pii', version: 2, header: next.header };
 */
export interface DynamoDbHeaderInput {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly header: Buffer;
}

/**
 * One whole-record write.
 *
 * @example
 * const write: DynamoDbRecordInput = { id: 'user-1', keyring: 'pii', version: 2, envelope };
 */
export interface DynamoDbRecordInput {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly envelope: Buffer;
}

/**
 * Options of {@link DynamoDbRecordStore.scanSegment}.
 *
 * @example
 * const options: SegmentScanOptions = { segment: 0, totalSegments: 8, limit: 500, belowVersion: 4 };
 */
export interface SegmentScanOptions {
  /** This worker's segment, 0 .. totalSegments - 1. */
  readonly segment: number;
  /** Number of segments the index is split into, 1 .. 1000000. */
  readonly totalSegments: number;
  /** Resume after this cursor (from a previous page of the same segment). */
  readonly cursor?: string;
  /** Most index entries evaluated for this page, 1 .. 100000 (a page may hold fewer items). */
  readonly limit: number;
  /** Only records whose current version is below this one. */
  readonly belowVersion?: number;
  /** Only records whose origin version is at most this one. */
  readonly originAtMost?: number;
}

/**
 * Longest record id accepted, in UTF-8 bytes (the index sort keys add 11 bytes; DynamoDB allows 1024).
 *
 * @example
 * if (Buffer.byteLength(id) > MAX_RECORD_ID_BYTES) throw new ValidationError('id too long');
 */
export const MAX_RECORD_ID_BYTES = 512;

/**
 * DynamoDB's item size limit: 400 KB (1 KB = 1024 bytes), attribute names included. An
 * envelope must leave room for the ~60 bytes of names, keys and numbers of its item.
 *
 * @example
 * const roomForEnvelope = MAX_ITEM_BYTES - 1024;
 */
export const MAX_ITEM_BYTES = 400 * 1024;

/** Longest cursor accepted, in characters: a LastEvaluatedKey of three short strings. */
const MAX_CURSOR_LENGTH = 4096;

/** BatchGetItem takes at most 100 keys per call. */
const BATCH_GET_KEYS = 100;

/** Attempts of a BatchGetItem round for the keys DynamoDB left unprocessed (throttling, 16 MB cap). */
const UNPROCESSED_ATTEMPTS = 8;

/** Versions are written as 10 digits so that string order is numeric order in the sort keys. */
const MAX_VERSION = 9_999_999_999;

const REVISION = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Every attribute through a name placeholder: `keyring`, `origin` and friends must never collide
// with DynamoDB's reserved words, now or in a later list.
const NAMES = {
  '#id': 'id',
  '#k': 'keyring',
  '#ver': 'ver',
  '#origin': 'origin',
  '#rev': 'rev',
  '#h': 'h',
  '#b': 'b',
  '#upd': 'updated',
  '#vsk': 'vsk',
  '#osk': 'osk',
} as const;

type Name = keyof typeof NAMES;

function names(...used: Name[]): Record<string, string> {
  return Object.fromEntries(used.map((n) => [n, NAMES[n]]));
}

/** Everything but the body: what a header-only read fetches. */
const HEADER_PROJECTION = '#id, #k, #ver, #origin, #rev, #h';
const HEADER_NAMES = names('#id', '#k', '#ver', '#origin', '#rev', '#h');

function pad(version: number): string {
  return String(version).padStart(10, '0');
}

function sortKey(version: number, id: string): string {
  return `${pad(version)}#${id}`;
}

function checkVersion(version: number, what = 'version'): void {
  if (!Number.isSafeInteger(version) || version < 1 || version > MAX_VERSION) {
    throw new ValidationError(`${what} must be an integer between 1 and ${MAX_VERSION}`);
  }
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw new ValidationError('scan limit must be an integer between 1 and 100000');
}

function checkKeyring(keyring: string): void {
  if (typeof keyring !== 'string' || keyring.length === 0) throw new ValidationError('record keyring must be a non-empty string');
}

function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id) > MAX_RECORD_ID_BYTES) {
    throw new ValidationError(`record id must be a non-empty string of at most ${MAX_RECORD_ID_BYTES} bytes`);
  }
}

/** Validates a write and reads its origin and header length from the header (see headerIndex). */
function validateRecord(record: { id: string; keyring: string; version: number; bytes: Buffer }): { originVersion: number; headerLength: number } {
  checkId(record.id);
  checkKeyring(record.keyring);
  checkVersion(record.version, 'record version');
  if (!Buffer.isBuffer(record.bytes) || record.bytes.length === 0) throw new ValidationError('record envelope must be a non-empty Buffer');
  const index = headerIndex(record.bytes, record);
  checkVersion(index.originVersion, 'origin version');
  return index;
}

function checkRevision(revision: string | null | undefined): void {
  if (typeof revision === 'string' && !REVISION.test(revision)) throw new ValidationError('revision must be a revision returned by this store');
}

/**
 * DynamoDB's size of an item: attribute names plus values, a number counted at its largest
 * (21 bytes), so that the estimate is never below what DynamoDB computes.
 */
function itemSize(item: Record<string, AttributeValue>): number {
  let n = 0;
  for (const [name, value] of Object.entries(item)) {
    n += Buffer.byteLength(name);
    if (value.S !== undefined) n += Buffer.byteLength(value.S);
    else if (value.B !== undefined) n += value.B.length;
    else if (value.N !== undefined) n += 21;
  }
  return n;
}

function str(item: Record<string, AttributeValue>, name: string): string {
  const v = item[name]?.S;
  if (v === undefined) throw new ValidationError(`DynamoDB item lacks the string attribute '${name}'`);
  return v;
}

function num(item: Record<string, AttributeValue>, name: string): number {
  const v = item[name]?.N;
  const n = v === undefined ? NaN : Number(v);
  if (!Number.isSafeInteger(n)) throw new ValidationError(`DynamoDB item lacks the number attribute '${name}'`);
  return n;
}

function bin(item: Record<string, AttributeValue>, name: string): Buffer {
  const v = item[name]?.B;
  // An empty body is not written at all (nothing to store), so absent reads as empty.
  return v === undefined ? Buffer.alloc(0) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function refOf(item: Record<string, AttributeValue>): RecordRef {
  return { id: str(item, 'id'), keyring: str(item, 'keyring'), version: num(item, 'ver'), originVersion: num(item, 'origin'), revision: str(item, 'rev') };
}

function headerOf(item: Record<string, AttributeValue>): StoredHeader {
  return { ...refOf(item), header: bin(item, 'h') };
}

/** Which index keys a cursor must carry, and what its sort key must start with. */
interface CursorShape {
  readonly sortAttribute: 'vsk' | 'osk';
  /** The keyring the cursor must name (undefined: any, for a scan across keyrings). */
  readonly keyring?: string;
  /** Accepts the cursor's sort key for this query. */
  readonly sortKeyFits: (sk: string) => boolean;
}

// A cursor is the LastEvaluatedKey as JSON, base64url: opaque to callers, safe in a CLI argument.
function encodeCursor(key: Record<string, AttributeValue> | undefined): string | undefined {
  if (key === undefined) return undefined;
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(key)) if (value.S !== undefined) plain[name] = value.S;
  return Buffer.from(JSON.stringify(plain), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor back into an ExclusiveStartKey, accepting only what this store would have
 * returned for the same query: the three string keys of the index, the same keyring and a sort
 * key of the scanned range, so a cursor from another query cannot move the scan elsewhere.
 */
function decodeCursor(cursor: string, shape: CursorShape): Record<string, AttributeValue> {
  const refuse = (): ValidationError => new ValidationError('scan cursor is not a cursor returned by this store');
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw refuse();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse();
  const fields = parsed as Record<string, unknown>;
  const expected = ['id', 'keyring', shape.sortAttribute];
  if (Object.keys(fields).length !== expected.length || !expected.every((k) => typeof fields[k] === 'string' && (fields[k] as string).length > 0)) throw refuse();
  const id = fields.id as string;
  const keyring = fields.keyring as string;
  const sk = fields[shape.sortAttribute] as string;
  if (shape.keyring !== undefined && keyring !== shape.keyring) throw refuse();
  if (!/^[0-9]{10}#/.test(sk) || sk.slice(11) !== id || !shape.sortKeyFits(sk)) throw refuse();
  return { id: { S: id }, keyring: { S: keyring }, [shape.sortAttribute]: { S: sk } };
}

function isConditionFailed(err: unknown): boolean {
  return awsErrorCode(err) === 'ConditionalCheckFailedException';
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next;
      next += 1;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (err) {
        // Stop taking new items: the call throws anyway, and a throw says nothing of which
        // writes happened (see BatchRecordStore).
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return results;
}

/**
 * RecordStore on a DynamoDB table: conditional writes on a random revision, scans and counts
 * from two keys-only-ish indexes, header-only re-wraps that never send the body.
 *
 * @example
 * await createRecordTable(client, 'rekey-records');
 * const store = new DynamoDbRecordStore({ client, tableName: 'rekey-records' });
 * const rev = await store.put({ id: 'user-1', keyring: 'pii', version: 1, envelope }, null);
 * const page = await store.scanByVersion('pii', 1, { limit: 100 });
 */
export class DynamoDbRecordStore implements BatchRecordStore {
  /** The primary: every write. */
  private readonly client: DynamoDBClient;
  private readonly table: string;
  /** Where reads go: the replica, or the primary (strongly consistent) without one. */
  private readonly reader: { readonly client: DynamoDBClient; readonly table: string; readonly consistent: boolean };
  private readonly options: DynamoDbRecordStoreOptions;
  private readonly concurrency: number;
  private readonly now: () => number;

  public constructor(options: DynamoDbRecordStoreOptions) {
    if (typeof options.tableName !== 'string' || options.tableName.length === 0) throw new ValidationError('DynamoDbRecordStore needs a table name');
    const concurrency = options.concurrency ?? 16;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 1000) throw new ValidationError('concurrency must be an integer between 1 and 1000');
    const replica = options.replica;
    if (replica !== undefined) {
      if (typeof replica.client?.send !== 'function') throw new ValidationError('DynamoDbRecordStore replica needs a DynamoDB client');
      if (replica.tableName !== undefined && (typeof replica.tableName !== 'string' || replica.tableName.length === 0)) {
        throw new ValidationError('DynamoDbRecordStore replica table name must be a non-empty string');
      }
      if (replica.consistentRead !== undefined && typeof replica.consistentRead !== 'boolean') throw new ValidationError('replica consistentRead must be a boolean');
    }
    this.client = options.client;
    this.table = options.tableName;
    this.reader = replica === undefined
      ? { client: options.client, table: options.tableName, consistent: true }
      : { client: replica.client, table: replica.tableName ?? options.tableName, consistent: replica.consistentRead ?? false };
    this.options = options;
    this.concurrency = concurrency;
    this.now = options.clock ?? Date.now;
  }

  /**
   * This store without its replica: reads of the primary, strongly consistent, for what must not
   * see a lagging copy (the counts behind a disable or destroy gate). Returns this store when it
   * has no replica.
   *
   * @example
   * const counts = await store.withoutReplica().countByVersion('pii');
   */
  public withoutReplica(): DynamoDbRecordStore {
    if (this.options.replica === undefined) return this;
    const { replica: _replica, ...primary } = this.options;
    return new DynamoDbRecordStore(primary);
  }

  /**
   * Reads a record, header and body joined back into the envelope, or undefined: strongly
   * consistent from the primary, or from the replica (see the module documentation).
   */
  public async get(id: string): Promise<StoredRecord | undefined> {
    checkId(id);
    const { client, table, consistent } = this.reader;
    const out = await this.read(id, () => client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: consistent })));
    const item = out.Item;
    if (item === undefined) return undefined;
    const header = bin(item, 'h');
    const body = bin(item, 'b');
    return { ...refOf(item), envelope: body.length === 0 ? header : Buffer.concat([header, body]) };
  }

  /**
   * Writes a record; with `expectedRevision` only if the stored revision still equals it
   * (`null`: only if absent), else ConflictError. Refuses a keyring or version other than the
   * header's, and an item above DynamoDB's 400 KB, with a ValidationError before any call.
   */
  public async put(record: DynamoDbRecordInput, expectedRevision?: string | null): Promise<string> {
    checkRevision(expectedRevision);
    const item = this.itemOf(record);
    const revision = str(item, 'rev');
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ...this.condition(expectedRevision) }));
    } catch (err) {
      if (isConditionFailed(err)) throw this.conflict(record.id, expectedRevision);
      throw this.failure(err, record.id);
    }
    return revision;
  }

  /**
   * Deletes a record; with `expectedRevision` only if it still matches (else ConflictError),
   * without it NotFoundError when there is none.
   */
  public async delete(id: string, expectedRevision?: string): Promise<void> {
    checkId(id);
    checkRevision(expectedRevision);
    const condition = expectedRevision === undefined
      ? { ConditionExpression: 'attribute_exists(#id)', ExpressionAttributeNames: names('#id') }
      : { ConditionExpression: '#rev = :r', ExpressionAttributeNames: names('#rev'), ExpressionAttributeValues: { ':r': { S: expectedRevision } } };
    try {
      await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { id: { S: id } }, ...condition }));
    } catch (err) {
      if (isConditionFailed(err)) {
        if (expectedRevision === undefined) throw new NotFoundError(`record '${id}' does not exist`);
        throw this.conflict(id, expectedRevision);
      }
      throw this.failure(err, id);
    }
  }

  /**
   * Lists one version's records in id order (a Query of `rekey-by-version`). DynamoDB's Limit
   * counts evaluated entries and a page may end early (1 MB) with a cursor all the same: page on
   * while a cursor comes back, even after a short or empty page.
   */
  public async scanByVersion(keyring: string, version: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    checkKeyring(keyring);
    checkVersion(version);
    checkLimit(options.limit);
    const prefix = `${pad(version)}#`;
    const start = options.cursor === undefined ? undefined : decodeCursor(options.cursor, { sortAttribute: 'vsk', keyring, sortKeyFits: (sk) => sk.startsWith(prefix) });
    return this.queryPage({
      IndexName: VERSION_INDEX,
      KeyConditionExpression: '#k = :k AND begins_with(#vsk, :p)',
      ExpressionAttributeNames: names('#k', '#vsk'),
      ExpressionAttributeValues: { ':k': { S: keyring }, ':p': { S: prefix } },
      Limit: options.limit,
      ExclusiveStartKey: start,
    });
  }

  /**
   * Lists the records whose origin version is at most `atMost`, in (origin, id) order (one range
   * Query of `rekey-by-origin`, `osk < pad(atMost + 1)`). Short pages as in scanByVersion.
   */
  public async scanByOrigin(keyring: string, atMost: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    checkKeyring(keyring);
    checkVersion(atMost);
    checkLimit(options.limit);
    const below = pad(atMost + 1);
    const start = options.cursor === undefined ? undefined : decodeCursor(options.cursor, { sortAttribute: 'osk', keyring, sortKeyFits: (sk) => sk < below });
    return this.queryPage({
      IndexName: ORIGIN_INDEX,
      KeyConditionExpression: '#k = :k AND #osk < :hi',
      ExpressionAttributeNames: names('#k', '#osk'),
      ExpressionAttributeValues: { ':k': { S: keyring }, ':hi': { S: below } },
      Limit: options.limit,
      ExclusiveStartKey: start,
    });
  }

  /** Number of records per version of a keyring, from `rekey-by-version` (see {@link skipCount}). */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    checkKeyring(keyring);
    return this.skipCount(VERSION_INDEX, 'vsk', keyring);
  }

  /** Number of records per origin version of a keyring, from `rekey-by-origin` (see {@link skipCount}). */
  public async countByOrigin(keyring: string): Promise<Map<number, number>> {
    checkKeyring(keyring);
    return this.skipCount(ORIGIN_INDEX, 'osk', keyring);
  }

  /** Reads a record's header and revision (consistency as {@link get}); the body is not fetched. */
  public async getHeader(id: string): Promise<StoredHeader | undefined> {
    checkId(id);
    const { client, table, consistent } = this.reader;
    const out = await this.read(id, () =>
      client.send(new GetItemCommand({
        TableName: table,
        Key: { id: { S: id } },
        ConsistentRead: consistent,
        ProjectionExpression: HEADER_PROJECTION,
        ExpressionAttributeNames: HEADER_NAMES,
      })),
    );
    return out.Item === undefined ? undefined : headerOf(out.Item);
  }

  /**
   * Reads many headers (consistency as {@link get}, bodies not fetched): BatchGetItem, 100 keys a call,
   * keys DynamoDB leaves unprocessed retried with back-off. Returns one entry per id, in order
   * (undefined for an absent record; a repeated id is read once).
   *
   * @example
   * const [a, b] = await store.getHeaders(['user-1', 'user-2']);
   */
  public async getHeaders(ids: readonly string[]): Promise<(StoredHeader | undefined)[]> {
    ids.forEach(checkId);
    const unique = [...new Set(ids)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) chunks.push(unique.slice(i, i + BATCH_GET_KEYS));
    const found = new Map<string, StoredHeader>();
    await pool(chunks, this.concurrency, async (chunk) => {
      for (const header of await this.batchGet(chunk)) found.set(header.id, header);
    });
    return ids.map((id) => found.get(id));
  }

  /**
   * Replaces headers conditionally, keeping each body: one UpdateItem per write (SET of the
   * header, version, origin, index keys and revision, conditional on the revision read; the body
   * attribute is never sent), at most `concurrency` in flight. Each write succeeds or conflicts
   * on its own. Validates every write before any call.
   *
   * DynamoDB bills write units on the size of the whole item, even for an UpdateItem of one
   * attribute: the gain of a header-only re-wrap here is the bytes moved and no decryption of
   * the payload, not fewer WCU.
   */
  public async putHeaders(writes: readonly ConditionalWrite<DynamoDbHeaderInput>[]): Promise<BatchWriteOutcome[]> {
    const checked = writes.map((w) => {
      checkRevision(w.expectedRevision);
      return { ...w, index: validateRecord({ ...w.write, bytes: w.write.header }) };
    });
    return pool(checked, this.concurrency, async ({ write, expectedRevision, index }): Promise<BatchWriteOutcome> => {
      // A header replaces the header of a record that exists: nothing to do for "only if absent".
      if (expectedRevision === null) return { ok: false, reason: 'conflict' };
      const revision = randomUUID();
      try {
        await this.client.send(new UpdateItemCommand({
          TableName: this.table,
          Key: { id: { S: write.id } },
          UpdateExpression: 'SET #h = :h, #k = :k, #ver = :ver, #vsk = :vsk, #origin = :origin, #osk = :osk, #rev = :rev, #upd = :upd',
          ConditionExpression: '#rev = :expected',
          ExpressionAttributeNames: names('#h', '#k', '#ver', '#vsk', '#origin', '#osk', '#rev', '#upd'),
          ExpressionAttributeValues: {
            ':h': { B: write.header },
            ':k': { S: write.keyring },
            ':ver': { N: String(write.version) },
            ':vsk': { S: sortKey(write.version, write.id) },
            ':origin': { N: String(index.originVersion) },
            ':osk': { S: sortKey(index.originVersion, write.id) },
            ':rev': { S: revision },
            ':upd': { N: String(this.now()) },
            ':expected': { S: expectedRevision },
          },
        }));
      } catch (err) {
        if (isConditionFailed(err)) return { ok: false, reason: 'conflict' };
        throw this.failure(err, write.id);
      }
      return { ok: true, revision };
    });
  }

  /**
   * Writes whole envelopes conditionally: one PutItem per write, at most `concurrency` in
   * flight, each succeeding or conflicting on its own. Validates every write before any call.
   */
  public async putBatch(writes: readonly ConditionalWrite<DynamoDbRecordInput>[]): Promise<BatchWriteOutcome[]> {
    const items = writes.map((w) => {
      checkRevision(w.expectedRevision);
      return { item: this.itemOf(w.write), expectedRevision: w.expectedRevision };
    });
    return pool(items, this.concurrency, async ({ item, expectedRevision }): Promise<BatchWriteOutcome> => {
      try {
        await this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ...this.condition(expectedRevision) }));
      } catch (err) {
        if (isConditionFailed(err)) return { ok: false, reason: 'conflict' };
        throw this.failure(err, str(item, 'id'));
      }
      return { ok: true, revision: str(item, 'rev') };
    });
  }

  /**
   * One segment of a parallel Scan of `rekey-by-version` (Segment / TotalSegments), filtered on
   * the keyring and optionally on `ver < belowVersion` and `origin <= originAtMost`: for a
   * fan-out in which each worker owns one segment. Together the segments cover every index
   * entry exactly once. The filter applies after `limit` entries are evaluated, so a page may
   * be short or empty with a cursor: page on until none comes back.
   *
   * The index's partition key is the keyring, so how evenly DynamoDB spreads one keyring's
   * entries over the segments depends on how it splits that item collection; measure it on a
   * real table before sizing a fan-out on it (moto spreads by record id). Like every scan of a
   * GSI it is eventually consistent.
   *
   * @example
   * let cursor: string | undefined;
   * do {
   *   const page = await store.scanSegment('pii', { segment: 2, totalSegments: 8, limit: 500, belowVersion: 4, cursor });
   *   cursor = page.cursor;
   * } while (cursor !== undefined);
   */
  public async scanSegment(keyring: string, options: SegmentScanOptions): Promise<RecordPage> {
    checkKeyring(keyring);
    checkLimit(options.limit);
    if (!Number.isSafeInteger(options.totalSegments) || options.totalSegments < 1 || options.totalSegments > 1_000_000) {
      throw new ValidationError('totalSegments must be an integer between 1 and 1000000');
    }
    if (!Number.isSafeInteger(options.segment) || options.segment < 0 || options.segment >= options.totalSegments) {
      throw new ValidationError('segment must be an integer between 0 and totalSegments - 1');
    }
    const filters = ['#k = :k'];
    const values: Record<string, AttributeValue> = { ':k': { S: keyring } };
    const used: Name[] = ['#k'];
    if (options.belowVersion !== undefined) {
      checkVersion(options.belowVersion, 'belowVersion');
      filters.push('#ver < :below');
      values[':below'] = { N: String(options.belowVersion) };
      used.push('#ver');
    }
    if (options.originAtMost !== undefined) {
      checkVersion(options.originAtMost, 'originAtMost');
      filters.push('#origin <= :atMost');
      values[':atMost'] = { N: String(options.originAtMost) };
      used.push('#origin');
    }
    // Any keyring: a segment's last evaluated entry may belong to another keyring than the one filtered on.
    const start = options.cursor === undefined ? undefined : decodeCursor(options.cursor, { sortAttribute: 'vsk', sortKeyFits: () => true });
    const out = await this.read(`index ${VERSION_INDEX}`, () =>
      this.reader.client.send(new ScanCommand({
        TableName: this.reader.table,
        IndexName: VERSION_INDEX,
        Segment: options.segment,
        TotalSegments: options.totalSegments,
        FilterExpression: filters.join(' AND '),
        ExpressionAttributeNames: names(...used),
        ExpressionAttributeValues: values,
        Limit: options.limit,
        ExclusiveStartKey: start,
      })),
    );
    const cursor = encodeCursor(out.LastEvaluatedKey);
    const items = (out.Items ?? []).map(refOf);
    return cursor === undefined ? { items } : { items, cursor };
  }

  private async queryPage(input: Omit<QueryCommandInput, 'TableName'>): Promise<RecordPage> {
    const out = await this.read(`index ${input.IndexName ?? ''}`, () => this.reader.client.send(new QueryCommand({ ...input, TableName: this.reader.table })));
    const items = (out.Items ?? []).map(refOf);
    const cursor = encodeCursor(out.LastEvaluatedKey);
    return cursor === undefined ? { items } : { items, cursor };
  }

  /**
   * Counts per version from an index without a table Scan: a skip-scan. A Query with Limit 1
   * finds the next version present (`sk >= pad(v)`), a paginated `Select: COUNT` counts its
   * entries (`begins_with(sk, pad(v)#)`), then the search jumps to `pad(v + 1)`. The cost is two
   * small queries per version present plus one page per 1 MB of index entries counted.
   */
  private async skipCount(index: string, sortAttribute: 'vsk' | 'osk', keyring: string): Promise<Map<number, number>> {
    const sk: Name = sortAttribute === 'vsk' ? '#vsk' : '#osk';
    const counts = new Map<number, number>();
    let from = pad(1);
    for (;;) {
      const probe = await this.read(`index ${index}`, () =>
        this.reader.client.send(new QueryCommand({
          TableName: this.reader.table,
          IndexName: index,
          KeyConditionExpression: `#k = :k AND ${sk} >= :from`,
          ExpressionAttributeNames: names('#k', sk),
          ExpressionAttributeValues: { ':k': { S: keyring }, ':from': { S: from } },
          Limit: 1,
        })),
      );
      const first = probe.Items?.[0]?.[sortAttribute]?.S;
      if (first === undefined) return counts;
      const version = Number(first.slice(0, 10));
      if (!Number.isSafeInteger(version) || version < 1) throw new ValidationError(`index ${index} holds a malformed sort key`);
      let n = 0;
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await this.read(`index ${index}`, () =>
          this.reader.client.send(new QueryCommand({
            TableName: this.reader.table,
            IndexName: index,
            KeyConditionExpression: `#k = :k AND begins_with(${sk}, :p)`,
            ExpressionAttributeNames: names('#k', sk),
            ExpressionAttributeValues: { ':k': { S: keyring }, ':p': { S: `${pad(version)}#` } },
            Select: 'COUNT',
            ExclusiveStartKey: start,
          })),
        );
        n += page.Count ?? 0;
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      // An entry seen by the probe may be gone by the count (the index follows writes).
      if (n > 0) counts.set(version, n);
      if (version >= MAX_VERSION) return counts;
      from = pad(version + 1);
    }
  }

  private async batchGet(ids: readonly string[]): Promise<StoredHeader[]> {
    const headers: StoredHeader[] = [];
    let keys: Record<string, AttributeValue>[] = ids.map((id) => ({ id: { S: id } }));
    const { client, table, consistent } = this.reader;
    for (let attempt = 0; keys.length > 0; attempt += 1) {
      if (attempt >= UNPROCESSED_ATTEMPTS) throw new ThrottledError(`DynamoDB left ${keys.length} header reads of ${table} unprocessed after ${UNPROCESSED_ATTEMPTS} attempts`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2)));
      const request = { [table]: { Keys: keys, ConsistentRead: consistent, ProjectionExpression: HEADER_PROJECTION, ExpressionAttributeNames: HEADER_NAMES } };
      const out = await this.read(`${ids.length} headers`, () => client.send(new BatchGetItemCommand({ RequestItems: request })));
      for (const item of out.Responses?.[table] ?? []) headers.push(headerOf(item));
      keys = out.UnprocessedKeys?.[table]?.Keys ?? [];
    }
    return headers;
  }

  /** The item of a whole-record write, validated (header claims, size) before any call. */
  private itemOf(record: DynamoDbRecordInput): Record<string, AttributeValue> {
    const { originVersion, headerLength } = validateRecord({ ...record, bytes: record.envelope });
    const split = Math.max(0, Math.min(record.envelope.length, headerLength));
    const header = record.envelope.subarray(0, split);
    const body = record.envelope.subarray(split);
    const item: Record<string, AttributeValue> = {
      id: { S: record.id },
      keyring: { S: record.keyring },
      ver: { N: String(record.version) },
      origin: { N: String(originVersion) },
      rev: { S: randomUUID() },
      h: { B: header },
      updated: { N: String(this.now()) },
      vsk: { S: sortKey(record.version, record.id) },
      osk: { S: sortKey(originVersion, record.id) },
    };
    if (body.length > 0) item.b = { B: body };
    const size = itemSize(item);
    if (size > MAX_ITEM_BYTES) {
      throw new ValidationError(`record '${record.id}' is ${size} bytes as a DynamoDB item, above DynamoDB's limit of ${MAX_ITEM_BYTES} bytes`);
    }
    return item;
  }

  private condition(expected: string | null | undefined): Pick<PutItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
    if (expected === undefined) return {};
    if (expected === null) return { ConditionExpression: 'attribute_not_exists(#id)', ExpressionAttributeNames: names('#id') };
    return { ConditionExpression: '#rev = :r', ExpressionAttributeNames: names('#rev'), ExpressionAttributeValues: { ':r': { S: expected } } };
  }

  private conflict(id: string, expected: string | null | undefined): ConflictError {
    return new ConflictError(expected === null ? `record '${id}' already exists` : `record '${id}' changed since revision ${String(expected)}`);
  }

  /** A read of the reader (replica or primary): its failures name the table read. */
  private async read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(err, what, this.reader.table);
    }
  }

  /**
   * The store's error for an SDK failure: DynamoDB's ValidationException (a request DynamoDB
   * will never accept, e.g. an update that makes an item too large) is a ValidationError, not
   * retried; the rest as every AWS adapter maps them (throttling, denial, BackendError).
   */
  private failure(err: unknown, what: string, table: string = this.table): RekeyError {
    if (isRekeyError(err)) return err;
    const resource = `dynamodb://${table}/${what}`;
    if (awsErrorCode(err) === 'ValidationException') return new ValidationError(`DynamoDB refused the request for ${resource} (ValidationException)`, { cause: err });
    return mapAwsError(err, { resource });
  }
}
