package store

import "github.com/redis/go-redis/v9"

// listScript finds the next matching tickets of a listing, in one atomic step, from the
// indexes alone.
//
// KEYS[1] is the sort index (idx:updated or idx:created, scored in milliseconds), KEYS[2]
// idx:created, then the keys of the filter groups: a ticket matches a group when it is in any
// of its sets (a status class is the union of its statuses), and must match every group.
//
// ARGV: 1 direction (asc|desc), 2 how many matches are wanted, 3 how many candidates this call
// may examine, 4 '1' when a position is given, 5 its score, 6 its member (the walk resumes
// strictly after it), 7 the upper bound of an ascending walk by update (empty: none), 8 '1' to take
// that bound from the index now, 9 since and 10 until on creation in ms (empty: none; until
// excluded), 11 '1' when the sort index is idx:created, 12 the number of groups, then the
// number of keys of each group.
//
// It returns {state, bound, last score, last member, id, score, id, score...}: state is 'full'
// when it found what was wanted, 'done' when there is nothing more, 'more' when it stopped
// after examining its share of candidates (call again from the last position).
//
// Two plans; the cheaper by estimate wins. The walk reads the sort index in order from the
// position and checks each ticket against the sets (SISMEMBER): cheap when matches are
// common. Gathering reads the smallest filter (a set, or the creation range), checks and sorts
// it: cheap when it is small. Ties of score are ordered by member bytes, as Redis orders them.
var listScript = redis.NewScript(`
local sortk, createdk = KEYS[1], KEYS[2]
local asc = ARGV[1] == 'asc'
local want = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local hasCur = ARGV[4] == '1'
local cs, cm = ARGV[5], ARGV[6]
local csn = tonumber(cs)
local bound = ARGV[7]
local since, untl = ARGV[9], ARGV[10]
local sortIsCreated = ARGV[11] == '1'
local ng = tonumber(ARGV[12])
if bound == '' and ARGV[8] == '1' then
  local top = redis.call('ZRANGE', sortk, -1, -1, 'WITHSCORES')
  if #top == 0 then return {'done', ''} end
  bound = top[2]
end
local boundn = tonumber(bound)
local groups = {}
local ki = 3
for g = 1, ng do
  local grp = {}
  for j = 1, tonumber(ARGV[12 + g]) do grp[j] = KEYS[ki]; ki = ki + 1 end
  groups[g] = grp
end

local function lexlt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local sincen, untln = tonumber(since), tonumber(untl)
local function inRange(c)
  if sincen and c < sincen then return false end
  if untln and c >= untln then return false end
  return true
end

-- matches checks every group but skip, and the creation range when checkRange.
local function matches(id, skip, checkRange)
  for g = 1, ng do
    if g ~= skip then
      local ok = false
      for _, k in ipairs(groups[g]) do
        if redis.call('SISMEMBER', k, id) == 1 then ok = true; break end
      end
      if not ok then return false end
    end
  end
  if checkRange then
    local c = redis.call('ZSCORE', createdk, id)
    if not c or not inRange(tonumber(c)) then return false end
  end
  return true
end

local N = redis.call('ZCARD', sortk)
if N == 0 then return {'done', bound} end
local hasRange = since ~= '' or untl ~= ''
local best, bestCard = -1, nil
local frac = 1
for g = 1, ng do
  local c = 0
  for _, k in ipairs(groups[g]) do c = c + redis.call('SCARD', k) end
  if c == 0 then return {'done', bound} end
  frac = frac * c / N
  if not bestCard or c < bestCard then best, bestCard = g, c end
end
local scanN = N
if hasRange then
  local rc = redis.call('ZCOUNT', createdk, since == '' and '-inf' or since, untl == '' and '+inf' or '(' .. untl)
  if rc == 0 then return {'done', bound} end
  if sortIsCreated then scanN = rc else frac = frac * rc / N end
  if not bestCard or rc < bestCard then best, bestCard = 0, rc end
end
local perCheck = 1 + ng
if hasRange and not sortIsCreated then perCheck = perCheck + 1 end
local expected = math.max(scanN * frac, 0.5)
local walkCost = math.min(scanN, want * scanN / expected) * perCheck
local gatherCost = math.huge
if bestCard and bestCard <= 20000 then
  gatherCost = bestCard * (2 + ng) + bestCard * math.log(bestCard + 1) / 4
end

local function afterPos(s, m)
  if boundn and s > boundn then return false end
  if not hasCur then return true end
  if asc then
    if s ~= csn then return s > csn end
    return lexlt(cm, m)
  end
  if s ~= csn then return s < csn end
  return lexlt(m, cm)
end

if gatherCost < walkCost then
  local found = {}
  local function take(id, s)
    local sn = tonumber(s)
    if sn and afterPos(sn, id) then found[#found + 1] = {sn, id, s} end
  end
  if best == 0 then
    local lo = since == '' and '-inf' or since
    local hi = untl == '' and '+inf' or '(' .. untl
    local r = redis.call('ZRANGEBYSCORE', createdk, lo, hi, 'WITHSCORES')
    for i = 1, #r, 2 do
      local id = r[i]
      if matches(id, 0, false) then
        local s = r[i + 1]
        if not sortIsCreated then s = redis.call('ZSCORE', sortk, id) end
        take(id, s)
      end
    end
  else
    for _, k in ipairs(groups[best]) do
      for _, id in ipairs(redis.call('SMEMBERS', k)) do
        if matches(id, best, hasRange and not sortIsCreated) then
          local s = redis.call('ZSCORE', sortk, id)
          if s and (not sortIsCreated or inRange(tonumber(s))) then take(id, s) end
        end
      end
    end
  end
  table.sort(found, function(a, b)
    if a[1] ~= b[1] then
      if asc then return a[1] < b[1] end
      return a[1] > b[1]
    end
    if asc then return lexlt(a[2], b[2]) end
    return lexlt(b[2], a[2])
  end)
  local out = {'done', bound, '', ''}
  if #found >= want then out[1] = 'full' end
  for i = 1, math.min(want, #found) do
    out[#out + 1] = found[i][2]
    out[#out + 1] = found[i][3]
  end
  return out
end

-- The walk.
local lo, hi = '-inf', '+inf'
if sortIsCreated then
  if since ~= '' then lo = since end
  if untl ~= '' then hi = '(' .. untl end
end
if bound ~= '' then hi = bound end
local out = {'done', bound, '', ''}
local nfound, examined = 0, 0
local function consider(id, s)
  examined = examined + 1
  out[3], out[4] = s, id
  if matches(id, 0, hasRange and not sortIsCreated) then
    out[#out + 1] = id
    out[#out + 1] = s
    nfound = nfound + 1
  end
end
local chunk = 128
-- Members tied with the position's score come first, those already seen skipped.
if hasCur then
  local off = 0
  while true do
    local r
    if asc then r = redis.call('ZRANGEBYSCORE', sortk, cs, cs, 'LIMIT', off, chunk)
    else r = redis.call('ZREVRANGEBYSCORE', sortk, cs, cs, 'LIMIT', off, chunk) end
    for _, id in ipairs(r) do
      -- Those seen come first in walk order; skipping them is not counted against the
      -- budget, so that a call always moves the position on.
      if (asc and lexlt(cm, id)) or (not asc and lexlt(id, cm)) then
        consider(id, cs)
        if nfound >= want then out[1] = 'full'; return out end
      end
    end
    if #r < chunk then break end
    off = off + #r
    if examined >= budget then out[1] = 'more'; return out end
  end
  if asc then lo = '(' .. cs else hi = '(' .. cs end
end
local off = 0
while true do
  local r
  if asc then r = redis.call('ZRANGEBYSCORE', sortk, lo, hi, 'WITHSCORES', 'LIMIT', off, chunk)
  else r = redis.call('ZREVRANGEBYSCORE', sortk, hi, lo, 'WITHSCORES', 'LIMIT', off, chunk) end
  for i = 1, #r, 2 do
    consider(r[i], r[i + 1])
    if nfound >= want then out[1] = 'full'; return out end
  end
  if #r < 2 * chunk then return out end
  off = off + #r / 2
  if examined >= budget then out[1] = 'more'; return out end
  if chunk < 2048 then chunk = chunk * 2 end
end
`)
