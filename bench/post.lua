-- wrk script: POST the body in $BODY_FILE and print one JSON line of results at the end.
-- Same method as the stack measurement (docs/performance.md); adds write errors and
-- non-2xx/3xx answers (wrk counts status > 399 in errors.status).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BEARER") or "sk-test")

done = function(summary, latency, requests)
  io.write(string.format(
    "JSON {\"requests\":%d,\"duration_us\":%d,\"errors_connect\":%d,\"errors_read\":%d," ..
    "\"errors_write\":%d,\"errors_status\":%d,\"errors_timeout\":%d,\"p50_us\":%d," ..
    "\"p90_us\":%d,\"p99_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
