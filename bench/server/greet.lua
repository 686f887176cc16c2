-- POST /api/v1/sync with one new visit.greeted event per request.
-- Ids are unique per run (BENCH_NONCE, 8 hex digits), wrk thread and request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/stats.lua")

local nonce = os.getenv("BENCH_NONCE")
local branch = os.getenv("BENCH_BRANCH") or "demo"
local counter = 0

function request()
  counter = counter + 1
  local t = string.format("%04x", tid)
  local c = string.format("%012x", counter)
  local device = "bench-" .. nonce .. "-" .. t
  local body = string.format(
    '{"device_id": "%s", "events": [{"id": "%s-%s-4000-8000-%s", "type": "visit.greeted", ' ..
    '"occurred_at": "%s", "subject_id": "%s-%s-4000-9000-%s", "branch": "%s", ' ..
    '"device_id": "%s", "seq": %d, "payload": {"purpose": "cash"}}]}',
    device, nonce, t, c, os.date("!%Y-%m-%dT%H:%M:%SZ"), nonce, t, c, branch, device, counter)
  return wrk.format("POST", nil, nil, body)
end
