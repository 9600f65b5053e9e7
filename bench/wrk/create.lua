-- POST a new record (BENCH_RECORD: "visit" or "treatment") under one of the presentations in
-- BENCH_PRESENTATIONS (comma-separated ids), in turn. With BENCH_IDEMPOTENT=1 every request carries an
-- Idempotency-Key of its own, as a careful client's do: each is a first request, none a replay.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
-- TLS ends at the load balancer in production; it says so in this header.
wrk.headers["X-Forwarded-Proto"] = "https"
wrk.headers["Content-Type"] = "application/json"
local today = os.getenv("BENCH_TODAY")
local record = os.getenv("BENCH_RECORD") or "visit"
local idempotent = os.getenv("BENCH_IDEMPOTENT") == "1"
local presentations = {}
for id in string.gmatch(os.getenv("BENCH_PRESENTATIONS"), "%d+") do
  presentations[#presentations + 1] = id
end
local counter = math.random(#presentations)
-- Keys unique across threads and runs: a random prefix per thread (seeded from the clock and the
-- thread's own table address), then a counter.
local prefix

init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
  prefix = string.format("bench-%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

local bodies = {
  visit = '{"presentation": %s, "seen_on": "%s", "pain_walking": 3, "pain_rest": 0, "relief_since_previous": "partial"}',
  treatment = '{"presentation": %s, "started_on": "%s", "kind": "footwear_modification"}',
}

local sent = 0
request = function()
  counter = counter % #presentations + 1
  sent = sent + 1
  local headers = nil
  if idempotent then
    -- wrk.format takes these instead of wrk.headers, not on top of them.
    headers = {}
    for name, value in pairs(wrk.headers) do
      headers[name] = value
    end
    headers["Idempotency-Key"] = prefix .. "-" .. sent
  end
  return wrk.format(nil, nil, headers, string.format(bodies[record], presentations[counter], today))
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'BENCH {"requests": %d, "rps": %.2f, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f, "errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
