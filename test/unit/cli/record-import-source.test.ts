import fc from 'fast-check';
import { jsonLinesItems, MAX_IMPORT_LINE_BYTES } from '../../../cli/record-import-source';
import { ValidationError } from '../../../shared/errors';
import type { ImportItem } from '../../../shared/reencrypt/record-service';

/** Everything the parser yields for `chunks`, each item loaded: its plaintext, or the error it fails with. */
async function parse(chunks: Array<Buffer | string>, maxLine?: number): Promise<Array<{ id: string | undefined; label: string; data?: Buffer; error?: unknown }>> {
  const out: Array<{ id: string | undefined; label: string; data?: Buffer; error?: unknown }> = [];
  const items: ImportItem[] = [];
  const input = (async function* () {
    yield* chunks;
  })();
  for await (const item of jsonLinesItems(input, maxLine)) items.push(item);
  for (const item of items) {
    try {
      out.push({ id: item.id, label: item.label, data: await item.load() });
    } catch (error) {
      out.push({ id: item.id, label: item.label, error });
    }
  }
  return out;
}

/** Splits `text` into pieces at the given cut points (sorted, within bounds). */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of at) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out;
}

describe('record import source', () => {
  describe('jsonLinesItems: the two forms', () => {
    it('reads "data" as UTF-8 text and "base64" as bytes, named after their line and id', async () => {
      // Prepare
      const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
      const input = `{"id":"user-1","data":"héllo ✓"}\n{"id":"blob-2","base64":"${bytes.toString('base64')}"}\n`;

      // Act
      const items = await parse([input]);

      // Assess
      expect(items).toEqual([
        { id: 'user-1', label: 'line 1 (user-1)', data: Buffer.from('héllo ✓', 'utf8') },
        { id: 'blob-2', label: 'line 2 (blob-2)', data: bytes },
      ]);
    });

    it('accepts an empty "data" and an empty "base64" as empty records', async () => {
      // Act
      const items = await parse(['{"id":"a","data":""}\n{"id":"b","base64":""}\n']);

      // Assess
      expect(items.map((i) => [i.id, i.data?.length])).toEqual([
        ['a', 0],
        ['b', 0],
      ]);
    });

    it('reads a last line without its newline, and CRLF line ends', async () => {
      // Act
      const items = await parse(['{"id":"a","data":"x"}\r\n{"id":"b","data":"y"}']);

      // Assess
      expect(items.map((i) => [i.id, i.data?.toString()])).toEqual([
        ['a', 'x'],
        ['b', 'y'],
      ]);
    });
  });

  describe('jsonLinesItems: empty lines', () => {
    it('ignores blank and whitespace-only lines but still counts them in the line numbers', async () => {
      // Act
      const items = await parse(['\n  \n{"id":"a","data":"x"}\n\n\t\n{"id":"b","data":"y"}\n\n']);

      // Assess
      expect(items.map((i) => i.label)).toEqual(['line 3 (a)', 'line 6 (b)']);
    });

    it('yields nothing for empty input', async () => {
      // Act / Assess
      expect(await parse([])).toEqual([]);
      expect(await parse(['\n\n'])).toEqual([]);
    });
  });

  describe('jsonLinesItems: bad lines', () => {
    it.each([
      ['not JSON', '{"id":"a","data":"secret-plaintext"', /^line 2 is not JSON; nothing of it was written$/],
      ['an array', '["secret-plaintext"]', /^line 2 is not a JSON object; nothing of it was written$/],
      ['no id', '{"data":"secret-plaintext"}', /^line 2 has no "id" string; nothing of it was written$/],
      ['an empty id', '{"id":"","data":"secret-plaintext"}', /^line 2 has no "id" string/],
      ['both forms', '{"id":"a","data":"secret-plaintext","base64":"AA=="}', /^line 2 needs exactly one of "data" \(UTF-8 text\) or "base64"/],
      ['neither form', '{"id":"a"}', /^line 2 needs exactly one of "data"/],
      ['a number as data', '{"id":"a","data":42}', /^line 2 needs exactly one of "data"/],
      ['bad base64', '{"id":"a","base64":"secret-plaintext!"}', /^line 2 has a "base64" value that is not base64/],
      ['an unknown field', '{"id":"a","data":"x","tenant":"secret-plaintext"}', /^line 2 has unknown field\(s\) "tenant" \(allowed: id, data, base64\)/],
    ])('fails only the line that is %s, naming its number and never its content', async (_name, bad, message) => {
      // Prepare
      const input = `{"id":"ok-1","data":"x"}\n${bad}\n{"id":"ok-3","data":"z"}\n`;

      // Act
      const items = await parse([input]);

      // Assess
      expect(items).toHaveLength(3);
      expect(items[0]?.data?.toString()).toBe('x');
      expect(items[2]?.data?.toString()).toBe('z');
      const failed = items[1];
      expect(failed?.label).toMatch(/^line 2/);
      expect(failed?.error).toBeInstanceOf(ValidationError);
      const text = (failed?.error as Error).message;
      expect(text).toMatch(message);
      expect(text).not.toContain('secret-plaintext');
    });

    it('keeps the id of a line that named one, so the report can say which record failed', async () => {
      // Act
      const [item] = await parse(['{"id":"user-9","base64":"%%%"}\n']);

      // Assess
      expect(item?.id).toBe('user-9');
      expect(item?.error).toBeInstanceOf(ValidationError);
    });
  });

  describe('jsonLinesItems: line length bound', () => {
    it('fails a line longer than the bound alone, and reads the lines around it', async () => {
      // Prepare: a 64-byte bound; the long line arrives in several chunks
      const long = `{"id":"big","data":"${'s'.repeat(200)}"}`;
      const chunks = ['{"id":"a","data":"x"}\n', long.slice(0, 50), long.slice(50, 120), `${long.slice(120)}\n{"id":"b","data":"y"}\n`];

      // Act
      const items = await parse(chunks, 64);

      // Assess
      expect(items.map((i) => i.label)).toEqual(['line 1 (a)', 'line 2', 'line 3 (b)']);
      expect(items[1]?.id).toBeUndefined();
      expect((items[1]?.error as Error).message).toBe('line 2 is longer than 64 bytes; nothing of it was written');
      expect(items[2]?.data?.toString()).toBe('y');
    });

    it('accepts a line exactly at the bound and refuses one byte more', async () => {
      // Prepare
      const line = (n: number): string => {
        const head = '{"id":"a","data":"';
        return `${head}${'x'.repeat(n - head.length - 2)}"}`;
      };

      // Act
      const [atBound] = await parse([`${line(64)}\n`], 64);
      const [over] = await parse([`${line(65)}\n`], 64);

      // Assess
      expect(atBound?.data?.length).toBe(64 - 20);
      expect(over?.error).toBeInstanceOf(ValidationError);
    });

    it('fails an over-long last line that has no newline', async () => {
      // Act
      const items = await parse([`{"id":"a","data":"${'x'.repeat(100)}"}`], 64);

      // Assess
      expect(items.map((i) => [i.label, (i.error as Error | undefined)?.message])).toEqual([['line 1', 'line 1 is longer than 64 bytes; nothing of it was written']]);
    });

    it('bounds lines at 16 MiB by default', async () => {
      // Prepare: a line one byte over 16 MiB, in 1 MiB chunks as a pipe would deliver it
      const head = Buffer.from('{"id":"big","data":"');
      const line = Buffer.concat([head, Buffer.alloc(MAX_IMPORT_LINE_BYTES + 1 - head.length - 2, 0x61), Buffer.from('"}\n')]);
      const chunks = cut(line, Array.from({ length: 16 }, (_, i) => (i + 1) * 1024 * 1024));

      // Act
      const items = await parse(chunks);

      // Assess
      expect(MAX_IMPORT_LINE_BYTES).toBe(16 * 1024 * 1024);
      expect((items[0]?.error as Error).message).toBe(`line 1 is longer than ${16 * 1024 * 1024} bytes; nothing of it was written`);
    });
  });

  describe('jsonLinesItems: chunking (property)', () => {
    it('yields the same items however the input is split into chunks', async () => {
      const record = fc.record({ id: fc.string({ minLength: 1, maxLength: 12 }), text: fc.string({ maxLength: 40, unit: 'grapheme' }), binary: fc.boolean() });
      await fc.assert(
        fc.asyncProperty(fc.array(record, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), async (records, points, blankLines) => {
          // Prepare
          const lines = records.map((r) => JSON.stringify(r.binary ? { id: r.id, base64: Buffer.from(r.text, 'utf8').toString('base64') } : { id: r.id, data: r.text }));
          const input = Buffer.from(lines.join(blankLines ? '\n\n' : '\n') + '\n', 'utf8');

          // Act
          const whole = await parse([input]);
          const split = await parse(cut(input, points));

          // Assess
          expect(split).toEqual(whole);
          expect(whole.map((i) => i.id)).toEqual(records.map((r) => r.id));
          expect(whole.map((i) => i.data?.toString('utf8'))).toEqual(records.map((r) => r.text));
        }),
        { numRuns: 100 },
      );
    });
  });
});
