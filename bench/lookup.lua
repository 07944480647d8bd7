-- wrk script: GET /api/v1/certificates?holder_id=…&type=… for a random
-- holder from HOLDERS (one id a line, as `certhub gen --holders-file`
-- writes), as a consumer naming purpose and case.
local holders = {}
for line in io.lines(os.getenv("HOLDERS")) do holders[#holders + 1] = line end
-- SCOPE=federation asks the hub to forward the lookup (docs/federation.md).
local scope = os.getenv("SCOPE") and ("scope=" .. os.getenv("SCOPE") .. "&") or ""
local path = "/api/v1/certificates?" .. scope .. "type=" .. os.getenv("TYPE") .. "&holder_id="
local headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["X-Purpose"] = "bench", ["X-Case-Id"] = "bench-1"}
local misses = 0

init = function(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end

request = function()
  return wrk.format("GET", path .. holders[math.random(#holders)], headers)
end

response = function(status, _, body)
  if status ~= 200 then io.stderr:write(status .. " " .. body .. "\n") end
end
