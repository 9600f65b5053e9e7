-- One role of the concurrency scenario, chosen by BENCH_ROLE: "write" POSTs a visit to one of
-- BENCH_PRESENTATIONS in turn, each with an Idempotency-Key of its own (BENCH_RUN-thread-counter);
-- "read" GETs the URL given to wrk. Every answer is counted by status, and the id of every visit
-- answered 201 is kept, so the run can look each one up in the database afterwards.
local role = os.getenv("BENCH_ROLE")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
-- TLS ends at the load balancer in production; it says so in this header.
wrk.headers["X-Forwarded-Proto"] = "https"
if role == "write" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_number", #threads)
end

function init(args)
  created, replayed, other_2xx, non_2xx, sent = 0, 0, 0, 0, 0
  created_ids = {}
  today = os.getenv("BENCH_TODAY")
  presentations = {}
  for id in string.gmatch(os.getenv("BENCH_PRESENTATIONS") or "", "%d+") do
    presentations[#presentations + 1] = id
  end
  run = os.getenv("BENCH_RUN")
end

function request()
  sent = sent + 1
  if role ~= "write" then
    return wrk.format()
  end
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Idempotency-Key"] = string.format("%s-%d-%d", run, thread_number, sent)
  local body = string.format(
    '{"presentation": %s, "seen_on": "%s", "pain_walking": 3, "pain_rest": 0, "relief_since_previous": "partial"}',
    presentations[(thread_number * 7919 + sent) % #presentations + 1], today)
  return wrk.format(nil, nil, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  elseif headers["Idempotent-Replayed"] then
    replayed = replayed + 1
  elseif status == 201 then
    created = created + 1
    if role == "write" then
      created_ids[#created_ids + 1] = string.match(body, '"id":%s*(%d+)') or "0"
    end
  else
    other_2xx = other_2xx + 1
  end
end

function done(summary, latency, requests)
  local totals = {created = 0, replayed = 0, other_2xx = 0, non_2xx = 0, sent = 0}
  local ids = {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    for _, id in ipairs(thread:get("created_ids")) do
      ids[#ids + 1] = id
    end
  end
  local socket_errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'BENCH {"role": "%s", "requests": %d, "rps": %.2f, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f, '
      .. '"errors": %d, "non_2xx": %d, "socket_errors": %d, "created": %d, "replayed": %d, "other_2xx": %d, '
      .. '"sent": %d, "created_ids": [%s]}\n',
    role, summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    totals.non_2xx + socket_errors, totals.non_2xx, socket_errors, totals.created, totals.replayed,
    totals.other_2xx, totals.sent, table.concat(ids, ",")))
end
