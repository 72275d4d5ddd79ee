# shellcheck shell=bash disable=SC2034
# Helpers of the isletd tests (tests/server/*.sh), sourced after
# tests/lib/integration.sh: start isletd on a free loopback port with the
# test's private state directory, talk to it with curl, stop it at exit
# (before integration.sh's clean-up removes the sandboxes).
#
# Environment (set by ctest): ISLETD_BIN, path of build/isletd.

SRV_PID=
SRV_URL=
SRV_KEY=
SRV_ARGS=() # more options of isletd, set before srv_init
# isletd's pools are on by default; the suite's servers (which count
# sandboxes, processes and disk) run without them unless a test asks for
# them: in SRV_ARGS (which come after these and win), or SRV_POOLS=() for
# isletd's own defaults
SRV_POOLS=(--create-pool 0 --v1-pool 0)

# srv_start: start isletd (port 0: the kernel picks a free one) and wait,
# at most 20 s, for the URL it prints.
srv_start () {
  local i
  if [[ -z "${ISLETD_BIN:-}" ]]; then
    ISLETD_BIN="$(dirname "$ISLET_BIN")/isletd"
  fi
  [[ -x "$ISLETD_BIN" ]] || fail "no isletd binary at '$ISLETD_BIN' (set ISLETD_BIN)"
  # emptied here, not by the child's redirection, which may come after the
  # first look below: a restart would then read the previous isletd's URL
  : >"$STATE.srv.out"
  "$ISLETD_BIN" --listen 127.0.0.1:0 --state-dir "$STATE" "${SRV_POOLS[@]}" "${SRV_ARGS[@]}" >"$STATE.srv.out" 2>"$STATE.srv.err" </dev/null &
  SRV_PID=$!
  for (( i = 0; i < 200; i++ )); do
    SRV_URL=$(sed -n 's|^isletd: serving the Daytona API at \(http://[^ ]*\)/api$|\1|p' "$STATE.srv.out")
    [[ -n "$SRV_URL" ]] && break
    alive "$SRV_PID" || fail "isletd exited at start: $(cat "$STATE.srv.err")"
    sleep 0.1
  done
  [[ -n "$SRV_URL" ]] || fail "isletd printed no URL within 20 s"
  SRV_KEY=$(cat "$STATE/api-key") || fail "no API key file"
  log "isletd $SRV_PID at $SRV_URL"
}

srv_stop () {
  local i
  [[ -n "$SRV_PID" ]] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null
  for (( i = 0; i < 100; i++ )); do
    alive "$SRV_PID" || break
    sleep 0.1
  done
  alive "$SRV_PID" && kill -KILL "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null
  SRV_PID=
  return 0
}

srv_cleanup () {
  local rc=$?
  srv_stop
  it_cleanup "$rc"
}

# srv_init: it_init, then isletd, and a trap that stops isletd first.
srv_init () {
  it_init
  for tool in curl jq sqlite3 sha256sum cmp; do
    command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps installs it)"
  done
  trap srv_cleanup EXIT
  srv_start
}

# api [-k KEY] METHOD PATH [curl options...]: a request to isletd; the
# body in BODY, the status in CODE.  PATH is relative to the server's URL.
api () {
  local key=$SRV_KEY
  if [[ "$1" == -k ]]; then key=$2; shift 2; fi
  local method=$1 path=$2
  shift 2
  local f auth=()
  [[ -n "$key" ]] && auth=(-H "Authorization: Bearer $key")
  f=$(mktemp "$STATE.body.XXXXXX")
  CODE=$(curl -s -o "$f" -w '%{http_code}' --max-time 120 -X "$method" "${auth[@]}" "$@" \
    "$SRV_URL$path") || CODE=000
  BODY=$(cat "$f")
  rm -f "$f"
}

# expect_code WHAT WANT: the last api call's status.
expect_code () {
  [[ "$CODE" == "$2" ]] || fail "$1: status $CODE, want $2; body: ${BODY:0:400}"
}

# expect_body WHAT JQ-EXPR: the last api call's body makes the expression true.
expect_body () {
  [[ $(printf '%s' "$BODY" | jq -r "$2" 2>/dev/null) == true ]] \
    || fail "$1: expected $2; body: ${BODY:0:400}"
}

# expect_error WHAT STATUS: an error in the reference's shape.
expect_error () {
  expect_code "$1" "$2"
  expect_body "$1" "(.statusCode == $2) and (.message | type == \"string\" and length > 0) and (.code | type == \"string\")"
}

# wait_sandbox [-k KEY] ID STATE [SECONDS]: GET the sandbox until it is
# STATE (or settled in another: started, error, build_failed), at most
# SECONDS (default 60); its last answer in BODY.
wait_sandbox () {
  local i st key=$SRV_KEY
  if [[ "$1" == -k ]]; then key=$2; shift 2; fi
  for (( i = 0; i < ${3:-60} * 10; i++ )); do
    api -k "$key" GET "/api/sandbox/$1"
    st=$(jq -r .state <<<"$BODY")
    [[ "$st" == "$2" || "$st" == started || "$st" == error || "$st" == build_failed ]] && break
    sleep 0.1
  done
  [[ "$st" == "$2" ]] || fail "sandbox $1 is $st, want $2: ${BODY:0:400}"
}

# isletd_cmd ARGS...: isletd's own commands (key ...) on the test's state.
isletd_cmd () {
  "$ISLETD_BIN" --state-dir "$STATE" "$@"
}

# new_key [NAME]: a new API key (another organization), made by
# `isletd key create`, printed.
new_key () {
  local k
  k=$(isletd_cmd key create --name "${1:-test}" 2>/dev/null) || fail "isletd key create"
  [[ "$k" =~ ^islet_[0-9a-f]{48}$ ]] || fail "isletd key create printed '$k', not a key"
  printf '%s' "$k"
}

# sh_in CMD: run a shell command in the sandbox whose toolbox path is in T
# (/toolbox/ID); its output in OUT.
sh_in () {
  api POST "$T/process/execute" -d "$(jq -n --arg c "$1" '{command: ("sh -c " + ($c | @sh | gsub("^'"'"'|'"'"'$"; "\"")))}')"
  expect_code "execute $1" 200
  OUT=$(jq -r .result <<<"$BODY")
}

# mcp_open [KEY]: an MCP session on /mcp (initialize, then initialized)
# for mcp; KEY defaults to the admin key.
mcp_open () {
  local hdr
  MCP_H=(-H "Authorization: Bearer ${1:-$SRV_KEY}" -H 'Content-Type: application/json'
         -H 'Accept: application/json, text/event-stream')
  hdr=$(mktemp "$STATE.hdr.XXXXXX")
  curl -s -D "$hdr" -o /dev/null "${MCP_H[@]}" -X POST "$SRV_URL/mcp" -d \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}'
  MCP_SID=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([0-9a-f]*\).*/\1/p' "$hdr")
  [[ -n "$MCP_SID" ]] || fail "no MCP session: $(cat "$hdr")"
  rm -f "$hdr"
  mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}'
}

# mcp JSON: one JSON-RPC message in the session of mcp_open; the answer in BODY.
mcp () {
  BODY=$(curl -s "${MCP_H[@]}" -H "Mcp-Session-Id: $MCP_SID" -H 'MCP-Protocol-Version: 2025-06-18' \
    -X POST "$SRV_URL/mcp" -d "$1")
}
