-- GET the URL given to wrk as a signed-in admin user: each request takes the next of the session cookies in
-- BENCH_COOKIES (comma-separated), so that concurrent requests are not all one session (every request saves
-- its session, and one row for every connection would measure its lock, not the page).
local cookies = {}
for cookie in string.gmatch(os.getenv("BENCH_COOKIES") or "", "[^,]+") do
  table.insert(cookies, cookie)
end
local next_cookie = 0
-- TLS ends at the load balancer in production; it says so in this header.
wrk.headers["X-Forwarded-Proto"] = "https"

request = function()
  next_cookie = next_cookie % #cookies + 1
  wrk.headers["Cookie"] = cookies[next_cookie]
  return wrk.format(nil)
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'BENCH {"requests": %d, "rps": %.2f, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f, "errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
