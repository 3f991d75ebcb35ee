-- The request side of `ticketvelo edgebench`, run by wrk:
--
--   wrk ... -s edgebench.lua URL -- METHOD PATH HEADER TOKENS LIMITS THREADS READY
--
-- HEADER is one extra "Name: value" header or empty. Without TOKENS every
-- request is the same and wrk builds it once. With TOKENS, thread n reads
-- the file TOKENS.n, one Authorization header value a line, and sends each
-- line once, in order; past the file's end, or past the n-th number of the
-- comma-separated LIMITS, it starts again from the second line and counts
-- a wrap. Not from the first: before the threads start, wrk checks the
-- script by building one request of the first thread, which takes that
-- thread's first line without sending it (so a join never queued that
-- fan). "used" counts that line too. READY is a path no file has yet,
-- the start gate's (see startGate).
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

local ffi = require("ffi")
ffi.cdef("int usleep(unsigned int usec);")

-- startGate holds a thread's first request until the last thread has built
-- its requests. wrk starts each thread right after its init and its clock
-- after the last one: a thread sending while a later one still builds
-- would add requests the clock does not see. The last thread marks the
-- gate open with a file; thread 1's first call is wrk's check, not a
-- request, so its wait comes with its second.
function startGate(marker, threads)
   if id == threads then
      assert(io.open(marker, "w")):close()
      return function() end
   end
   local calls, first = 0, (id == 1) and 2 or 1
   return function()
      calls = calls + 1
      if calls ~= first then return end
      while true do
         local f = io.open(marker, "r")
         if f then f:close() return end
         ffi.C.usleep(500)
      end
   end
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
   local limit = nth(args[5], id)
   local headers = {Authorization = "EDGEBENCH-TOKEN"}
   for k, v in pairs(wrk.headers) do
      headers[k] = v
   end
   local template = wrk.format(nil, nil, headers)
   local at = string.find(template, "EDGEBENCH-TOKEN", 1, true)
   local head, tail = string.sub(template, 1, at - 1), string.sub(template, at + 15)
   -- Every request is built here, before wrk starts its clock: building
   -- one per call (reading a line, joining strings, interning the result)
   -- cost wrk ~2.5 µs a request, CPU the server under test then lacks on
   -- a machine both share.
   local reqs, n = {}, 0
   for line in io.lines(args[4] .. "." .. id) do
      if limit ~= nil and n >= limit then break end
      n = n + 1
      reqs[n] = head .. line .. tail
   end
   assert(n > 0, "empty token file")
   local pos = 0
   local wait = startGate(args[7], tonumber(args[6]))
   request = function()
      wait()
      if pos >= n then
         wrapped = wrapped + 1
         pos = (n > 1) and 1 or 0
      end
      pos = pos + 1
      used = used + 1
      return reqs[pos]
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
