-- GET one item by a random id among the seeded ones.
local max_id = tonumber(os.getenv("BENCH_MAX_ID") or "100000")
local prefix = os.getenv("BENCH_PREFIX") or "/api/v1/items/"
local token = os.getenv("BENCH_TOKEN")
math.randomseed(os.time())
request = function()
  local headers = {}
  if token then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", prefix .. math.random(1, max_id), headers)
end
