-- wrk driver of bench/ingest_bench.py and bench/run.py, for seqnet's REST (/txs) and for JSON-RPC
-- eth_sendRawTransaction bodies (seqnet's /rpc and the peer devnets, anvil and ganache, at /).
-- Each thread sends its own pre-signed bodies, each once.
--
--   SEQNET_WRK_BODIES=/dir/bodies SEQNET_WRK_OUT=/dir/out SEQNET_WRK_PATH=/txs \
--   SEQNET_WRK_RATE=1000 wrk -t2 -c64 -d20s --latency -s bench/wrk/ingest.lua http://127.0.0.1:8545
--
-- Environment (wrk hands script arguments to the threads only, not to setup(), so all
-- configuration is read from the environment):
--   SEQNET_WRK_BODIES   thread i (1-based) reads "<BODIES>.<i>": one JSON request body a line
--   SEQNET_WRK_OUT      thread i writes "<OUT>.<i>": "OK <tx hash> <unix ms>" per accepted
--                       transaction (the time its answer was read, CLOCK_REALTIME, so that
--                       bench/run.py can line it up with its own polls of the nodes' heads),
--                       "ERR <status> <reason>" per refusal
--   SEQNET_WRK_PATH     /txs (REST: 2xx with "tx_hash" and "receipt" counts), / or /rpc
--                       (JSON-RPC: 2xx with "result":"0x.." counts; an "error" is a refusal)
--   SEQNET_WRK_MODE     "receipt" (default) or "any2xx"
--   SEQNET_WRK_TARGETS  optional host:port list; thread i sends to entry ((i-1) mod n)+1
--   SEQNET_WRK_RATE     optional total offered rate (requests/s) shared by the threads,
--                       paced open-loop by delay(): request k of a thread is due at
--                       t0 + k / rate_per_thread whatever the latency (needs enough
--                       connections: more than rate x latency)
--   SEQNET_WRK_WINDOWS  optional file of intake windows, one "<start unix ms> <end unix ms>
--                       <thread>" a line (leader mode, bench/ingest_bench.py's *-leader
--                       phases): thread i sends only while the wall clock (CLOCK_REALTIME)
--                       is inside one of its windows [start, end); delay() holds its
--                       connections until its next window starts. Without a rate, as fast
--                       as its connections go inside its windows; with SEQNET_WRK_RATE, one
--                       global open-loop stream: request j is due at t0 + j / rate (t0: the
--                       wall clock at setup() of thread 1, the same for every thread) and the
--                       thread whose window holds that due time sends it, so the threads
--                       together offer the rate. A thread starts its part of the stream at
--                       its first delay() (it skips no due time after that).
-- A thread that has sent all its bodies stops (no body is ever sent twice). done() prints one
-- JSON line prefixed "WRK_RESULT " with wrk's counters and latency percentiles (microseconds;
-- 50, 90, 95, 99, 99.9).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } seqnet_timespec;
int clock_gettime(int clk_id, seqnet_timespec *tp);
]]
local timespec = ffi.new("seqnet_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end
local function wall_ms()
  ffi.C.clock_gettime(0, timespec) -- CLOCK_REALTIME
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

-- main state: one entry per thread ------------------------------------------------------------

local threads = {}
local next_id = 1

local function split(text, sep)
  local items = {}
  for item in string.gmatch(text or "", "[^" .. sep .. "]+") do
    items[#items + 1] = item
  end
  return items
end

local stream_t0 = nil

function setup(thread)
  thread:set("id", next_id)
  if stream_t0 == nil then
    stream_t0 = wall_ms()
  end
  thread:set("t0", stream_t0)
  local targets = split(os.getenv("SEQNET_WRK_TARGETS"), ",")
  if #targets > 0 then
    local target = targets[((next_id - 1) % #targets) + 1]
    local host, port = string.match(target, "^(.+):(%d+)$")
    thread.addr = wrk.lookup(host, port)[1]
  end
  threads[#threads + 1] = thread
  next_id = next_id + 1
end

-- thread state --------------------------------------------------------------------------------

-- globals, so that done() can read them with thread:get()
requests_count = 0
sent = 0
ok = 0
refused = 0
local requests = {}
local out = nil
local receipt_mode = true
local hash_pattern = '"tx_hash":"(0x%x+)"'
local interval_ms = 0
local start_ms = nil
local due = 0
-- leader mode: this thread's intake windows (wall ms), the current one, the global stream
local win_start = {}
local win_end = {}
local win = 1
local stream_j = nil
local stream_t0_ms = 0
local IDLE_MS = 60000 -- after the last window: longer than any phase (wrk stops at -d)
windows_count = 0

function init(args)
  local id = wrk.thread:get("id")
  local path = os.getenv("SEQNET_WRK_PATH") or "/txs"
  receipt_mode = (os.getenv("SEQNET_WRK_MODE") or "receipt") == "receipt"
  if path ~= "/txs" then
    hash_pattern = '"result":"(0x%x+)"'
  end
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(os.getenv("SEQNET_WRK_BODIES") .. "." .. id) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", path, headers, line)
    end
  end
  requests_count = #requests
  out = assert(io.open(os.getenv("SEQNET_WRK_OUT") .. "." .. id, "w"))
  out:setvbuf("full", 65536)
  local rate = tonumber(os.getenv("SEQNET_WRK_RATE") or "0")
  local count = tonumber(os.getenv("SEQNET_WRK_THREADS") or "1")
  local windows = os.getenv("SEQNET_WRK_WINDOWS") or ""
  if #windows > 0 then
    for line in io.lines(windows) do
      local a, b, t = string.match(line, "^(%d+) (%d+) (%d+)")
      if a ~= nil and tonumber(t) == id then
        win_start[#win_start + 1] = tonumber(a)
        win_end[#win_end + 1] = tonumber(b)
      end
    end
    windows_count = #win_start
    stream_t0_ms = wrk.thread:get("t0")
    if rate > 0 then
      interval_ms = 1000 / rate -- one stream shared by all threads
    end
  elseif rate > 0 then
    interval_ms = 1000 * count / rate
  end
end

local function paced_delay()
  local now = now_ms()
  if start_ms == nil then
    start_ms = now
  end
  local at = start_ms + due * interval_ms
  due = due + 1
  if at <= now then
    return 0
  end
  return math.floor(at - now + 0.5)
end

-- leader mode: hold a connection until the thread's next intake window (never 0 outside a
-- window, so an idle thread sleeps in timers instead of spinning); wrk sends the request when
-- the delay has passed, without asking again, so a request may leave just before its window
-- ends and reach the node just after (the node then forwards it: allowed, and counted).
local function leader_delay()
  local now = wall_ms()
  if interval_ms == 0 then
    while win <= #win_start and win_end[win] <= now do
      win = win + 1
    end
    if win > #win_start then
      return IDLE_MS
    end
    if now >= win_start[win] then
      return 0
    end
    return math.ceil(win_start[win] - now)
  end
  local t0 = stream_t0_ms
  if stream_j == nil then
    -- this thread joins the stream now: the first due time not before its first call
    stream_j = math.max(0, math.ceil((now - t0) / interval_ms))
  end
  while true do
    local at = t0 + stream_j * interval_ms
    while win <= #win_start and win_end[win] <= at do
      win = win + 1
    end
    if win > #win_start then
      return IDLE_MS
    end
    if at < win_start[win] then
      -- the first due time inside the window (at least one step on, whatever the rounding)
      stream_j = math.max(stream_j + 1, math.ceil((win_start[win] - t0) / interval_ms))
    else
      stream_j = stream_j + 1
      if at <= now then
        return 0
      end
      return math.ceil(at - now)
    end
  end
end

-- wrk looks for delay() once, at load time: define it only when pacing or following windows
-- (a zero delay still costs a timer event per request)
if #(os.getenv("SEQNET_WRK_WINDOWS") or "") > 0 then
  delay = leader_delay
elseif tonumber(os.getenv("SEQNET_WRK_RATE") or "0") > 0 then
  delay = paced_delay
end

function request()
  sent = sent + 1
  if sent > #requests then
    wrk.thread:stop()
    sent = #requests
    return requests[#requests]
  end
  return requests[sent]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    if receipt_mode then
      local tx_hash = string.match(body, hash_pattern)
      if tx_hash ~= nil and (hash_pattern ~= '"tx_hash":"(0x%x+)"' or string.find(body, '"receipt"', 1, true)) then
        ok = ok + 1
        out:write("OK ", tx_hash, " ", string.format("%.1f", wall_ms()), "\n")
        return
      end
      local reason = string.match(body, '"message":"([^"]*)"') or "no-receipt"
      refused = refused + 1
      out:write("ERR ", status, " ", reason, "\n")
      return
    end
    ok = ok + 1
    return
  end
  refused = refused + 1
  local reason = string.match(body or "", '"error":"([^"]*)"') or string.match(body or "", '"detail":"([^"]*)"') or "-"
  out:write("ERR ", status, " ", reason, "\n")
end

-- main state again ----------------------------------------------------------------------------

function done(summary, latency, _requests)
  local per_thread = {}
  for _, thread in ipairs(threads) do
    per_thread[#per_thread + 1] = string.format(
      '{"id":%d,"sent":%d,"ok":%d,"refused":%d,"bodies":%d,"windows":%d}',
      thread:get("id"), thread:get("sent"), thread:get("ok"), thread:get("refused"),
      thread:get("requests_count"), thread:get("windows_count"))
  end
  local percentiles = {}
  for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
    percentiles[#percentiles + 1] = string.format('"%s":%d', tostring(p), latency:percentile(p))
  end
  io.write(string.format(
    'WRK_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d},"latency_us":{"min":%d,"mean":%.1f,"max":%d,' ..
    '"stdev":%.1f,"percentiles":{%s}},"threads":[%s]}\n',
    summary.duration, summary.requests, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency.min, latency.mean, latency.max, latency.stdev, table.concat(percentiles, ","),
    table.concat(per_thread, ",")))
end
