import fc from 'fast-check';
import { decodeContext, encodeContext } from '../../../shared/envelope/context-encoding';
import { DecryptError } from '../../../shared/errors';

describe('context-encoding', () => {
  describe('encodeContext', () => {
    it('writes the count then pairs sorted by key bytes', () => {
      // Act
      const encoded = encodeContext({ b: 'xy', a: '' });
      // Assess
      expect(encoded.toString('hex')).toBe('0002' + '0001' + '61' + '0000' + '0001' + '62' + '0002' + '7879');
    });

    it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
      // Prepare: U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16
      const ctx = { '\u{1F600}': '1', '\uFF5E': '2' };
      // Act
      const decoded = Object.keys(decodeContext(encodeContext(ctx)));
      // Assess
      expect(decoded).toEqual(['\uFF5E', '\u{1F600}']);
    });
  });

  describe('decodeContext', () => {
    it('inverts encodeContext for any valid context', () => {
      fc.assert(
        fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }), fc.string({ maxLength: 50, unit: 'grapheme' }), { maxKeys: 10 }), (ctx) => {
          expect(decodeContext(encodeContext(ctx))).toEqual({ ...ctx });
        }),
      );
    });

    it('throws DecryptError on unsorted, duplicate, trailing or invalid UTF-8 input', () => {
      // Prepare
      const unsorted = Buffer.from('0002' + '000162' + '0000' + '000161' + '0000', 'hex');
      const duplicate = Buffer.from('0002' + '000161' + '0000' + '000161' + '0000', 'hex');
      const trailing = Buffer.concat([encodeContext({ a: '1' }), Buffer.from([0])]);
      const badUtf8 = Buffer.from('0001' + '0001ff' + '0000', 'hex');
      const emptyKey = Buffer.from('0001' + '0000' + '0000', 'hex');
      // Act / Assess
      for (const b of [unsorted, duplicate, trailing, badUtf8, emptyKey, Buffer.alloc(1)]) expect(() => decodeContext(b)).toThrow(new DecryptError());
    });
  });
});
