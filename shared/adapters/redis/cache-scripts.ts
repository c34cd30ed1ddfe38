/**
 * Lua scripts of the Redis cache store. Each touches keys of one hash-tag bucket only, so it
 * runs atomically on one node in cluster mode too. The set and delete scripts also derive the
 * index key of the value being replaced from its header (same bucket, same slot): that keeps
 * an entry in exactly one version's index when it is overwritten under another version.
 */
import { createHash } from 'node:crypto';

/** A script with its SHA-1, for EVALSHA with a fallback to EVAL. */
export interface CacheScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): CacheScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

// Shared Lua helpers: server time in ms (one clock for every client), TTL bump, old header.
const HELPERS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bump(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
local function old_index(entry, base)
  local head = redis.pcall('GETRANGE', entry, 0, 300)
  if type(head) ~= 'string' then return nil end
  local v, k = string.match(head, '^rk1:(%d+):([^\\n]*)\\n')
  if v == nil then return nil end
  return base .. k .. ':' .. v
end
`;

/**
 * Set: KEYS = [entry, index, versions]; ARGV = [value, ttlMs, member, version, indexBase].
 * Writes the value with its TTL, adds the member to the index scored by its expiry, prunes
 * members that expired, keeps the index and registry alive as long as their longest entry.
 */
export const SET_SCRIPT = script(`${HELPERS}
local ttl = tonumber(ARGV[2])
local now = now_ms()
local old = old_index(KEYS[1], ARGV[5])
if old ~= nil and old ~= KEYS[2] then redis.call('ZREM', old, ARGV[3]) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
bump(KEYS[2], ttl)
redis.call('SADD', KEYS[3], ARGV[4])
bump(KEYS[3], ttl)
return 1
`);

/**
 * Delete: KEYS = [entry, hintIndex?]; ARGV = [member, indexBase]. Removes the entry and its
 * index membership (the one its header names, and the caller's hint if given).
 */
export const DELETE_SCRIPT = script(`${HELPERS}
local old = old_index(KEYS[1], ARGV[2])
if old ~= nil then redis.call('ZREM', old, ARGV[1]) end
if KEYS[2] ~= nil then redis.call('ZREM', KEYS[2], ARGV[1]) end
return redis.call('UNLINK', KEYS[1])
`);

/**
 * Invalidate one batch: KEYS = [index, versions, entry1..n]; ARGV = [header, version, member1..n].
 * Unlinks each entry whose header still names this version (an entry overwritten under another
 * version since the index was read is left alone), drops the members from the index, and the
 * version from the registry once its index is empty. Returns how many entries were unlinked.
 */
export const INVALIDATE_BATCH_SCRIPT = script(`
local hdr = ARGV[1]
local n = 0
for i = 3, #KEYS do
  local head = redis.pcall('GETRANGE', KEYS[i], 0, #hdr - 1)
  if head == hdr then
    redis.call('UNLINK', KEYS[i])
    n = n + 1
  end
  redis.call('ZREM', KEYS[1], ARGV[i])
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return n
`);
