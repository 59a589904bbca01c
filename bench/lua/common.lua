-- Shared by the scenarios: many distinct logged-in residents and many suggestions.
-- Files are written by bench/topics_bench.py: one token per line, one suggestion id per line.
local function lines(path)
  local t = {}
  for line in io.lines(path) do if #line > 0 then t[#t + 1] = line end end
  return t
end

tokens = lines(os.getenv("BENCH_TOKENS"))
suggestions = lines(os.getenv("BENCH_SUGGESTIONS"))
platforms = lines(os.getenv("BENCH_PLATFORMS"))
mode = os.getenv("BENCH_MODE")          -- vote | list | mix | baseline
read_share = tonumber(os.getenv("BENCH_READ_SHARE") or "0.8")

local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("seed", thread_counter * 7919)
end

function init(args)
  math.randomseed(seed + os.time())
end

local function vote()
  local tok = tokens[math.random(#tokens)]
  local sid = suggestions[math.random(#suggestions)]
  return wrk.format("POST", "/api/suggestions/" .. sid .. "/vote",
                    {["Authorization"] = "Bearer " .. tok, ["Content-Type"] = "application/json"}, "{}")
end

local function list()
  local r = math.random(3)
  local sort = (r == 1 and "new") or (r == 2 and "supported") or "active"
  local pid = platforms[math.random(#platforms)]
  local path = "/api/suggestions?limit=20&sort=" .. sort .. "&platform_id=" .. pid
  -- Half the readers are logged in (the mini-program), half anonymous (a shared link).
  if math.random() < 0.5 then
    return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]})
  end
  return wrk.format("GET", path)
end

local function baseline()
  -- Same (suggestion, person) space as the real vote run; person ids are positions in tokens.
  local person = math.random(#tokens)
  local sid = suggestions[math.random(#suggestions)]
  return wrk.format("POST", "/vote", {["Content-Type"] = "application/json"},
                    '{"suggestion_id":' .. sid .. ',"person_index":' .. person .. '}')
end

function request()
  if mode == "vote" then return vote() end
  if mode == "list" then return list() end
  if mode == "baseline" then return baseline() end
  if math.random() < read_share then return list() end
  return vote()
end

-- The summary line the benchmark reads (bench/lua/summary.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "summary.lua")
