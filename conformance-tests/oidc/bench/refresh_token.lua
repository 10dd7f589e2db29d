-- wrk: refresh_token grants with rotation. Each refresh token works once, so every
-- thread keeps a queue: it starts with its share of BENCH_TOKENS (one per line) and
-- each response puts the new refresh token back. Each connection has at most one
-- request in flight, so the queue never runs dry while it holds more tokens than the
-- thread has connections.
local threads = {}
local queue = {}
local basic = os.getenv("BENCH_BASIC")

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
  thread:set("nthreads", 0)
end

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if (i % n) + 1 == id then
      table.insert(queue, line)
    end
    i = i + 1
  end
end

function request()
  local token = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = basic,
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    table.insert(queue, token)
  end
end
