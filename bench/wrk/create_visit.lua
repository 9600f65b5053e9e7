-- POST a visit to one of the presentations in BENCH_PRESENTATIONS (comma-separated ids), in turn.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
-- TLS ends at the load balancer in production; it says so in this header.
wrk.headers["X-Forwarded-Proto"] = "https"
wrk.headers["Content-Type"] = "application/json"
local today = os.getenv("BENCH_TODAY")
local presentations = {}
for id in string.gmatch(os.getenv("BENCH_PRESENTATIONS"), "%d+") do
  presentations[#presentations + 1] = id
end
local counter = math.random(#presentations)

request = function()
  counter = counter % #presentations + 1
  local body = string.format(
    '{"presentation": %s, "seen_on": "%s", "pain_walking": 3, "pain_rest": 0, "relief_since_previous": "partial"}',
    presentations[counter], today)
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'BENCH {"requests": %d, "rps": %.2f, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f, "errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
