/**
 * The reencrypt function's DynamoDB segment event (shared/vocabulary/event-schemas.ts): what the
 * sweep state machine's ItemSelector builds and what the worker echoes back with a cursor.
 */
import { reencryptFunctionEventSchema, segmentEventSchema, tableSweepInput, MAX_TABLE_SEGMENTS } from '../../../shared/vocabulary/event-schemas';

const GOOD = { keyring: 'pii', table: 'app-records', mode: 'rewrap', segment: 3, totalSegments: 8 };

describe('segmentEventSchema', () => {
  it.each([
    ['a first page', GOOD],
    ['a resumed page with counts', { ...GOOD, cursor: 'eyJpZCI6eyJTIjoiYSJ9fQ', counts: { done: 4, skipped: 1, failed: 0 } }],
    ['a reencrypt of one version', { ...GOOD, mode: 'reencrypt', version: 2 }],
    ['the last segment of the most', { ...GOOD, segment: MAX_TABLE_SEGMENTS - 1, totalSegments: MAX_TABLE_SEGMENTS }],
  ])('accepts %s', (_what, event) => {
    expect(segmentEventSchema.safeParse(event)).toMatchObject({ success: true, data: event });
  });

  it.each([
    ['a segment at totalSegments', { ...GOOD, segment: 8 }, 'segment'],
    ['a negative segment', { ...GOOD, segment: -1 }, 'segment'],
    ['too many segments', { ...GOOD, totalSegments: MAX_TABLE_SEGMENTS + 1 }, 'totalSegments'],
    ['a fractional segment', { ...GOOD, segment: 1.5 }, 'segment'],
    ['a reencrypt without version', { ...GOOD, mode: 'reencrypt' }, 'version'],
    ['an unknown mode', { ...GOOD, mode: 'shred' }, 'mode'],
    ['a bad table name', { ...GOOD, table: 'a b' }, 'table'],
    ['a cursor that is not base64url', { ...GOOD, cursor: 'not/base64+' }, 'cursor'],
    ['an empty cursor', { ...GOOD, cursor: '' }, 'cursor'],
    ['an oversized cursor', { ...GOOD, cursor: 'A'.repeat(4097) }, 'cursor'],
    ['negative counts', { ...GOOD, counts: { done: -1, skipped: 0, failed: 0 } }, 'counts'],
    ['an unknown field', { ...GOOD, bucket: 'b' }, ''],
    ['a bad keyring', { ...GOOD, keyring: '' }, 'keyring'],
  ])('refuses %s', (_what, event, field) => {
    const r = segmentEventSchema.safeParse(event);
    expect(r.success).toBe(false);
    if (field !== '') expect(r.error?.issues.map((i) => i.path[0])).toContain(field);
  });

  it('is one of the reencrypt function events, and an S3 batch still parses as before', () => {
    expect(reencryptFunctionEventSchema.safeParse(GOOD).success).toBe(true);
    const batch = { BatchInput: { keyring: 'pii', bucket: 'records', prefix: 'p/', mode: 'rewrap' }, Items: [{ Key: 'p/r1' }] };
    expect(reencryptFunctionEventSchema.safeParse(batch)).toMatchObject({ success: true, data: batch });
  });

  it('the execution input lists every segment once, and each item it selects parses', () => {
    const input = tableSweepInput({ keyring: 'pii', table: 'app-records', segments: 5 }, 'reencrypt', 3);
    expect(new Set(input.segments).size).toBe(input.totalSegments);
    for (const segment of input.segments) {
      expect(segmentEventSchema.safeParse({ keyring: input.keyring, table: input.table, mode: input.mode, version: input.version, segment, totalSegments: input.totalSegments }).success).toBe(true);
    }
  });
});
