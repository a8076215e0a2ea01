-- GET /items filtered by a random category (sorted by sku) on one of the first 20 pages.
local categories = {"Fasteners", "Electrical", "Plumbing", "Tools", "Safety", "Packaging", "Cleaning", "Paint"}
local token = os.getenv("BENCH_TOKEN")
math.randomseed(os.time() + 1)
request = function()
  local path = "/api/v1/items?per_page=50&category=" .. categories[math.random(1, #categories)]
    .. "&page=" .. math.random(1, 20)
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
