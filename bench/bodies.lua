-- wrk script: POST to the path TARGET a random JSON body of the file
-- BODIES (one a line), e.g. documents to verify or claims to match. With
-- TOKEN, as a consumer naming purpose and case; without, anonymously.
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local path = os.getenv("TARGET")
local headers = {["Content-Type"] = "application/json"}
if os.getenv("TOKEN") then
  headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
  headers["X-Purpose"] = "bench"
  headers["X-Case-Id"] = "bench-1"
end

init = function(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end

request = function()
  return wrk.format("POST", path, headers, bodies[math.random(#bodies)])
end

response = function(status, _, body)
  if status ~= 200 then io.stderr:write(status .. " " .. body .. "\n") end
end
