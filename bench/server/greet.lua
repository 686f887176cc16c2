-- POST /api/v1/sync with one new visit.greeted event per request.
-- Ids are unique per run (BENCH_NONCE, 8 hex digits), wrk thread and request.
-- With BENCH_SESSIONS (a file of "cookie<TAB>csrf<TAB>branch" lines), the
-- requests go round the sessions, each greeting in its own branch.
dofile(os.getenv("BENCH_LUA_DIR") .. "/stats.lua")

local nonce = os.getenv("BENCH_NONCE")
local branch = os.getenv("BENCH_BRANCH") or "demo"
local counter = 0
local sessions = {}
local sessions_file = os.getenv("BENCH_SESSIONS")
if sessions_file then
  for line in io.lines(sessions_file) do
    local cookie, csrf, code = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
    table.insert(sessions, {cookie = cookie, csrf = csrf, branch = code})
  end
end

function request()
  counter = counter + 1
  local t = string.format("%04x", tid)
  local c = string.format("%012x", counter)
  local device = "bench-" .. nonce .. "-" .. t
  local headers, code = nil, branch
  if #sessions > 0 then
    local s = sessions[(counter + tid) % #sessions + 1]
    headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers["Cookie"], headers["X-CSRFToken"], code = s.cookie, s.csrf, s.branch
  end
  local body = string.format(
    '{"device_id": "%s", "events": [{"id": "%s-%s-4000-8000-%s", "type": "visit.greeted", ' ..
    '"occurred_at": "%s", "subject_id": "%s-%s-4000-9000-%s", "branch": "%s", ' ..
    '"device_id": "%s", "seq": %d, "payload": {"purpose": "cash"}}]}',
    device, nonce, t, c, os.date("!%Y-%m-%dT%H:%M:%SZ"), nonce, t, c, code, device, counter)
  return wrk.format("POST", nil, headers, body)
end
