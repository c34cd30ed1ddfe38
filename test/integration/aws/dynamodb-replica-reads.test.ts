/**
 * DynamoDbRecordStore with a read replica, against moto_server: reads go to the replica, every
 * write to the primary, and a write made from a stale replica read conflicts there instead of
 * overwriting a newer item.
 *
 * The replica is the same table name in another Region of the same moto_server (moto keeps one
 * backend per Region, as a global table keeps one replica per Region), or another table; moto
 * has no global-table replication, so the test copies items itself, and "lagging" means it has
 * not copied the primary's latest write yet.
 *
 * AWS behaviour relied on, from the DynamoDB documentation:
 * - Global tables (MREC): a write is replicated to the other Regions in the background, usually
 *   within a second and with no SLA on the delay; concurrent writes to one item in two Regions
 *   are settled by last writer wins on a timestamp, unlogged
 *   (https://docs.aws.amazon.com/prescriptive-guidance/latest/dynamodb-global-tables/overview.html).
 * - Conditional expressions need all writes routed to one Region (the one with the latest
 *   data); eventually consistent reads may go to any replica
 *   (https://docs.aws.amazon.com/prescriptive-guidance/latest/dynamodb-global-tables/write-to-one-region.html).
 * - GetItem/BatchGetItem read eventually consistent unless ConsistentRead is true; GSI reads are
 *   always eventually consistent
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteItemCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbRecordStore } from '../../../shared/adapters/aws/dynamodb-record-store';
import { createRecordTable } from '../../../shared/adapters/aws/dynamodb-record-table';
import { ConflictError, ValidationError } from '../../../shared/errors';
import { withHeaderRewrap } from '../../../shared/reencrypt';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

function motoClient(region: string): DynamoDBClient {
  const endpoint = process.env.REKEY_TEST_MOTO_URL;
  if (endpoint === undefined) throw new Error('REKEY_TEST_MOTO_URL is not set: run through jest (globalSetup starts moto_server)');
  return new DynamoDBClient({ endpoint, region, credentials, maxAttempts: 1 });
}

interface Sent {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/** Records every command the client sends (name and input), before serialization. */
function capture(client: DynamoDBClient): Sent[] {
  const sent: Sent[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: 'capture-replica-test' },
  );
  return sent;
}

const READS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand']);

type Item = Record<string, AttributeValue>;

describe('DynamoDbRecordStore with a read replica (moto)', () => {
  let stack: LocalStack;
  let primaryClient: DynamoDBClient;
  let replicaClient: DynamoDBClient;
  let tableName: string;
  /** The store under test: reads the replica (eu-west-1), writes the primary (us-east-1). */
  let store: DynamoDbRecordStore;
  /** A store of the primary alone, for the writes of "the rest of the world". */
  let primary: DynamoDbRecordStore;
  let primarySent: Sent[];
  let replicaSent: Sent[];
  // The test's own clients of the two Regions (table setup, raw reads, "replication"), apart
  // from the store's so that what the store sends is all that is captured.
  let primaryRaw: DynamoDBClient;
  let replicaRaw: DynamoDBClient;

  beforeAll(() => {
    stack = new LocalStack();
  });
  afterAll(() => stack.close());
  beforeEach(async () => {
    primaryClient = motoClient('us-east-1');
    replicaClient = motoClient('eu-west-1');
    primaryRaw = motoClient('us-east-1');
    replicaRaw = motoClient('eu-west-1');
    tableName = `rekey-replica-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    await createRecordTable(primaryRaw, tableName, { pollMs: 50 });
    await createRecordTable(replicaRaw, tableName, { pollMs: 50 });
    store = new DynamoDbRecordStore({ client: primaryClient, tableName, replica: { client: replicaClient } });
    primary = new DynamoDbRecordStore({ client: primaryClient, tableName });
    primarySent = capture(primaryClient);
    replicaSent = capture(replicaClient);
  });
  afterEach(async () => {
    try {
      await primaryRaw.send(new DeleteTableCommand({ TableName: tableName }));
      await replicaRaw.send(new DeleteTableCommand({ TableName: tableName }));
    } finally {
      for (const client of [primaryClient, replicaClient, primaryRaw, replicaRaw]) client.destroy();
    }
  });

  const rawItem = async (client: DynamoDBClient, id: string, table = tableName): Promise<Item | undefined> =>
    (await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }))).Item;

  /** What replication does: the replica's item becomes the primary's current one (or goes). */
  const replicate = async (id: string, client = replicaRaw, table = tableName): Promise<void> => {
    const item = await rawItem(primaryRaw, id);
    if (item === undefined) await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
    else await client.send(new PutItemCommand({ TableName: table, Item: item }));
  };

  const activeOf = async (keyring: string): Promise<number> => (await stack.keyrings.get(keyring)).versions.find((v) => v.state === 'active')!.version;

  let keyrings = 0;
  /** A fresh keyring per test, so that each starts with its records under the keyring's first version. */
  const newKeyring = async (): Promise<string> => {
    keyrings += 1;
    const name = `replica-${keyrings}`;
    await stack.createKeyring(name);
    return name;
  };

  const resetSent = (): void => {
    primarySent.length = 0;
    replicaSent.length = 0;
  };

  describe('lazy re-wrap on read', () => {
    it('decrypts a record read from an in-sync replica under an older version and writes its re-wrap to the primary, not the replica', async () => {
      // Prepare
      const keyring = await newKeyring();
      const plaintext = Buffer.from('in-sync payload');
      const rev1 = await stack.recordService(primary).put('user-1', keyring, plaintext);
      await replicate('user-1');
      const from = await activeOf(keyring);
      const to = await stack.rotateAndPromote(keyring);
      const replicaBefore = await rawItem(replicaRaw, 'user-1');
      resetSent();
      // Act
      const read = await stack.recordService(store).get('user-1');
      const toReplica = replicaSent.map((s) => s.command);
      const toPrimary = primarySent.slice();
      // Assess
      expect(read.plaintext.equals(plaintext)).toBe(true);
      expect(read.version).toBe(from);
      expect(read.rewrap).toBe('rewrapped');
      const onPrimary = (await primary.get('user-1'))!;
      expect(onPrimary.revision).toBe(read.revision);
      expect(onPrimary.revision).not.toBe(rev1);
      expect(onPrimary.version).toBe(to);
      expect(onPrimary.originVersion).toBe(from);
      expect(await rawItem(replicaRaw, 'user-1')).toEqual(replicaBefore);
      expect(toReplica).toEqual(['GetItemCommand']);
      expect(toPrimary.map((s) => s.command)).toEqual(['PutItemCommand']);
      expect(toPrimary[0]?.input.ConditionExpression).toBeDefined();
      expect((await stack.recordService(primary).get('user-1')).plaintext.equals(plaintext)).toBe(true);
    });

    it('decrypts a record read from a lagging replica under an older version; its re-wrap conflicts on the primary, which keeps its newer item', async () => {
      // Prepare: the primary re-wrapped the record (a read there) after the replica last caught up
      const keyring = await newKeyring();
      const plaintext = Buffer.from('lagging payload');
      const rev1 = await stack.recordService(primary).put('user-2', keyring, plaintext);
      await replicate('user-2');
      const from = await activeOf(keyring);
      const to = await stack.rotateAndPromote(keyring);
      const moved = await stack.recordService(primary).get('user-2');
      const primaryBefore = await rawItem(primaryRaw, 'user-2');
      const replicaBefore = await rawItem(replicaRaw, 'user-2');
      resetSent();
      // Act
      const read = await stack.recordService(store).get('user-2');
      const toReplica = replicaSent.map((s) => s.command);
      const toPrimary = primarySent.map((s) => s.command);
      // Assess
      expect(moved.rewrap).toBe('rewrapped');
      expect(replicaBefore?.rev?.S).toBe(rev1);
      expect(read.plaintext.equals(plaintext)).toBe(true);
      expect(read.version).toBe(from);
      expect(read.rewrap).toBe('conflict');
      expect(read.revision).toBe(rev1);
      expect(await rawItem(primaryRaw, 'user-2')).toEqual(primaryBefore);
      expect((await primary.getHeader('user-2'))?.version).toBe(to);
      expect(await rawItem(replicaRaw, 'user-2')).toEqual(replicaBefore);
      expect(toReplica).toEqual(['GetItemCommand']);
      expect(toPrimary).toEqual(['PutItemCommand']);
    });
  });

  describe('header-only re-wrap from replica headers', () => {
    it('re-wraps the in-sync record on the primary, conflicts on the lagging one, and never writes the replica', async () => {
      // Prepare: both records replicated under the first version; then the primary's copy of
      // "behind" is rewritten by an application write the replica has not seen yet
      const keyring = await newKeyring();
      const service = stack.recordService(primary);
      await service.put('in-sync', keyring, Buffer.from('a'));
      await service.put('behind', keyring, Buffer.from('b'));
      await replicate('in-sync');
      await replicate('behind');
      const from = await activeOf(keyring);
      const appRevision = await service.put('behind', keyring, Buffer.from('b, edited'));
      const to = await stack.rotateAndPromote(keyring);
      const behindOnPrimary = await rawItem(primaryRaw, 'behind');
      const replicaBefore = [await rawItem(replicaRaw, 'in-sync'), await rawItem(replicaRaw, 'behind')];
      const envelopes = withHeaderRewrap(stack.envelopes, stack.provider);
      resetSent();
      // Act
      const headers = await store.getHeaders(['in-sync', 'behind']);
      const writes = await Promise.all(
        headers.map(async (hd) => {
          const next = await envelopes.rewrapHeader(hd!.header);
          return { write: { id: hd!.id, keyring: hd!.keyring, version: next.version, header: next.header }, expectedRevision: hd!.revision };
        }),
      );
      const outcomes = await store.putHeaders(writes);
      const toReplica = replicaSent.map((s) => s.command);
      const toPrimary = primarySent.map((s) => s.command);
      // Assess
      expect(headers.map((hd) => hd?.version)).toEqual([from, from]);
      expect(outcomes[0]?.ok).toBe(true);
      expect(outcomes[1]).toEqual({ ok: false, reason: 'conflict' });
      const inSync = (await primary.getHeader('in-sync'))!;
      expect(inSync.revision).toBe(outcomes[0]?.ok === true ? outcomes[0].revision : 'none');
      expect(inSync.version).toBe(to);
      expect(await rawItem(primaryRaw, 'behind')).toEqual(behindOnPrimary);
      expect(behindOnPrimary?.rev?.S).toBe(appRevision);
      expect([await rawItem(replicaRaw, 'in-sync'), await rawItem(replicaRaw, 'behind')]).toEqual(replicaBefore);
      expect(toReplica).toEqual(['BatchGetItemCommand']);
      expect(toPrimary).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
      const service2 = stack.recordService(primary);
      expect((await service2.get('in-sync')).plaintext.toString()).toBe('a');
      expect((await service2.get('behind')).plaintext.toString()).toBe('b, edited');
    });
  });

  describe('writes from a stale replica read', () => {
    it('never overwrite a newer primary item, never bring a deleted record back, never replace one the replica lacks', async () => {
      // Prepare: "newer" moved on the primary, "deleted" is gone from it, "fresh" is not replicated yet
      const keyring = await newKeyring();
      const service = stack.recordService(primary);
      await service.put('newer', keyring, Buffer.from('v1 of newer'));
      await service.put('deleted', keyring, Buffer.from('soon deleted'));
      await replicate('newer');
      await replicate('deleted');
      await service.put('newer', keyring, Buffer.from('v2 of newer'));
      await primary.delete('deleted');
      await service.put('fresh', keyring, Buffer.from('not replicated'));
      const staleNewer = (await store.get('newer'))!;
      const staleDeleted = (await store.get('deleted'))!;
      const absentFresh = await store.get('fresh');
      const primaryNewer = await rawItem(primaryRaw, 'newer');
      const primaryFresh = await rawItem(primaryRaw, 'fresh');
      const replicaBefore = [await rawItem(replicaRaw, 'newer'), await rawItem(replicaRaw, 'deleted'), await rawItem(replicaRaw, 'fresh')];
      const write = (id: string, envelope: Buffer): { id: string; keyring: string; version: number; envelope: Buffer } => ({ id, keyring, version: staleNewer.version, envelope });
      // Act
      const put = await store.put(write('newer', staleNewer.envelope), staleNewer.revision).catch((err: unknown) => err);
      const resurrect = await store.put(write('deleted', staleDeleted.envelope), staleDeleted.revision).catch((err: unknown) => err);
      const create = await store.put(write('fresh', staleNewer.envelope), null).catch((err: unknown) => err);
      const remove = await store.delete('newer', staleNewer.revision).catch((err: unknown) => err);
      const batch = await store.putBatch([
        { write: write('newer', staleNewer.envelope), expectedRevision: staleNewer.revision },
        { write: write('deleted', staleDeleted.envelope), expectedRevision: staleDeleted.revision },
        { write: write('fresh', staleNewer.envelope), expectedRevision: null },
      ]);
      const headers = await store.putHeaders([
        { write: { id: 'deleted', keyring, version: staleDeleted.version, header: staleDeleted.envelope }, expectedRevision: staleDeleted.revision },
      ]);
      const replicaWrites = replicaSent.filter((s) => !READS.has(s.command));
      // Assess
      expect(absentFresh).toBeUndefined();
      expect(put).toBeInstanceOf(ConflictError);
      expect(resurrect).toBeInstanceOf(ConflictError);
      expect(create).toBeInstanceOf(ConflictError);
      expect(remove).toBeInstanceOf(ConflictError);
      expect(batch).toEqual([{ ok: false, reason: 'conflict' }, { ok: false, reason: 'conflict' }, { ok: false, reason: 'conflict' }]);
      expect(headers).toEqual([{ ok: false, reason: 'conflict' }]);
      expect(await rawItem(primaryRaw, 'newer')).toEqual(primaryNewer);
      expect(await rawItem(primaryRaw, 'deleted')).toBeUndefined();
      expect(await rawItem(primaryRaw, 'fresh')).toEqual(primaryFresh);
      expect([await rawItem(replicaRaw, 'newer'), await rawItem(replicaRaw, 'deleted'), await rawItem(replicaRaw, 'fresh')]).toEqual(replicaBefore);
      expect(replicaWrites).toEqual([]);
      expect((await service.get('newer')).plaintext.toString()).toBe('v2 of newer');
    });

    it('succeed on the primary once the replica has caught up', async () => {
      // Prepare
      const keyring = await newKeyring();
      const service = stack.recordService(primary);
      await service.put('x', keyring, Buffer.from('one'));
      await replicate('x');
      await service.put('x', keyring, Buffer.from('two'));
      const stale = (await store.getHeader('x'))!;
      await replicate('x');
      const caughtUp = (await store.getHeader('x'))!;
      const replicaBefore = await rawItem(replicaRaw, 'x');
      // Act
      const [outStale] = await store.putHeaders([{ write: { id: 'x', keyring, version: stale.version, header: stale.header }, expectedRevision: stale.revision }]);
      const [outFresh] = await store.putHeaders([{ write: { id: 'x', keyring, version: caughtUp.version, header: caughtUp.header }, expectedRevision: caughtUp.revision }]);
      // Assess
      expect(outStale).toEqual({ ok: false, reason: 'conflict' });
      expect(outFresh?.ok).toBe(true);
      expect((await primary.getHeader('x'))?.revision).toBe(outFresh?.ok === true ? outFresh.revision : 'none');
      expect(await rawItem(replicaRaw, 'x')).toEqual(replicaBefore);
      expect((await service.get('x')).plaintext.toString()).toBe('two');
    });
  });

  describe('a header-only sweep reading a lagging replica', () => {
    it('skips the record whose replica copy is stale, keeps the primary\'s newer write, and finishes once the replica catches up', async () => {
      // Prepare: three records replicated under the first version; the application then edits
      // "b" on the primary, and replication has not delivered it yet
      const keyring = await newKeyring();
      const service = stack.recordService(primary);
      const ids = ['a', 'b', 'c'];
      for (const id of ids) await service.put(id, keyring, Buffer.from(id));
      for (const id of ids) await replicate(id);
      const from = await activeOf(keyring);
      await service.put('b', keyring, Buffer.from('b, edited'));
      const to = await stack.rotateAndPromote(keyring);
      const editedB = await rawItem(primaryRaw, 'b');
      resetSent();
      // Act
      const first = await stack.sweeper(store).sweep(keyring, from, { mode: 'rewrap', checkpoint: stack.checkpoints });
      const afterFirst = await primary.countByVersion(keyring);
      const bAfterFirst = await rawItem(primaryRaw, 'b');
      const replicaWrites = replicaSent.filter((s) => !READS.has(s.command));
      for (const id of ids) await replicate(id);
      const second = await stack.sweeper(store).sweep(keyring, from, { mode: 'rewrap', checkpoint: stack.checkpoints });
      // Assess
      expect(first.done).toBe(2);
      expect(first.skipped).toBe(1);
      expect(afterFirst).toEqual(new Map([[from, 1], [to, 2]]));
      expect(bAfterFirst).toEqual(editedB);
      expect(replicaWrites).toEqual([]);
      expect(second.done).toBe(1);
      expect(await primary.countByVersion(keyring)).toEqual(new Map([[to, 3]]));
      const read = await Promise.all(ids.map(async (id) => (await service.get(id)).plaintext.toString()));
      expect(read).toEqual(['a', 'b, edited', 'c']);
    });
  });

  describe('scans and counts', () => {
    it('read the replica (another table named by tableName here), withoutReplica() the primary', async () => {
      // Prepare: a replica table in the primary's Region; it saw the three records under the
      // first version, the primary has re-wrapped one since
      const keyring = await newKeyring();
      const replicaTable = `${tableName}-replica`;
      await createRecordTable(primaryRaw, replicaTable, { pollMs: 50 });
      try {
        const onTable = new DynamoDbRecordStore({ client: primaryClient, tableName, replica: { client: primaryClient, tableName: replicaTable } });
        const service = stack.recordService(primary);
        const ids = ['r1', 'r2', 'r3'];
        for (const id of ids) await service.put(id, keyring, Buffer.from(id));
        for (const id of ids) await replicate(id, primaryRaw, replicaTable);
        const from = await activeOf(keyring);
        const to = await stack.rotateAndPromote(keyring);
        await service.get('r1');
        resetSent();
        // Act
        const replicaCounts = await onTable.countByVersion(keyring);
        const replicaOrigins = await onTable.countByOrigin(keyring);
        const replicaScan = await onTable.scanByVersion(keyring, from, { limit: 10 });
        const replicaOriginScan = await onTable.scanByOrigin(keyring, from, { limit: 10 });
        const replicaSegment = await onTable.scanSegment(keyring, { segment: 0, totalSegments: 1, limit: 100, belowVersion: to });
        const replicaReads = primarySent.map((s) => s.input.TableName);
        const primaryCounts = await onTable.withoutReplica().countByVersion(keyring);
        const primarySegment = await onTable.withoutReplica().scanSegment(keyring, { segment: 0, totalSegments: 1, limit: 100, belowVersion: to });
        // Assess
        expect(replicaCounts).toEqual(new Map([[from, 3]]));
        expect(replicaOrigins).toEqual(new Map([[from, 3]]));
        expect(replicaScan.items.map((r) => r.id)).toEqual(ids);
        expect(replicaOriginScan.items.map((r) => r.id)).toEqual(ids);
        expect(replicaSegment.items.map((r) => r.id).sort()).toEqual(ids);
        expect(replicaReads.length).toBeGreaterThan(0);
        expect(replicaReads.every((t) => t === replicaTable)).toBe(true);
        expect(primaryCounts).toEqual(new Map([[from, 2], [to, 1]]));
        expect(primarySegment.items.map((r) => r.id).sort()).toEqual(['r2', 'r3']);
        expect(replicaSent).toEqual([]);
      } finally {
        await primaryRaw.send(new DeleteTableCommand({ TableName: replicaTable }));
      }
    });
  });

  describe('read consistency', () => {
    it('reads the replica eventually consistent by default and strongly consistent with consistentRead; the primary alone strongly consistent', async () => {
      // Prepare
      const keyring = await newKeyring();
      await stack.recordService(primary).put('c', keyring, Buffer.from('c'));
      await replicate('c');
      const strong = new DynamoDbRecordStore({ client: primaryClient, tableName, replica: { client: replicaClient, consistentRead: true } });
      const eventualPrimary = new DynamoDbRecordStore({ client: primaryClient, tableName, replica: { client: primaryClient } });
      const consistency = (sent: Sent[]): unknown[] =>
        sent.map((s) => s.command === 'BatchGetItemCommand'
          ? (s.input.RequestItems as Record<string, { ConsistentRead?: boolean }>)[tableName]?.ConsistentRead
          : s.input.ConsistentRead);
      // Act
      resetSent();
      await store.get('c');
      await store.getHeader('c');
      await store.getHeaders(['c']);
      const byDefault = consistency(replicaSent);
      resetSent();
      await strong.get('c');
      await strong.getHeader('c');
      await strong.getHeaders(['c']);
      const withFlag = consistency(replicaSent);
      resetSent();
      await eventualPrimary.get('c');
      await eventualPrimary.getHeaders(['c']);
      const ofPrimaryEventual = consistency(primarySent);
      resetSent();
      await store.withoutReplica().get('c');
      await store.withoutReplica().getHeaders(['c']);
      const ofPrimary = consistency(primarySent);
      // Assess
      expect(byDefault).toEqual([false, false, false]);
      expect(withFlag).toEqual([true, true, true]);
      expect(ofPrimaryEventual).toEqual([false, false]);
      expect(ofPrimary).toEqual([true, true]);
      expect(replicaSent).toEqual([]);
      expect(primary.withoutReplica()).toBe(primary);
    });

    it('refuses a replica without a client, with an empty table name or a non-boolean consistentRead', () => {
      // Act / Assess
      const make = (replica: unknown) => () => new DynamoDbRecordStore({ client: primaryClient, tableName, replica: replica as never });
      expect(make({})).toThrow(ValidationError);
      expect(make({ client: replicaClient, tableName: '' })).toThrow(ValidationError);
      expect(make({ client: replicaClient, consistentRead: 'yes' })).toThrow(ValidationError);
      expect(make({ client: replicaClient, tableName: 'other' })).not.toThrow();
    });
  });
});
