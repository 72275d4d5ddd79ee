#!/usr/bin/env bash
# What a client holds of isletd before and while its request arrives is
# bounded: 600 idle keyless connections from one address do not keep another
# address's keyed request from an answer (per-address limit); a connection
# that trickles its headers is cut at the header deadline; request bodies held
# in memory have a per-key budget, refused before any byte of the body is read,
# and isletd's memory does not grow by what is promised; MCP sessions are at
# most 64 per key (the longest idle goes first) and forgotten after 30
# minutes unused (a "minute" is 1 s here); a streamed answer may be silent
# longer than the idle timeout.  Needs root.
# Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_conns.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

export ISLETD_TEST_MINUTE_SECONDS=1
srv_init
PORT=${SRV_URL##*:}
PID=$SRV_PID

rss_kib () { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }

log "== 600 idle connections from 127.0.0.1, a keyed request from 127.0.0.2"
# the idle side: half a request line each, held for 20 s (or until told)
"$IT_PY" - "$PORT" >"$STATE.idle.out" 2>&1 <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(600):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /api/sandbox HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    except OSError:
        pass
print("opened", len(held), flush=True)
time.sleep(20)
EOF
IDLE=$!
wait_until 10 grep -q opened "$STATE.idle.out" || fail "the idle client did not open its sockets"
log "$(cat "$STATE.idle.out")"
t0=$(date +%s%N)
code=$(curl -s -o "$STATE.list" -w '%{http_code}' --max-time 5 --interface 127.0.0.2 \
  -H "Authorization: Bearer $SRV_KEY" "$SRV_URL/api/sandbox") || code=000
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $code == 200 ]] || fail "a keyed request from 127.0.0.2 under 600 idle connections: status $code"
(( ms < 2000 )) || fail "a keyed request from 127.0.0.2 took $ms ms under 600 idle connections"
log "answered in $ms ms"
kill "$IDLE" 2>/dev/null; wait "$IDLE" 2>/dev/null || true

log "== headers trickled a byte a second are cut at the deadline (10 s)"
"$IT_PY" - "$PORT" <<'EOF' >"$STATE.trickle" 2>&1 || fail "trickle: $(cat "$STATE.trickle")"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5, source_address=("127.0.0.3", 0))
t0 = time.monotonic()
line = b"GET /api/sandbox HTTP/1.1\r\nX-Slow: " + b"a" * 200
for i, b in enumerate(line):
    try:
        s.send(bytes([b]))
        s.settimeout(1.0)
        if s.recv(1) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
    if time.monotonic() - t0 > 40:
        break
held = time.monotonic() - t0
print("held %.1f s" % held)
sys.exit(0 if held < 15 else 1)
EOF
log "trickle: $(cat "$STATE.trickle")"

log "== bodies held in memory: a key's budget is refused before the body is read"
KB=$(new_key bodies)
rss0=$(rss_kib)
# five 15 MiB /mcp bodies announced, none sent whole: the fifth is over the
# key's 64 MiB and answered at once
"$IT_PY" - "$PORT" "$KB" <<'EOF' >"$STATE.bodies" 2>&1 || fail "bodies: $(cat "$STATE.bodies")"
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
n = 15 << 20
held, statuses = [], []
for i in range(5):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.4", 0))
    # the fifth sends its headers only: its answer must come before any of
    # its body (and a body sent meanwhile could meet the closed socket)
    s.sendall(("POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
               "Content-Length: %d\r\n\r\n" % (key, n)).encode() + (b" " * (1 << 20) if i < 4 else b""))
    held.append(s)
    time.sleep(0.3)
held[4].settimeout(3)
try:
    first = held[4].recv(200).split(b"\r\n")[0].decode()
except socket.timeout:
    first = "no answer"
print(first)
time.sleep(1)
sys.exit(0 if " 429 " in first else 1)
EOF
log "the fifth: $(cat "$STATE.bodies")"
rss1=$(rss_kib)
(( rss1 - rss0 < 96 * 1024 )) || fail "isletd grew by $(( (rss1 - rss0) / 1024 )) MiB for announced bodies"
log "isletd RSS $rss0 KiB before, $rss1 KiB after"
# the budget comes back when the connections are gone
budget_back () {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KB" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$SRV_URL/mcp")
  [[ $code != 429 && $code != 000 ]]
}
wait_until 10 budget_back || fail "the key's body budget did not come back"

log "== MCP sessions: 64 per key, the longest idle goes; 30 minutes unused and forgotten"
# mcp_init KEY: a new session's id, or "" with the status in CODE
mcp_init () {
  local h
  h=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
    "$SRV_URL/mcp" | tr -d '\r')
  CODE=$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' <<<"$h")
  sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p' <<<"$h"
}
# mcp_ping KEY SID: the status of a ping in that session
mcp_ping () {
  curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $1" \
    -H "Mcp-Session-Id: $2" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":2,"method":"ping"}' "$SRV_URL/mcp"
}
KM=$(new_key mcp-many)
first=$(mcp_init "$KM")
[[ -n "$first" ]] || fail "initialize: status $CODE, no session"
sleep 1.1 # the first is then the longest idle
for (( i = 0; i < 70; i++ )); do
  sid=$(mcp_init "$KM")
  [[ -n "$sid" ]] || fail "initialize $i of a key at its most sessions: status $CODE"
done
[[ $(mcp_ping "$KM" "$sid") == 200 ]] || fail "the newest session does not answer"
[[ $(mcp_ping "$KM" "$first") == 404 ]] || fail "the longest idle session was kept past 64 of the key"
mine=$(mcp_init "$SRV_KEY")
[[ -n "$mine" ]] || fail "another key's initialize after 71 of one key: status $CODE"
t0=$(date +%s)
sleep 20
[[ $(mcp_ping "$SRV_KEY" "$mine") == 200 ]] || fail "a session used 20 s ago was forgotten"
sleep 32
[[ $(mcp_ping "$KM" "$sid") == 404 ]] || fail "a session unused for 30 minutes (s here) was kept"
[[ $(mcp_ping "$SRV_KEY" "$mine") == 404 ]] || fail "a session unused for 32 s was kept"

log "== a streamed answer silent for 35 s outlives the 30 s idle timeout"
api POST /api/sandbox -d '{"name": "quiet"}'
expect_code "create" 200
ID=$(jq -r .id <<<"$BODY"); remember_id "$ID"
out=$(curl -s -N --max-time 60 -X POST -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' \
  -d '{"argv": ["sh", "-c", "echo a; sleep 35; echo b"], "timeout_ms": 50000, "stream": true}' \
  "$SRV_URL/v1/sandbox/$ID/exec") || true
grep -q '"exit_code":0' <<<"$out" || fail "a streamed exec silent for 35 s: $out"
grep -q '"stdout":"Ygo="' <<<"$out" || fail "a streamed exec silent for 35 s lost its output: $out"

pass
