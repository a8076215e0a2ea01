-- BENCH_WRITES % (default 10) +1 "receive" movements on BENCH_HOT_ITEMS items (ids 1..N: heavy
-- contention), the rest reads: half list pages (as list_items.lua), half single items (as
-- get_item.lua). Each movement makes every cached list page stale, so the mixed load shows what
-- the page cache gives while the stock moves; BENCH_WRITES=100 is the movements scenario.
-- Counts 201 responses (only movements answer 201) so the runner can check for lost updates.
local max_id = tonumber(os.getenv("BENCH_MAX_ID") or "100000")
local hot = tonumber(os.getenv("BENCH_HOT_ITEMS") or "50")
local writes = tonumber(os.getenv("BENCH_WRITES") or "10")
local token = os.getenv("BENCH_TOKEN")
local categories = {"Fasteners", "Electrical", "Plumbing", "Tools", "Safety", "Packaging", "Cleaning", "Paint"}
local body = '{"delta": 1, "reason": "receive", "note": "bench"}'
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() created = 0; other = 0; math.randomseed(os.time() + math.random(1, 1000)) end
request = function()
  local headers = {["Authorization"] = "Bearer " .. token}
  local r = math.random(1, 100)
  if r <= writes then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/v1/items/" .. math.random(1, hot) .. "/movements", headers, body)
  elseif r <= writes + (100 - writes) / 2 then
    return wrk.format("GET", "/api/v1/items?per_page=50&category="
      .. categories[math.random(1, #categories)] .. "&page=" .. math.random(1, 20), headers)
  end
  return wrk.format("GET", "/api/v1/items/" .. math.random(1, max_id), headers)
end
response = function(status)
  if status == 201 then created = created + 1 elseif status ~= 200 then other = other + 1 end
end
done = function()
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  io.write(string.format("BENCH_CREATED %d\nBENCH_OTHER %d\n", c, o))
end
