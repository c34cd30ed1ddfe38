/**
 * DynamoDbRecordStore against moto_server's DynamoDB: the shared record-store contract, then
 * what is particular to DynamoDB (the index definition, skip-scan counts, cursors, the 400 KB
 * item limit, BatchGetItem paging, parallel-scan segments, header-only updates, races).
 *
 * AWS behaviour relied on, from the DynamoDB documentation:
 * - Query pagination: a LastEvaluatedKey goes back as ExclusiveStartKey, and a non-empty one
 *   does not mean more data (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html).
 * - Parallel scan: Segment is zero-based and below TotalSegments, and a segment's
 *   LastEvaluatedKey is used with the same segment
 *   (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/dynamodb/aws.sdk.kotlin.services.dynamodb.model/-scan-request/segment.html).
 * - BatchGetItem: at most 100 keys a call, more is a ValidationException, partial results come
 *   back in UnprocessedKeys
 *   (https://docs.aws.amazon.com/sdkfornet/latest/apidocs/items/MDynamoDBv2DynamoDBBatchGetItemBatchGetItemRequestNET45.html).
 * - Item size: the sum of attribute name and value lengths, binary counted by raw bytes, at
 *   most 400 KB (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html).
 */
import { DescribeTableCommand, DynamoDBServiceException, ProvisionedThroughputExceededException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbRecordStore, MAX_ITEM_BYTES } from '../../../shared/adapters/aws/dynamodb-record-store';
import { ORIGIN_INDEX, RECORD_TABLE_DEFINITION, VERSION_INDEX } from '../../../shared/adapters/aws/dynamodb-record-table';
import { parseHeader } from '../../../shared/envelope/format';
import { AccessDeniedError, BackendError, ConflictError, ThrottledError, ValidationError } from '../../../shared/errors';
import { withHeaderRewrap } from '../../../shared/reencrypt';
import { describeRecordStoreContract } from '../../support/record-store-contract';
import { openDynamoDbContractStore } from '../../support/stores/dynamodb';
import { startSerialMoto, type SerialMoto } from '../../support/services';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

// A moto_server of this file's own that serves one request at a time: the shared, threaded one
// lets two conditional writes on one item both pass (see test/support/stores/dynamodb.ts), which
// DynamoDB never does, and the races below and in the contract would then test moto, not the store.
let moto: SerialMoto;
beforeAll(async () => {
  moto = await startSerialMoto();
});
afterAll(async () => {
  await moto.stop();
});
const open = (): ReturnType<typeof openDynamoDbContractStore> => openDynamoDbContractStore({ endpoint: moto.endpoint });

describeRecordStoreContract('DynamoDbRecordStore', open);

interface Sent {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/** Records every command the client sends (name and input), before serialization. */
function capture(client: DynamoDBClient, name: string): Sent[] {
  const sent: Sent[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name },
  );
  return sent;
}

const idOf = (i: number): string => `rec-${String(i).padStart(4, '0')}`;

describe('DynamoDbRecordStore (moto)', () => {
  let stack: LocalStack;
  let h: Awaited<ReturnType<typeof openDynamoDbContractStore>>;
  let sent: Sent[];

  beforeAll(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
    await stack.createKeyring('other');
  });
  afterAll(() => stack.close());
  beforeEach(async () => {
    h = await open();
    sent = capture(h.client, 'capture-test');
  });
  afterEach(async () => {
    await h.close();
  });

  const activeOf = async (keyring: string): Promise<number> => (await stack.keyrings.get(keyring)).versions.find((v) => v.state === 'active')!.version;

  /** Writes `n` records of `keyring` under its active version in one batch; returns their ids. */
  async function seed(keyring: string, from: number, n: number, payload = (i: number): Buffer => Buffer.from(`value ${i}`)): Promise<string[]> {
    const version = await activeOf(keyring);
    const writes = await Promise.all(
      Array.from({ length: n }, async (_, k) => ({
        write: { id: idOf(from + k), keyring, version, envelope: await stack.envelopes.encrypt(keyring, payload(from + k)) },
        expectedRevision: null,
      })),
    );
    const outcomes = await h.store.putBatch(writes);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    return writes.map((w) => w.write.id);
  }

  describe('the table', () => {
    it('has both indexes of RECORD_TABLE_DEFINITION, projecting ver, origin and rev and never the envelope', async () => {
      // Act
      const { Table: table } = await h.client.send(new DescribeTableCommand({ TableName: h.tableName }));
      // Assess
      const indexes = new Map((table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i]));
      expect([...indexes.keys()].sort()).toEqual([ORIGIN_INDEX, VERSION_INDEX].sort());
      for (const wanted of RECORD_TABLE_DEFINITION.GlobalSecondaryIndexes ?? []) {
        const got = indexes.get(wanted.IndexName);
        expect(got?.KeySchema).toEqual(wanted.KeySchema);
        expect(got?.Projection?.ProjectionType).toBe('INCLUDE');
        expect([...(got?.Projection?.NonKeyAttributes ?? [])].sort()).toEqual(['origin', 'rev', 'ver']);
      }
      expect(table?.KeySchema).toEqual(RECORD_TABLE_DEFINITION.KeySchema);
      expect(table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
    });
  });

  describe('countByVersion and countByOrigin', () => {
    it('counts from the indexes, never a table Scan, across versions with gaps (v1, v3, v7)', async () => {
      // Prepare: records under v1, v3 and v7 of a fresh keyring; none under the versions between.
      await stack.createKeyring('gaps');
      const written = new Map<number, number>();
      const sizes: Record<number, number> = { 1: 5, 3: 12, 7: 3 };
      let next = 0;
      for (;;) {
        const v = await activeOf('gaps');
        const n = sizes[v];
        if (n !== undefined) {
          await seed('gaps', next, n);
          next += n;
          written.set(v, n);
        }
        if (v >= 7) break;
        await stack.rotateAndPromote('gaps');
      }
      await seed('other', 5000, 2);
      sent.length = 0;
      // Act
      const byVersion = await h.store.countByVersion('gaps');
      const byOrigin = await h.store.countByOrigin('gaps');
      const none = await h.store.countByVersion('absent');
      // Assess
      expect([...written.keys()]).toEqual([1, 3, 7]);
      expect(byVersion).toEqual(written);
      expect(byOrigin).toEqual(written);
      expect(none).toEqual(new Map());
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.every((s) => s.command === 'QueryCommand' && [VERSION_INDEX, ORIGIN_INDEX].includes(s.input.IndexName as string))).toBe(true);
    });

    it('counts a re-wrapped record under its new version and its old origin', async () => {
      // Prepare
      await stack.createKeyring('moved');
      const [id] = await seed('moved', 0, 1);
      const from = await activeOf('moved');
      const to = await stack.rotateAndPromote('moved');
      const header = (await h.store.getHeader(id as string))!;
      const next = await withHeaderRewrap(stack.envelopes, stack.provider).rewrapHeader(header.header);
      // Act
      const [outcome] = await h.store.putHeaders([{ write: { id: id as string, keyring: 'moved', version: next.version, header: next.header }, expectedRevision: header.revision }]);
      // Assess
      expect(outcome?.ok).toBe(true);
      expect(await h.store.countByVersion('moved')).toEqual(new Map([[to, 1]]));
      expect(await h.store.countByOrigin('moved')).toEqual(new Map([[from, 1]]));
    });
  });

  describe('cursors', () => {
    it('pages a scan with cursors and refuses a cursor that is malformed, too long or from another query', async () => {
      // Prepare
      await seed('pii', 0, 6);
      await seed('other', 100, 3);
      const v = await activeOf('pii');
      const vo = await activeOf('other');
      const first = await h.store.scanByVersion('pii', v, { limit: 2 });
      const otherPage = await h.store.scanByVersion('other', vo, { limit: 1 });
      const originPage = await h.store.scanByOrigin('pii', v, { limit: 2 });
      const cursor = first.cursor as string;
      const forged = Buffer.from(JSON.stringify({ id: 'x', keyring: 'pii', vsk: 'not-a-key' })).toString('base64url');
      const extra = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(cursor, 'base64url').toString()), more: 'x' })).toString('base64url');
      // Act
      const second = await h.peer.scanByVersion('pii', v, { limit: 2, cursor });
      // Assess
      expect(first.items).toHaveLength(2);
      expect(second.items.map((r) => r.id)).not.toContain(first.items[0]?.id);
      const refuse = (p: Promise<unknown>): Promise<void> => expect(p).rejects.toBeInstanceOf(ValidationError);
      await refuse(h.store.scanByVersion('pii', v, { limit: 2, cursor: '%%%' }));
      await refuse(h.store.scanByVersion('pii', v, { limit: 2, cursor: 'A'.repeat(5000) }));
      await refuse(h.store.scanByVersion('pii', v, { limit: 2, cursor: Buffer.from('not json').toString('base64url') }));
      await refuse(h.store.scanByVersion('pii', v, { limit: 2, cursor: forged }));
      await refuse(h.store.scanByVersion('pii', v, { limit: 2, cursor: extra }));
      await refuse(h.store.scanByVersion('pii', v + 1, { limit: 2, cursor }));
      await refuse(h.store.scanByVersion('pii', v, { limit: 2, cursor: otherPage.cursor as string }));
      await refuse(h.store.scanByVersion('pii', v, { limit: 2, cursor: originPage.cursor as string }));
      await refuse(h.store.scanByOrigin('pii', v, { limit: 2, cursor }));
      await refuse(h.store.scanByVersion('pii', v, { limit: 0 }));
    });
  });

  describe('item size', () => {
    it('refuses a record above DynamoDB\'s 400 KB item limit with a ValidationError before any call, and stores one below it', async () => {
      // Prepare
      const v = await activeOf('pii');
      const big = await stack.envelopes.encrypt('pii', Buffer.alloc(MAX_ITEM_BYTES, 7));
      const fits = await stack.envelopes.encrypt('pii', Buffer.alloc(300 * 1024, 7));
      sent.length = 0;
      // Act
      const refused = h.store.put({ id: 'big', keyring: 'pii', version: v, envelope: big }, null);
      const batch = h.store.putBatch([{ write: { id: 'big', keyring: 'pii', version: v, envelope: big }, expectedRevision: null }]);
      // Assess
      await expect(refused).rejects.toBeInstanceOf(ValidationError);
      await expect(batch).rejects.toBeInstanceOf(ValidationError);
      expect(sent).toEqual([]);
      await h.store.put({ id: 'fits', keyring: 'pii', version: v, envelope: fits }, null);
      expect((await h.store.get('fits'))?.envelope.equals(fits)).toBe(true);
      expect(await h.store.get('big')).toBeUndefined();
    });
  });

  describe('getHeaders', () => {
    it('reads more than 100 headers in BatchGetItem calls of at most 100 keys, without bodies, aligned with the ids asked', async () => {
      // Prepare
      const ids = await seed('pii', 0, 230);
      const asked = [...ids, 'absent-1', ids[3] as string, 'absent-2'];
      sent.length = 0;
      // Act
      const headers = await h.store.getHeaders(asked);
      // Assess
      const calls = sent.filter((s) => s.command === 'BatchGetItemCommand');
      expect(calls.length).toBeGreaterThanOrEqual(3);
      for (const call of calls) {
        const request = (call.input.RequestItems as Record<string, { Keys: unknown[]; ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> }>)[h.tableName]!;
        expect(request.Keys.length).toBeLessThanOrEqual(100);
        expect(Object.values(request.ExpressionAttributeNames)).not.toContain('b');
      }
      expect(headers).toHaveLength(asked.length);
      expect(headers[ids.length]).toBeUndefined();
      expect(headers[ids.length + 2]).toBeUndefined();
      expect(headers[ids.length + 1]).toEqual(headers[3]);
      for (const [i, id] of ids.entries()) {
        const record = (await h.peer.get(id))!;
        const header = headers[i]!;
        expect(header.id).toBe(id);
        expect(header.revision).toBe(record.revision);
        expect(header.header.equals(record.envelope.subarray(0, parseHeader(record.envelope).headerLength))).toBe(true);
      }
    });
  });

  describe('getHeaders with keys left unprocessed', () => {
    it('retries the keys DynamoDB returns in UnprocessedKeys until every header is read', async () => {
      // Prepare: the first BatchGetItem reaches moto with 10 of its keys only, and answers the
      // others as UnprocessedKeys, as DynamoDB does when throttled or past 16 MB.
      const ids = await seed('pii', 0, 40);
      let calls = 0;
      h.client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== 'BatchGetItemCommand' || calls++ > 0) return next(args);
          const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
          const request = input.RequestItems[h.tableName]!;
          const out = await next({ ...args, input: { RequestItems: { [h.tableName]: { ...request, Keys: request.Keys.slice(0, 10) } } } });
          (out.output as { UnprocessedKeys?: unknown }).UnprocessedKeys = { [h.tableName]: { ...request, Keys: request.Keys.slice(10) } };
          return out;
        },
        { step: 'initialize', name: 'unprocessed-keys' },
      );
      // Act
      const headers = await h.store.getHeaders(ids);
      // Assess
      expect(calls).toBeGreaterThan(1);
      expect(headers.map((hd) => hd?.id)).toEqual(ids);
    });
  });

  describe('scanSegment', () => {
    it('covers every record of the keyring exactly once across parallel-scan segments, with the filters applied', async () => {
      // Prepare: 40 pii under one version, 25 under the next, 10 of another keyring.
      const old = await seed('pii', 0, 40);
      const oldVersion = await activeOf('pii');
      const fresh = await (async () => {
        await stack.rotateAndPromote('pii');
        return seed('pii', 1000, 25);
      })();
      const newVersion = await activeOf('pii');
      await seed('other', 2000, 10);
      const segments = 4;
      const scanAll = async (options: { belowVersion?: number; originAtMost?: number }): Promise<{ ids: string[]; pages: number; segmentsWithItems: number }> => {
        const ids: string[] = [];
        let pages = 0;
        const withItems = new Set<number>();
        await Promise.all(
          Array.from({ length: segments }, async (_, segment) => {
            let cursor: string | undefined;
            do {
              const page = await (segment % 2 === 0 ? h.store : h.peer).scanSegment('pii', { segment, totalSegments: segments, limit: 7, ...options, ...(cursor === undefined ? {} : { cursor }) });
              for (const r of page.items) {
                withItems.add(segment);
                expect(r.keyring).toBe('pii');
                ids.push(r.id);
              }
              cursor = page.cursor;
              pages += 1;
            } while (cursor !== undefined);
          }),
        );
        return { ids, pages, segmentsWithItems: withItems.size };
      };
      // Act
      const all = await scanAll({});
      const below = await scanAll({ belowVersion: newVersion });
      const byOrigin = await scanAll({ originAtMost: oldVersion });
      // Assess
      expect(all.ids.sort()).toEqual([...old, ...fresh].sort());
      expect(all.pages).toBeGreaterThan(segments);
      // The work is really split: more than one segment returned records.
      expect(all.segmentsWithItems).toBeGreaterThan(1);
      expect(below.ids.sort()).toEqual([...old].sort());
      expect(byOrigin.ids.sort()).toEqual([...old].sort());
      await expect(h.store.scanSegment('pii', { segment: segments, totalSegments: segments, limit: 5 })).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('putHeaders', () => {
    it('sends only the header in each UpdateItem, never the body, and keeps the body byte-identical', async () => {
      // Prepare
      const ids = await seed('pii', 0, 3, (i) => Buffer.alloc(64 * 1024, i));
      const before = await Promise.all(ids.map(async (id) => (await h.store.get(id))!));
      const headers = await h.store.getHeaders(ids);
      await stack.rotateAndPromote('pii');
      const envelopes = withHeaderRewrap(stack.envelopes, stack.provider);
      const writes = await Promise.all(
        headers.map(async (hd) => {
          const next = await envelopes.rewrapHeader(hd!.header);
          return { write: { id: hd!.id, keyring: hd!.keyring, version: next.version, header: next.header }, expectedRevision: hd!.revision };
        }),
      );
      sent.length = 0;
      // Act
      const outcomes = await h.store.putHeaders(writes);
      // Assess
      expect(outcomes.every((o) => o.ok)).toBe(true);
      const updates = sent.filter((s) => s.command === 'UpdateItemCommand');
      expect(updates).toHaveLength(ids.length);
      expect(sent.filter((s) => s.command !== 'UpdateItemCommand')).toEqual([]);
      for (const [i, update] of updates.entries()) {
        const input = update.input as { UpdateExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, { B?: Uint8Array }> };
        expect(Object.values(input.ExpressionAttributeNames)).not.toContain('b');
        const binaryBytes = Object.values(input.ExpressionAttributeValues).reduce((n, v) => n + (v.B?.length ?? 0), 0);
        const write = writes.find((w) => w.write.id === (update.input.Key as { id: { S: string } }).id.S)!;
        expect(binaryBytes).toBe(write.write.header.length);
        const b = before[i]!;
        const after = (await h.peer.get(b.id))!;
        const oldLen = parseHeader(b.envelope).headerLength;
        const newLen = parseHeader(after.envelope).headerLength;
        expect(after.envelope.subarray(newLen).equals(b.envelope.subarray(oldLen))).toBe(true);
      }
    });

    it('refuses a header whose keyring or version the caller misstates, before any call', async () => {
      // Prepare
      const [id] = await seed('pii', 0, 1);
      const hd = (await h.store.getHeader(id as string))!;
      sent.length = 0;
      // Act
      const attempt = h.store.putHeaders([{ write: { id: hd.id, keyring: 'other', version: hd.version, header: hd.header }, expectedRevision: hd.revision }]);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(sent).toEqual([]);
    });
  });

  describe('races', () => {
    it('lets exactly one of two stores with their own clients win a put at the same expected revision', async () => {
      // Prepare
      const v = await activeOf('pii');
      const base = await h.store.put({ id: 'race', keyring: 'pii', version: v, envelope: await stack.envelopes.encrypt('pii', Buffer.from('base')) }, null);
      const mine = await stack.envelopes.encrypt('pii', Buffer.from('mine'));
      const theirs = await stack.envelopes.encrypt('pii', Buffer.from('theirs'));
      // Act
      const settled = await Promise.allSettled([
        h.store.put({ id: 'race', keyring: 'pii', version: v, envelope: mine }, base),
        h.peer.put({ id: 'race', keyring: 'pii', version: v, envelope: theirs }, base),
      ]);
      // Assess
      const won = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      const lost = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      expect(lost?.reason).toBeInstanceOf(ConflictError);
      const stored = (await h.store.get('race'))!;
      expect(stored.envelope.equals(won[0] === 0 ? mine : theirs)).toBe(true);
      expect(stored.revision).toBe((settled[won[0] as number] as PromiseFulfilledResult<string>).value);
    });

    it('lets exactly one of a header-only re-wrap and an application write at the same revision win', async () => {
      // Prepare
      const [id] = await seed('pii', 0, 1);
      const hd = (await h.store.getHeader(id as string))!;
      const v2 = await stack.rotateAndPromote('pii');
      const next = await withHeaderRewrap(stack.envelopes, stack.provider).rewrapHeader(hd.header);
      const app = await stack.envelopes.encrypt('pii', Buffer.from('app write'));
      // Act
      const [rewrap, write] = await Promise.allSettled([
        h.store.putHeaders([{ write: { id: hd.id, keyring: 'pii', version: next.version, header: next.header }, expectedRevision: hd.revision }]),
        h.peer.put({ id: hd.id, keyring: 'pii', version: v2, envelope: app }, hd.revision),
      ]);
      // Assess
      expect(rewrap?.status).toBe('fulfilled');
      const rewrapWon = rewrap?.status === 'fulfilled' && rewrap.value[0]?.ok === true;
      const writeWon = write?.status === 'fulfilled';
      expect(Number(rewrapWon) + Number(writeWon)).toBe(1);
      if (!writeWon) expect((write as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      const stored = (await h.store.get(hd.id))!;
      if (writeWon) expect(stored.envelope.equals(app)).toBe(true);
      else expect(stored.envelope.subarray(0, parseHeader(stored.envelope).headerLength).equals(next.header)).toBe(true);
    });
  });

  describe('errors', () => {
    it('maps DynamoDB throttling to ThrottledError and a refusal to AccessDeniedError', async () => {
      // Prepare: the service's answers, injected before the request leaves the client.
      const answers = [
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }),
        new DynamoDBServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'no', $metadata: { httpStatusCode: 400 } }),
      ];
      h.client.middlewareStack.add(
        (next) => async (args) => {
          const answer = answers.shift();
          if (answer === undefined) return next(args);
          throw answer;
        },
        { step: 'initialize', name: 'refuse' },
      );
      // Act / Assess
      await expect(h.store.get('any')).rejects.toBeInstanceOf(ThrottledError);
      await expect(h.store.scanByVersion('pii', 1, { limit: 1 })).rejects.toBeInstanceOf(AccessDeniedError);
    });

    it('maps a missing table to a BackendError and refuses a revision this store never issued', async () => {
      // Prepare
      const lost = new DynamoDbRecordStore({ client: h.client, tableName: `${h.tableName}-absent` });
      const v = await activeOf('pii');
      const envelope = await stack.envelopes.encrypt('pii', Buffer.from('x'));
      // Act / Assess
      await expect(lost.get('any')).rejects.toBeInstanceOf(BackendError);
      await expect(h.store.put({ id: 'r', keyring: 'pii', version: v, envelope }, 'not-a-revision')).rejects.toBeInstanceOf(ValidationError);
      await expect(h.store.delete('never-written')).rejects.toThrow(/does not exist/);
    });
  });
});
