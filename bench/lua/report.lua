-- Shared by the scripts here: prints the run's latency percentiles as JSON when wrk is done.
done = function(summary, latency, requests)
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%f,"errors":%d,"p50_ms":%f,"p99_ms":%f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
