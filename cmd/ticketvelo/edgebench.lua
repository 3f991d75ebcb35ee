-- The request side of `ticketvelo edgebench`, run by wrk:
--
--   wrk ... -s edgebench.lua URL -- METHOD PATH HEADER TOKENS LIMITS
--
-- HEADER is one extra "Name: value" header or empty. Without TOKENS every
-- request is the same and wrk builds it once. With TOKENS, thread n reads
-- the file TOKENS.n, one Authorization header value a line, and sends each
-- line once, in order; past the file's end, or past the n-th number of the
-- comma-separated LIMITS, it starts again from the second line and counts
-- a wrap. Not from the first: before the threads start, wrk checks the
-- script by building one request of the first thread, which takes that
-- thread's first line without sending it (so a join never queued that
-- fan). "used" counts that line too.
-- done() prints one line that edgebench parses:
--
--   EDGEBENCH requests=N duration_us=N ... used=n1,n2 wrapped=N

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local function nth(list, n)
   local i = 0
   for item in string.gmatch(list or "", "[^,]+") do
      i = i + 1
      if i == n then return tonumber(item) end
   end
   return nil
end

function init(args)
   used, wrapped = 0, 0
   wrk.method = args[1]
   wrk.path = args[2]
   if args[1] == "POST" then
      wrk.body = ""
   end
   local name, value = string.match(args[3] or "", "^([^:]+):%s*(.*)$")
   if name then
      wrk.headers[name] = value
   end
   if (args[4] or "") == "" then
      return
   end
   local file = assert(io.open(args[4] .. "." .. id, "r"))
   local limit = nth(args[5], id)
   local headers = {Authorization = "EDGEBENCH-TOKEN"}
   for k, v in pairs(wrk.headers) do
      headers[k] = v
   end
   local template = wrk.format(nil, nil, headers)
   local at = string.find(template, "EDGEBENCH-TOKEN", 1, true)
   local head, tail = string.sub(template, 1, at - 1), string.sub(template, at + 15)
   local pos = 0
   request = function()
      local line
      if limit == nil or pos < limit then
         line = file:read("*l")
      end
      if line == nil then
         wrapped = wrapped + 1
         file:seek("set")
         local first = assert(file:read("*l"), "empty token file")
         pos = 1
         line = file:read("*l")
         if line == nil or (limit ~= nil and limit < 2) then
            line = first -- nothing after the first line to use
            file:seek("set")
            pos = 0
         end
      end
      pos = pos + 1
      used = used + 1
      return head .. line .. tail
   end
end

function done(summary, latency, requests)
   local used, wrapped = {}, 0
   for _, t in ipairs(threads) do
      table.insert(used, string.format("%d", t:get("used") or 0))
      wrapped = wrapped + (t:get("wrapped") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "EDGEBENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "connect=%d read=%d write=%d status=%d timeout=%d used=%s wrapped=%d\n",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, table.concat(used, ","), wrapped))
end
