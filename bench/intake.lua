-- wrk script for bench/intake.py: every request is a NEW generic web-form submission
-- (its own event_id, built from a tag, the wrk thread's number and a counter), and the
-- answers are counted by status: 202 accepted, 200 duplicate, anything else.
--   wrk -t2 -c64 -d20s -s bench/intake.lua http://127.0.0.1:PORT -- TAG
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tag = args[1] or "run"
  -- the key of every 202, so that the bench can check each one is in the outbox
  keys = args[2] and io.open(args[2] .. "/keys-" .. tag .. "-" .. tid, "w") or nil
  if keys then keys:setvbuf("line") end  -- wrk exits without closing Lua's files
  counter = 0
  accepted = 0
  duplicate = 0
  other = 0
end

function request()
  counter = counter + 1
  local id = tag .. "-" .. tid .. "-" .. counter
  local body = '{"event_id":"' .. id .. '","email":"lead-' .. id .. '@company' .. (counter % 97)
    .. '.example","first_name":"Lead","last_name":"' .. id .. '","company":"Company '
    .. (counter % 97) .. '","industry":"SaaS","country":"United States","phone":"+1 415 555 '
    .. string.format("%04d", counter % 10000) .. '","message":"bench submission ' .. id .. '"}'
  return wrk.format("POST", "/hooks/generic", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
    if keys then
      keys:write(string.match(body, '"key":"([^"]+)"') or "?", "\n")
    end
  elseif status == 200 then
    duplicate = duplicate + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, d, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    d = d + t:get("duplicate")
    o = o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"seconds":%.3f,"accepted":%d,"duplicate":%d,"other":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, a, d, o,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
