import fc from 'fast-check';
import { COMMITMENT_LENGTH, isKeyringNameBytes, isValidKeyringName, ORIGIN_VERSION_LENGTH, parseHeader, SUITE_ONE_SHOT, WRAPPED_KEY_LENGTH } from '../../../shared/envelope/format';
import { isKeyringName, KEYRING_NAME_MAX } from '../../../shared/vocabulary/keyring-name';
import { keyringName } from '../../../shared/vocabulary/names';

// Characters around every edge of the rule (case, the three punctuation marks, their ASCII
// neighbours, NUL, DEL, latin1 and beyond), so that random names are often valid and often
// wrong by exactly one character.
const EDGE_CHARS = [...'azAZ09._-/,:@[`{~ \u0000\u007f\u00e9\u00ff\u0100\u2028\ud83d'];
const edgyName = fc
  .array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...'abcxyz0189._-') }, { weight: 2, arbitrary: fc.constantFrom(...EDGE_CHARS) }), { minLength: 0, maxLength: KEYRING_NAME_MAX + 2 })
  .map((chars) => chars.join(''));
const anyName = fc.oneof(edgyName, fc.string({ maxLength: KEYRING_NAME_MAX + 2, unit: 'binary' }), fc.string({ maxLength: 80, unit: 'grapheme-ascii' }));
const anyBytes = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: KEYRING_NAME_MAX + 2 }),
  edgyName.map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff)),
);

/** A one-shot header carrying `name` (as raw bytes), everything else well-formed. */
function headerWith(name: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + name.length + ORIGIN_VERSION_LENGTH + COMMITMENT_LENGTH + 4 + WRAPPED_KEY_LENGTH);
  header[0] = 0x01;
  header[1] = SUITE_ONE_SHOT;
  header[2] = 0;
  header[3] = name.length & 0xff;
  header.set(name, 4);
  header.writeUInt32BE(1, 4 + name.length);
  header.writeUInt32BE(1, 4 + name.length + ORIGIN_VERSION_LENGTH + COMMITMENT_LENGTH);
  return header;
}

describe('keyring names', () => {
  describe('the envelope byte check and the one naming rule (property)', () => {
    it('accept exactly the same strings', () => {
      fc.assert(
        fc.property(anyName, (name) => {
          // Act
          const rule = isKeyringName(name);
          // Assess
          expect(isValidKeyringName(name)).toBe(rule);
          expect(keyringName.safeParse(name).success).toBe(rule);
        }),
        { numRuns: 2000 },
      );
    });

    it('accept exactly the same byte sequences, as the header parser reads them', () => {
      fc.assert(
        fc.property(anyBytes, (bytes) => {
          // Prepare: a header stores the name as latin1 bytes, one byte per character.
          const rule = isKeyringName(Buffer.from(bytes).toString('latin1'));
          // Act
          const byteCheck = isKeyringNameBytes(bytes, 0, bytes.length);
          let parsed: string | undefined;
          try {
            parsed = parseHeader(headerWith(bytes)).keyring;
          } catch {
            parsed = undefined;
          }
          // Assess
          expect(byteCheck).toBe(rule);
          expect(parsed !== undefined).toBe(rule);
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('the one rule', () => {
    it.each(['payments', 'a', '0', 'orders.v2_eu-west', 'k'.repeat(KEYRING_NAME_MAX)])('accepts %j', (name) => {
      // Act / Assess
      expect(isKeyringName(name)).toBe(true);
      expect(parseHeader(headerWith(Buffer.from(name, 'latin1'))).keyring).toBe(name);
    });

    it.each(['', 'Payments', 'PII', '.hidden', '-x', '_x', 'bad name', 'a/b', '../etc', 'é', 'k'.repeat(KEYRING_NAME_MAX + 1)])('refuses %j everywhere', (name) => {
      // Act / Assess
      expect(isKeyringName(name)).toBe(false);
      expect(isValidKeyringName(name)).toBe(false);
      expect(keyringName.safeParse(name).success).toBe(false);
    });
  });
});
