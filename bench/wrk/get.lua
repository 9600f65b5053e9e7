-- GET the URL given to wrk with the bench token; print requests/s and latency percentiles as one JSON line.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
-- TLS ends at the load balancer in production; it says so in this header.
wrk.headers["X-Forwarded-Proto"] = "https"

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'BENCH {"requests": %d, "rps": %.2f, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f, "errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
