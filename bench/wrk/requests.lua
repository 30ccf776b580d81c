-- wrk script for every case of scripts/bench. The case is set through environment variables,
-- read when wrk loads the script:
--   ZTRISK_BENCH_PATHS    file of request paths, one per line (required)
--   ZTRISK_BENCH_METHOD   GET (default), POST, PUT or DELETE
--   ZTRISK_BENCH_ORDER    "random": a random path per request (default);
--                         "once": each path once, in file order, split between threads
--   ZTRISK_BENCH_THREADS  wrk's -t value, needed by "once" to split the paths (default 1)
--   ZTRISK_BENCH_BODY     request body, sent as application/json (optional)
--   ZTRISK_BENCH_TOKEN    API token, sent as "Authorization: Bearer ..." (optional)
--   ZTRISK_BENCH_EXPECT   expected status, such as 401: responses with any other status are
--                         counted as mismatched. Without it, wrk's own count of responses
--                         with status 400 or above is the error count.
-- done() prints one line "ZTRISK_BENCH_RESULT {json}" with the counts and latencies in
-- microseconds.

local paths_file = os.getenv("ZTRISK_BENCH_PATHS")
local method = os.getenv("ZTRISK_BENCH_METHOD") or "GET"
local order = os.getenv("ZTRISK_BENCH_ORDER") or "random"
local thread_count = tonumber(os.getenv("ZTRISK_BENCH_THREADS") or "1")
local body = os.getenv("ZTRISK_BENCH_BODY")
local token = os.getenv("ZTRISK_BENCH_TOKEN")
local expect = tonumber(os.getenv("ZTRISK_BENCH_EXPECT") or "")

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   local headers = {}
   if body then
      headers["Content-Type"] = "application/json"
   end
   if token and token ~= "" then
      headers["Authorization"] = "Bearer " .. token
   end
   -- Every request is formatted here, once, so that sending one costs wrk a table lookup
   -- rather than building the request text.
   requests = {}
   local line_number = 0
   for line in io.lines(paths_file) do
      if order ~= "once" or line_number % thread_count == thread_index then
         table.insert(requests, wrk.format(method, line, headers, body))
      end
      line_number = line_number + 1
   end
   if #requests == 0 then
      error("no paths in " .. paths_file)
   end

   next_request = 0
   overrun = 0
   mismatched = 0
   math.randomseed(thread_index + 1)
end

function request()
   if order == "once" then
      next_request = next_request + 1
      if next_request > #requests then
         -- Every path was used: repeat them, and report it, since the repeats fail.
         next_request = 1
         overrun = overrun + 1
      end
      return requests[next_request]
   end
   return requests[math.random(#requests)]
end

-- wrk parses response headers and bodies only when this function exists, which costs the
-- load generator time, so it is defined only for cases that check the status.
if expect then
   function response(status, response_headers, response_body)
      if status ~= expect then
         mismatched = mismatched + 1
      end
   end
end

function done(summary, latency, requests)
   local total_mismatched = 0
   local total_overrun = 0
   for _, thread in ipairs(threads) do
      total_mismatched = total_mismatched + (thread:get("mismatched") or 0)
      total_overrun = total_overrun + (thread:get("overrun") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'ZTRISK_BENCH_RESULT {"requests":%d,"duration_us":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"mismatched":%d,"overrun":%d,'
         .. '"latency_us":{"p50":%.0f,"p99":%.0f,"p99_9":%.0f,"max":%.0f,"mean":%.1f}}\n',
      summary.requests, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout,
      total_mismatched, total_overrun,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
end
