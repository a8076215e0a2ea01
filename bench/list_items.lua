-- GET /items filtered by a random category (sorted by sku) on one of the first 20 pages.
local categories = {"Fasteners", "Electrical", "Plumbing", "Tools", "Safety", "Packaging", "Cleaning", "Paint"}
local token = os.getenv("BENCH_TOKEN")
local prefix = os.getenv("BENCH_PREFIX") or "/api/v1/items"
math.randomseed(os.time() + 1)
request = function()
  local path = prefix .. "?per_page=50&category=" .. categories[math.random(1, #categories)]
    .. "&page=" .. math.random(1, 20)
  local headers = {}
  if token then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", path, headers)
end
