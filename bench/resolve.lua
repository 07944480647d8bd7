-- wrk script: POST /api/v1/service-items/ITEM/resolve for a random
-- applicant from HOLDERS, with a fresh case id per request, as a consumer.
local holders = {}
for line in io.lines(os.getenv("HOLDERS")) do holders[#holders + 1] = line end
local item = os.getenv("ITEM")
local path = "/api/v1/service-items/" .. item .. "/resolve"
local headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}
local n = 0

init = function(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end

request = function()
  n = n + 1
  local body = string.format('{"applicant":{"kind":"organisation","id":"%s"},"case_id":"bench-%d-%d","purpose":"%s"}',
    holders[math.random(#holders)], math.random(1000000000), n, item)
  return wrk.format("POST", path, headers, body)
end

response = function(status, _, body)
  if status ~= 200 then io.stderr:write(status .. " " .. body .. "\n") end
end
