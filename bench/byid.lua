-- wrk script: GET /api/v1/certificates/<id> for a random identifier from
-- IDS (one a line), as a consumer naming purpose and case (TOKEN).
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["X-Purpose"] = "bench", ["X-Case-Id"] = "bench-1"}

init = function(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end

request = function()
  return wrk.format("GET", "/api/v1/certificates/" .. ids[math.random(#ids)], headers)
end

response = function(status, _, body)
  if status ~= 200 then io.stderr:write(status .. " " .. body .. "\n") end
end
