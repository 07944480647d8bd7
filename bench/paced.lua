-- wrk script: the operation script SCRIPT (lookup.lua, bodies.lua, …) sent
-- at a fixed rate, RATE requests a second over all of wrk's threads, for
-- "p99 at a given load" where plain wrk reports it at saturation. Each
-- thread keeps a schedule (one slot every threads/RATE seconds) and sends
-- each request at its slot on whichever of its connections is free; a
-- request whose slot has passed goes at once, and the schedule is kept, so
-- a stall is followed by the requests it owes (open loop while a
-- connection is free; wrk's connections bound what is in flight). wrk
-- times a request from when it was sent: how late requests were sent
-- against their slots is counted here and printed after wrk's report
-- ("late: p99 … ms, max … ms, … of … over 1 ms"), so a run whose
-- generator or connections fell behind says so.
--   RATE=1300 THREADS=2 SCRIPT=bench/resolve.lua HOLDERS=… wrk -t2 -c32 -d15s --latency -s bench/paced.lua URL
-- wrk waits whole milliseconds (it truncates the delay), so a request may
-- go up to 1 ms before its slot; the rate holds. wrk runs scripts in
-- LuaJIT: the clock is clock_gettime through its FFI (Lua's os.clock is
-- CPU time).
dofile(os.getenv("SCRIPT"))

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
  int clock_gettime(int clk, paced_timespec *tp);
]]
local ts = ffi.new("paced_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local rate = tonumber(os.getenv("RATE") or "")
if not rate or rate <= 0 then error("paced.lua: RATE (requests a second, > 0) is required") end

local threads = tonumber(os.getenv("THREADS") or "2") -- wrk's -t, which a script cannot read

-- Each thread: its slot, and how late its requests went, as globals for
-- done() (thread:get reads a thread's globals): a histogram in 0.1 ms
-- steps (the last bucket holds 1 s and more), the count sent, the most.
local interval, slot = threads * 1000 / rate, nil
paced_late, paced_sent, paced_max = {}, 0, 0

delay = function()
  local t = now_ms()
  slot = (slot or t) + interval
  paced_sent = paced_sent + 1
  local d = slot - t
  if d >= 0 then return d end
  local b = math.min(math.floor(-d * 10), 10000)
  paced_late[b] = (paced_late[b] or 0) + 1
  if -d > paced_max then paced_max = -d end
  return 0
end

-- Main thread: the threads, whose counts done() adds up.
local all = {}
local inner_setup = setup
setup = function(thread)
  all[#all + 1] = thread
  if inner_setup then inner_setup(thread) end
end

local inner_done = done
done = function(summary, latency, requests)
  if inner_done then inner_done(summary, latency, requests) end
  local hist, sent, max = {}, 0, 0
  for _, th in ipairs(all) do
    sent = sent + th:get("paced_sent")
    max = math.max(max, th:get("paced_max"))
    for b, n in pairs(th:get("paced_late")) do hist[b] = (hist[b] or 0) + n end
  end
  -- p99 of lateness over every request sent (those on time count as 0).
  local buckets = {}
  for b in pairs(hist) do buckets[#buckets + 1] = b end
  table.sort(buckets, function(a, b) return a > b end)
  local over1, seen, p99 = 0, 0, 0
  for _, b in ipairs(buckets) do
    if b >= 10 then over1 = over1 + hist[b] end
    seen = seen + hist[b]
    if p99 == 0 and seen > sent * 0.01 then p99 = b / 10 end
  end
  local p99s = p99 >= 1000 and "over 1000" or string.format("%.1f", p99) -- the last bucket has no bound
  io.write(string.format("late: p99 %s ms, max %.1f ms, %d of %d over 1 ms\n", p99s, max, over1, sent))
end
