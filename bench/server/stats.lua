-- Shared by the wrk scripts of bench/server_bench.py: counts answers that are
-- not 2xx (wrk itself only counts >= 400, so a 302 to the sign-in page would
-- pass unseen) and prints one machine-readable line at the end.
local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

bad = 0
first_bad = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if first_bad == 0 then first_bad = status end
  end
end

function done(summary, latency, requests)
  local bad_total, first = 0, 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    if first == 0 then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, ' ..
    '"first_non2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"status_ge400": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, bad_total, first,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
