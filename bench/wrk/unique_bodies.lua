-- wrk script: POST a new notification body on every request, then print a JSON summary.
--
-- The body template and the run number come from the harness (bench/bodies.py) through the
-- environment, so Lua and Python share one definition of the body. The order id is written as
-- decimal text ("90" .. run .. worker .. counter), never computed as a number: LuaJIT numbers
-- are doubles and lose integer precision above 2^53.

local template = os.getenv("YMN_BENCH_TEMPLATE")
local run = tonumber(os.getenv("YMN_BENCH_RUN") or "")
local placeholder = "@ORDER_ID@"
local id_format = "90%04d%03d%010d"

if template == nil or run == nil or not template:find(placeholder, 1, true) then
   io.stderr:write("unique_bodies.lua: set YMN_BENCH_TEMPLATE (with @ORDER_ID@) and YMN_BENCH_RUN\n")
   os.exit(2)
end

local head_end = template:find(placeholder, 1, true)
local head = template:sub(1, head_end - 1)
local tail = template:sub(head_end + #placeholder)

local next_worker = 0
function setup(thread)
   thread:set("worker", next_worker)
   next_worker = next_worker + 1
end

local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function request()
   counter = counter + 1
   local body = head .. string.format(id_format, run, worker, counter) .. tail
   return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
