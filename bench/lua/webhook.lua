-- Official Account messages for bench/webhook_bench.py, paced to a fixed total rate.
-- Environment: BENCH_QUERY (the signed query string, valid for the run), BENCH_FIRST_ID and
-- BENCH_BOUND (bound residents o_bench_oa_<id>), BENCH_DUPLICATES (share of deliveries that
-- repeat a recent message, as WeChat's retries do), BENCH_INTERVAL_MS (between two sends of one
-- wrk thread: threads × 1000 / rate).
--
-- Pacing is a schedule, not a pause after each answer: every send takes the thread's next slot
-- (start + n × interval) and waits only until then, so slow answers do not lower the offered
-- rate (a pause after each answer would make the rate depend on the latency being measured).
-- A slot already past is sent at once on the next free connection.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local query = os.getenv("BENCH_QUERY")
local first_id = tonumber(os.getenv("BENCH_FIRST_ID"))
local bound = tonumber(os.getenv("BENCH_BOUND"))
local duplicates = tonumber(os.getenv("BENCH_DUPLICATES") or "0.2")
local interval = tonumber(os.getenv("BENCH_INTERVAL_MS"))  -- may be fractional
local texts = {"我的会议", "参加", "简报", "帮助"}
local created = os.time()

local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_no", thread_counter)
end

local recent = {}
local counter = 0

function init(args)
  math.randomseed(thread_no * 7919 + os.time())
end

local function body(openid, text, msg_id)
  return "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[" .. openid ..
    "]]></FromUserName><CreateTime>" .. created .. "</CreateTime><MsgType><![CDATA[text]]>" ..
    "</MsgType><Content><![CDATA[" .. text .. "]]></Content><MsgId>" .. msg_id ..
    "</MsgId></xml>"
end

function request()
  local xml
  if #recent > 0 and math.random() < duplicates then
    xml = recent[math.random(#recent)]
  else
    counter = counter + 1
    local msg_id = thread_no * 1000000000 + counter
    if math.random() < 0.15 then
      xml = body("o_bench_guest_" .. msg_id, "帮助", msg_id)
    else
      xml = body("o_bench_oa_" .. (first_id + math.random(bound) - 1),
                 texts[math.random(#texts)], msg_id)
    end
    -- Dense from index 1: a hole would let #recent count past it and a "duplicate" go out
    -- without a body (the 400/500 answers earlier runs counted as errors).
    recent[((counter - 1) % 200) + 1] = xml
  end
  return wrk.format("POST", "/wechat/oa?" .. query, {["Content-Type"] = "text/xml"}, xml)
end

local next_slot = nil

function delay()
  local now = now_ms()
  if next_slot == nil then
    next_slot = now
  end
  local wait = next_slot - now
  next_slot = next_slot + interval
  if wait < 0 then
    return 0
  end
  return math.floor(wait)
end

-- The summary line the benchmark reads (bench/lua/summary.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "summary.lua")
