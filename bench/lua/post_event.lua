-- POST one event per request; prints latency percentiles as JSON when done.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- A daemon that needs a token (bench scenario 10) is given one.
local token = os.getenv("EVENTD_BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"type":"bench","value":%d,"data":{"n":%d}}', counter % 100, counter)
  return wrk.format(nil, nil, nil, body)
end
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
