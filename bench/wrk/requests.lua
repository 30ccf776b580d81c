-- wrk script for every case of scripts/bench. The case is set through environment variables,
-- read when wrk loads the script:
--   ZTRISK_BENCH_PATHS    file of request paths, one per line (required)
--   ZTRISK_BENCH_METHOD   GET (default), POST, PUT or DELETE
--   ZTRISK_BENCH_ORDER    "random": a random path per request (default);
--                         "once": each path once, in file order, split between threads.
--                         When a thread has used its paths, the run ends, even before
--                         its duration, so no path is requested twice.
--   ZTRISK_BENCH_THREADS  wrk's -t value, needed by "once" to split the paths (default 1)
--   ZTRISK_BENCH_BODY     request body, sent as application/json (optional)
--   ZTRISK_BENCH_TOKEN    API token, sent as "Authorization: Bearer ..." (optional)
--   ZTRISK_BENCH_EXPECT   expected status, such as 401: responses with any other status are
--                         counted as mismatched. Without it, wrk's own count of responses
--                         with status 400 or above is the error count.
-- done() prints one line "ZTRISK_BENCH_RESULT {json}" with the counts and latencies in
-- microseconds.

local ffi = require("ffi")
ffi.cdef([[
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]])
local SIGINT = 2

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
         last_path = line
      end
      line_number = line_number + 1
   end
   if #requests == 0 then
      error("no paths in " .. paths_file)
   end
   -- Sent after every path was used, while the event loop stops. wrk never reads the
   -- response, and a GET changes nothing.
   spare_request = wrk.format("GET", last_path, headers)

   next_request = 0
   used_up = 0
   mismatched = 0
   math.randomseed(thread_index + 1)
end

-- Ends the run now. This thread sends no more requests, and SIGINT wakes wrk's main thread
-- (its thread id is the process id) from its sleep, so it measures the run up to now.
local function end_run()
   wrk.thread:stop()
   local pid = ffi.C.getpid()
   ffi.C.tgkill(pid, pid, SIGINT)
end

function request()
   if order == "once" then
      if next_request == #requests then
         if used_up == 0 then
            used_up = 1
            end_run()
         end
         return spare_request
      end
      next_request = next_request + 1
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
   local paths_used_up = false
   for _, thread in ipairs(threads) do
      total_mismatched = total_mismatched + (thread:get("mismatched") or 0)
      paths_used_up = paths_used_up or thread:get("used_up") == 1
   end
   local e = summary.errors
   io.write(string.format(
      'ZTRISK_BENCH_RESULT {"requests":%d,"duration_us":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"mismatched":%d,"paths_used_up":%s,'
         .. '"latency_us":{"p50":%.0f,"p99":%.0f,"p99_9":%.0f,"max":%.0f,"mean":%.1f}}\n',
      summary.requests, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout,
      total_mismatched, tostring(paths_used_up),
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
end
