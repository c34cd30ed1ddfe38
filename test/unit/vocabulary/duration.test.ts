import fc from 'fast-check';
import { formatDuration, parseDuration, MAX_DURATION_SECONDS } from '../../../shared/vocabulary/duration';
import { ValidationError } from '../../../shared/errors';

describe('duration', () => {
  describe('parseDuration', () => {
    it.each([
      ['90d', 90 * 86_400],
      ['7d', 7 * 86_400],
      ['36h', 36 * 3_600],
      ['10m', 600],
      ['30s', 30],
      ['0s', 0],
      [' 5m ', 300],
      ['1w', 7 * 86_400],
      ['1d12h', 36 * 3_600],
      ['2h30m', 9_000],
      ['P30D', 30 * 86_400],
      ['P1W', 7 * 86_400],
      ['PT10M', 600],
      ['P1DT12H', 36 * 3_600],
    ])('parses %p', (text, expected) => {
      // Act
      const seconds = parseDuration(text);
      // Assess
      expect(seconds).toBe(expected);
    });

    it.each(['', '90', 'd', '1.5d', '-1d', '7x', 'P1Y', 'P2M', '1d1w', '7 d', '7D', '1e3s', 'abc', '90dd', '0x10s', '36500000d'])('throws ValidationError on %p', (text) => {
      // Act / Assess
      expect(() => parseDuration(text)).toThrow(ValidationError);
    });

    it('names the flag it was given in the error', () => {
      // Act / Assess
      expect(() => parseDuration('7 days', '--grace')).toThrow(/--grace '7 days'/);
    });

    it('refuses years and months, which have no fixed length', () => {
      // Act / Assess
      expect(() => parseDuration('P1M')).toThrow(/no fixed length/);
    });

    it('throws ValidationError when given a non-string', () => {
      // Act / Assess
      expect(() => parseDuration(90 as unknown as string)).toThrow(ValidationError);
    });
  });

  describe('formatDuration', () => {
    it.each([
      [90 * 86_400, '90d'],
      [36 * 3_600, '36h'],
      [600, '10m'],
      [90, '90s'],
      [0, '0s'],
    ])('formats %p seconds as %p', (seconds, expected) => {
      // Act / Assess
      expect(formatDuration(seconds)).toBe(expected);
    });

    it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('throws ValidationError on %p', (seconds) => {
      // Act / Assess
      expect(() => formatDuration(seconds)).toThrow(ValidationError);
    });

    it('round-trips through parseDuration for every valid duration', () => {
      // Act / Assess
      fc.assert(
        fc.property(fc.integer({ min: 0, max: MAX_DURATION_SECONDS }), (seconds) => {
          expect(parseDuration(formatDuration(seconds))).toBe(seconds);
        }),
      );
    });
  });
});
