/**
 * Where the Redis cache puts things. Every key carries a hash tag `{<bucket>}`; the bucket is a
 * pure function of the application key, so
 * - a GET needs only the application key (no version lookup, one round trip);
 * - an entry, its membership in its version's index and the keyring's version registry share
 *   one cluster slot, so a write updates all three atomically in one Lua script;
 * - one version's index is split into `buckets` small sorted sets spread over as many slots,
 *   and invalidation visits each of them (a constant) plus the version's entries, never the
 *   keyspace.
 * The bucket count is part of the layout: every client sharing a prefix must use the same one.
 */
import { ValidationError } from '../../errors';

/** Header that the store prepends to every stored value: `rk1:<version>:<keyring>\n`. */
export const VALUE_MAGIC = 'rk1:';

const NEWLINE = 0x0a;
// Longest header: magic + 10-digit version + ':' + 256-byte keyring + '\n'.
const HEADER_MAX = VALUE_MAGIC.length + 10 + 1 + 256 + 1;

/** Key names of one store (one prefix, one bucket count). */
export class KeyLayout {
  public constructor(
    private readonly prefix: string,
    /** How many hash-tag buckets the index of one version is split into. */
    public readonly buckets: number,
  ) {
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 64 || /[{}\s]/.test(prefix)) {
      throw new ValidationError('cache key prefix must be 1-64 characters without braces or spaces');
    }
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 16384) {
      throw new ValidationError('cache bucket count must be an integer between 1 and 16384');
    }
  }

  /** The bucket of an application key (FNV-1a over its UTF-16 code units, modulo the bucket count). */
  public bucketOf(appKey: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < appKey.length; i++) {
      h ^= appKey.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % this.buckets;
  }

  /** Key of the entry holding `appKey`'s value. */
  public entryKey(appKey: string, bucket = this.bucketOf(appKey)): string {
    return `${this.prefix}{${bucket}}:e:${appKey}`;
  }

  /** Everything before `<keyring>:<version>` in an index key of `bucket` (used inside Lua). */
  public indexBase(bucket: number): string {
    return `${this.prefix}{${bucket}}:ix:`;
  }

  /** Sorted set of the application keys of (keyring, version) in `bucket`, scored by expiry (ms). */
  public indexKey(bucket: number, keyring: string, version: number): string {
    return `${this.indexBase(bucket)}${keyring}:${version}`;
  }

  /** Set of the versions of `keyring` that have an index in `bucket`. */
  public versionsKey(bucket: number, keyring: string): string {
    return `${this.prefix}{${bucket}}:kv:${keyring}`;
  }
}

/** The header the store writes before a value of (keyring, version). */
export function valueHeader(keyring: string, version: number): Buffer {
  return Buffer.from(`${VALUE_MAGIC}${version}:${keyring}\n`, 'utf8');
}

/**
 * Strips the store header from a raw value. A value without a well-formed header (written by
 * something else, or damaged) is returned whole, so that the layer above sees garbage and
 * treats it as such.
 */
export function stripHeader(raw: Buffer): Buffer {
  if (raw.length < VALUE_MAGIC.length + 3 || raw.toString('latin1', 0, VALUE_MAGIC.length) !== VALUE_MAGIC) return raw;
  const end = raw.indexOf(NEWLINE, VALUE_MAGIC.length);
  if (end < 0 || end >= HEADER_MAX) return raw;
  return raw.subarray(end + 1);
}
