-- wrk script: issue 不动产权证书 (the demo catalog's type) to a different,
-- valid citizen each request. TOKEN is a bearer token that may issue for
-- the natural-resources bureau.
local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"
local counter = 0
local thread_id = 0

setup = function(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

local function citizen(n)
  local first = string.format("330102%04d%02d%02d%03d", 1950 + n % 50, 1 + n % 12, 1 + n % 28, n % 1000)
  local sum = 0
  for i = 1, 17 do sum = sum + tonumber(first:sub(i, i)) * weights[i] end
  local k = sum % 11 + 1
  return first .. checks:sub(k, k)
end

request = function()
  counter = counter + 1
  local n = counter * 16 + thread_id
  local body = string.format([[{"type":"11330100MB0000002W001","authority":"11330100MB0000002W",
  "holder":{"kind":"person","id":"%s","name":"张三"},
  "data":{"certificate_no":"浙（2026）杭州市不动产权第%07d号","unit_no":"330102001001GB00001F%08d","location":"杭州市上城区延安路1号",
  "right_type":"国有建设用地使用权/房屋所有权","usage":"城镇住宅用地/住宅","area":89.5,"co_ownership":"单独所有"},
  "valid_from":"2026-01-01"}]], citizen(n), n % 10000000, n)
  return wrk.format("POST", "/api/v1/certificates", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end

response = function(status, headers, body)
  if status ~= 201 then io.stderr:write(status .. " " .. body .. "\n") end
end
