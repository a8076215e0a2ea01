-- POST a +1 "receive" movement to one of BENCH_HOT_ITEMS items (ids 1..N): heavy contention.
-- Counts 201 responses per thread so the runner can prove that no update was lost.
local hot = tonumber(os.getenv("BENCH_HOT_ITEMS") or "50")
local token = os.getenv("BENCH_TOKEN")
local threads = {}
local body = '{"delta": 1, "reason": "receive", "note": "bench"}'
setup = function(thread) table.insert(threads, thread) end
init = function() created = 0; other = 0; math.randomseed(os.time() + math.random(1, 1000)) end
request = function()
  return wrk.format("POST", "/api/v1/items/" .. math.random(1, hot) .. "/movements",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
response = function(status)
  if status == 201 then created = created + 1 else other = other + 1 end
end
done = function()
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  io.write(string.format("BENCH_CREATED %d\nBENCH_OTHER %d\n", c, o))
end
