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

// Lua helper of the delete script: the index key named by the header of the value at `entry`.
const OLD_INDEX = `
local function old_index(entry, base)
  local head = redis.pcall('GETRANGE', entry, 0, 300)
  if type(head) ~= 'string' then return nil end
  local v, k = string.match(head, '^rk1:(%d+):([^\\n]*)\\n')
  if v == nil then return nil end
  return base .. k .. ':' .. v
end
`;

/**
 * How much longer than the entry being written an index (and its keyring's version registry)
 * is kept alive when its TTL is raised: `min(ttl, INDEX_TTL_SLACK_MS)`. The slack lets the
 * following writes of the next minute find the TTL long enough with one PTTL instead of a
 * PEXPIRE each; it is also the longest an index outlives its last entry.
 */
export const INDEX_TTL_SLACK_MS = 60_000;

/**
 * Bytes of values beyond which concurrent writes are split into another script call, so that
 * one call never blocks the server for long (a value bigger than this travels alone).
 */
export const WRITE_BATCH_BYTES = 512 * 1024;

/**
 * Set, for one or more entries (concurrent writes coalesced into one call):
 * KEYS = [entry1, index1, entry2, index2, ...]; ARGV = [value1, ttlMs1, member1, value2, ...],
 * each value starting with its header `rk1:<version>:<keyring>\n`. In cluster mode the caller
 * only puts entries of one bucket (one slot) in a call. For each entry, in order:
 * - ZADDs the member to its index scored by its expiry (server time, one clock for all
 *   clients); when that added a member, i.e. the index grew, ZREMRANGEBYSCORE drops every
 *   expired member of it. Overwrites do not grow an index, so they skip the pruning: an index
 *   never holds more than the members that were live at its last growth. The index is written
 *   first so that a failing call (an index key of another type, out of memory) never leaves a
 *   value without its membership; a membership without a value is harmless (it expires).
 * - writes the value with its TTL (SET ... GET returns the value it replaces); when the old
 *   header names another (keyring, version), the member leaves that index (same bucket);
 * - raises the index TTL to the entry's TTL plus slack when it is shorter (-1, no TTL, means
 *   the ZADD just created the index). Only then does it (re-)register the version in the
 *   keyring's registry of the bucket and raise the registry's TTL to at least the same: the
 *   registry outlives every index it lists, and is repaired at least once per slack period.
 */
export const SET_SCRIPT = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 2
local armed = n > 1 and {} or nil
for i = 1, n do
  local entry, index = KEYS[2 * i - 1], KEYS[2 * i]
  local value, ttl, member = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1]), ARGV[3 * i]
  if redis.call('ZADD', index, now + ttl, member) == 1 then
    redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. now)
  end
  local old = redis.pcall('SET', entry, value, 'PX', ttl, 'GET')
  if type(old) == 'table' then
    if not string.find(old.err, 'WRONGTYPE', 1, true) then return old end
    -- Another Redis type at the entry key (written by something else): replace it.
    redis.call('UNLINK', entry)
    redis.call('SET', entry, value, 'PX', ttl)
    old = false
  end
  if old then
    local hl = string.find(value, '\\n', 5, true)
    if string.sub(old, 1, hl) ~= string.sub(value, 1, hl) then
      local v, k = string.match(string.sub(old, 1, 300), '^rk1:(%d+):([^\\n]*)\\n')
      if v ~= nil then
        redis.call('ZREM', string.match(index, '^(.-}:ix:)') .. k .. ':' .. v, member)
      end
    end
  end
  local left = armed and armed[index] or redis.call('PTTL', index)
  if left < ttl then
    left = ttl + math.min(ttl, ${INDEX_TTL_SLACK_MS})
    redis.call('PEXPIRE', index, left)
    local base, keyring, version = string.match(index, '^(.-}:)ix:(.*):(%d+)$')
    local registry = base .. 'kv:' .. keyring
    redis.call('SADD', registry, version)
    if redis.call('PTTL', registry) < left then redis.call('PEXPIRE', registry, left) end
  end
  if armed then armed[index] = left end
end
return n
`);

/**
 * Delete: KEYS = [entry, hintIndex?]; ARGV = [member, indexBase]. Removes the entry and its
 * index membership (the one its header names, and the caller's hint if given).
 */
export const DELETE_SCRIPT = script(`${OLD_INDEX}
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
