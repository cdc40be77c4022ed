package store

import "github.com/redis/go-redis/v9"

// listScript finds the next matching tickets of a listing, in one atomic step, from the
// indexes alone.
//
// KEYS[1] is the sort index (idx:updated or idx:created, scored in milliseconds), KEYS[2]
// idx:created, then the walk keys: sorted sets scored like the sort index that together hold
// every candidate (the sort index itself, or for a listing by update bounded on creation, the
// creation months of the range). Then the keys of the filter groups: a ticket matches a group
// when it is in any of its sets (a status class is the union of its statuses), and must match
// every group.
//
// ARGV: 1 direction (asc|desc), 2 how many matches are wanted, 3 how many candidates this call
// may examine, 4 '1' when a position is given, 5 its score, 6 its member (the walk resumes
// strictly after it), 7 the upper bound of an ascending walk by update (empty: none), 8 '1' to
// take that bound from the index now, 9 since and 10 until on creation in ms (empty: none;
// until excluded), 11 '1' when the sort index is idx:created, 12 the number of walk keys, 13
// the number of groups, 14 the plan (empty: the cheaper; 'walk' or 'gather' for tests), then
// the number of keys of each group.
//
// It returns {state, bound, last score, last member, id, score, id, score...}: state is 'full'
// when it found what was wanted, 'done' when there is nothing more, 'more' when it stopped
// after examining its share of candidates (call again from the last position).
//
// Two plans; the cheaper by estimate wins. The walk reads the walk keys in order from the
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
local nw, ng = tonumber(ARGV[12]), tonumber(ARGV[13])
if bound == '' and ARGV[8] == '1' then
  local top = redis.call('ZRANGE', sortk, -1, -1, 'WITHSCORES')
  if #top == 0 then return {'done', ''} end
  bound = top[2]
end
local boundn = tonumber(bound)
local walkKeys = {}
for i = 1, nw do walkKeys[i] = KEYS[2 + i] end
local groups = {}
local ki = 3 + nw
for g = 1, ng do
  local grp = {}
  for j = 1, tonumber(ARGV[14 + g]) do grp[j] = KEYS[ki]; ki = ki + 1 end
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

-- before tells whether (s1, m1) comes before (s2, m2) in the listing's order.
local function before(s1, m1, s2, m2)
  if s1 ~= s2 then
    if asc then return s1 < s2 end
    return s1 > s2
  end
  if asc then return lexlt(m1, m2) end
  return lexlt(m2, m1)
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
local pool = N
if hasRange then
  pool = redis.call('ZCOUNT', createdk, since == '' and '-inf' or since, untl == '' and '+inf' or '(' .. untl)
  if pool == 0 then return {'done', bound} end
  if not bestCard or pool < bestCard then best, bestCard = 0, pool end
end
local walkN = pool
if nw ~= 1 or walkKeys[1] ~= sortk or (hasRange and not sortIsCreated) then
  walkN = 0
  for _, k in ipairs(walkKeys) do walkN = walkN + redis.call('ZCARD', k) end
end
local checkRange = hasRange and not sortIsCreated
local perCheck = 1 + ng
if checkRange then perCheck = perCheck + 1 end
local expected = math.max(pool * frac, 0.5)
local walkCost = math.min(walkN, want * walkN / expected) * perCheck * (1 + nw / 16) + nw * 16
local gatherCost = math.huge
if bestCard and bestCard <= 20000 then
  gatherCost = bestCard * (2 + ng) + bestCard * math.log(bestCard + 1) / 4
end

local function afterPos(s, m)
  if boundn and s > boundn then return false end
  if not hasCur then return true end
  return before(csn, cm, s, m)
end

if ARGV[14] == 'walk' then gatherCost = math.huge end
if ARGV[14] == 'gather' and bestCard then gatherCost = 0 end
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
        if matches(id, best, checkRange) then
          local s = redis.call('ZSCORE', sortk, id)
          if s and (not sortIsCreated or inRange(tonumber(s))) then take(id, s) end
        end
      end
    end
  end
  table.sort(found, function(a, b) return before(a[1], a[2], b[1], b[2]) end)
  local out = {'done', bound, '', ''}
  if #found >= want then out[1] = 'full' end
  for i = 1, math.min(want, #found) do
    out[#out + 1] = found[i][2]
    out[#out + 1] = found[i][3]
  end
  return out
end

-- The walk: the walk keys merged in order, from the position on.
local lo, hi = '-inf', '+inf'
if sortIsCreated then
  if since ~= '' then lo = since end
  if untl ~= '' then hi = '(' .. untl end
end
if bound ~= '' then hi = bound end

-- fetch returns up to count entries {score, raw score, member} of k strictly after the
-- position, in order: first the members tied with the position's score, then the rest.
local function fetch(k, hasP, ps, pm, count)
  local out = {}
  local from = asc and lo or hi
  if hasP then
    local off = 0
    while #out < count do
      local r
      if asc then r = redis.call('ZRANGEBYSCORE', k, ps, ps, 'LIMIT', off, count)
      else r = redis.call('ZREVRANGEBYSCORE', k, ps, ps, 'LIMIT', off, count) end
      for _, id in ipairs(r) do
        if #out < count and ((asc and lexlt(pm, id)) or (not asc and lexlt(id, pm))) then
          out[#out + 1] = {tonumber(ps), ps, id}
        end
      end
      if #r < count then break end
      off = off + #r
    end
    if #out >= count then return out end
    from = '(' .. ps
  end
  local r
  if asc then r = redis.call('ZRANGEBYSCORE', k, from, hi, 'WITHSCORES', 'LIMIT', 0, count - #out)
  else r = redis.call('ZREVRANGEBYSCORE', k, from, lo, 'WITHSCORES', 'LIMIT', 0, count - #out) end
  for i = 1, #r, 2 do out[#out + 1] = {tonumber(r[i + 1]), r[i + 1], r[i]} end
  return out
end

-- The walk keys are merged: each has a buffer refilled when it runs out, bigger each time,
-- and the next entry is the earliest head. With many keys (a long creation range) the
-- choice costs one comparison per key, counted against the budget.
local streams = {}
local first = math.max(16, math.floor(128 / math.max(nw, 1)))
for i, k in ipairs(walkKeys) do
  streams[i] = {k = k, buf = {}, at = 1, n = first, hasP = hasCur, ps = cs, pm = cm, ended = false}
end
local function head(st)
  if st.at > #st.buf then
    if st.ended then return nil end
    local r = fetch(st.k, st.hasP, st.ps, st.pm, st.n)
    st.buf, st.at = r, 1
    if #r < st.n then st.ended = true end
    if #r > 0 then st.hasP, st.ps, st.pm = true, r[#r][2], r[#r][3] end
    if st.n < 2048 then st.n = st.n * 2 end
    if #r == 0 then return nil end
  end
  return st.buf[st.at]
end

local out = {'done', bound, '', ''}
local nfound, examined = 0, 0
local perEntry = 1 + math.floor(nw / 16)
while true do
  local bs, be = nil, nil
  for _, st in ipairs(streams) do
    local e = head(st)
    if e and (not be or before(e[1], e[3], be[1], be[3])) then bs, be = st, e end
  end
  if not bs then return out end
  bs.at = bs.at + 1
  examined = examined + perEntry
  out[3], out[4] = be[2], be[3]
  if matches(be[3], 0, checkRange) then
    out[#out + 1] = be[3]
    out[#out + 1] = be[2]
    nfound = nfound + 1
    if nfound >= want then out[1] = 'full'; return out end
  end
  if examined >= budget then out[1] = 'more'; return out end
end
`)
