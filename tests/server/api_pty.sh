#!/usr/bin/env bash
# PTY sessions through isletd (/process/pty...), the abuse cases: a
# terminal that floods output leaves isletd's memory where it was, with a
# viewer that reads, one that stops reading, and none, and its kill ends
# the flooding process; past 16 sessions a sandbox's next one is refused
# with a reason, over REST and over the WebSocket (upgraded, then the
# SDK's error message: never a bare refusal); a sandbox's stop kills its
# terminals' processes and ends their sessions; the shell runs in the
# sandbox (its devpts, its cgroup).
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_pty.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

WS="$IT_PY $(dirname "$0")/../lib/ws_client.py"
# the per-key bound (64) made small enough to reach with two sandboxes
export ISLETD_TEST_PTY_PER_KEY=18
srv_init

api POST /api/sandbox -d '{"name":"ptys","env":{}}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T="/toolbox/$A/process/pty"
WSURL="ws://${SRV_URL#http://}$T"
EXIT_CONTROL=X-Daytona-Pty-Exit-Control

# rss_kib: isletd's resident memory now; hwm_kib: its peak
rss_kib () { awk '/^VmRSS/ {print $2}' "/proc/$SRV_PID/status"; }
hwm_kib () { awk '/^VmHWM/ {print $2}' "/proc/$SRV_PID/status"; }

log "== a terminal in the sandbox"
out=$($WS "$WSURL/create-connect?id=t0&cols=90&rows=20" "$SRV_KEY" "$EXIT_CONTROL" -- \
  text 'send:stty size; tty\n' 'expect:20 90' 'expect:/dev/pts/' \
  'send:exit 7\n' text text) || fail "a terminal: $out"
grep -q "^protocol=$EXIT_CONTROL$" <<<"$out" || fail "the exit-control subprotocol is echoed: $out"
grep -q '^text={"type":"control","status":"connected"}$' <<<"$out" || fail "connected first: $out"
grep -q '"status":"exited","exitCode":7' <<<"$out" || fail "the exit code comes: $out"
grep -q '^close=1000 {"exitCode":7}$' <<<"$out" || fail "the close carries the exit code: $out"

log "== a shell that cannot start says why"
out=$($WS "$WSURL/create-connect?id=t1&cwd=/no/such/dir" "$SRV_KEY" "$EXIT_CONTROL" -- text text text) \
  || fail "a bad cwd: $out"
grep -q '"status":"exited","exitCode":12[67],"exitReason":"working directory `/no/such/dir`' <<<"$out" \
  || fail "a bad working directory is the reason of the exit: $out"

log "== too many: 16 per sandbox, the 17th refused with its reason"
for (( i = 1; i <= 16; i++ )); do
  api POST "$T" -H 'Content-Type: application/json' -d "{\"id\":\"p$i\",\"cols\":80,\"rows\":24}"
  expect_code "pty $i" 201
done
api POST "$T" -H 'Content-Type: application/json' -d '{"id":"p17"}'
expect_error "the 17th" 429
expect_body "the 17th: why" '.message | test("too many PTY sessions in sandbox")'
out=$($WS "$WSURL/create-connect?id=p17" "$SRV_KEY" "$EXIT_CONTROL" -- text text) \
  || fail "the 17th over the WebSocket: $out"
grep -q '^text={"type":"control","status":"error","error":"too many PTY sessions in sandbox' <<<"$out" \
  || fail "the 17th over the WebSocket says why in the SDK's form: $out"
grep -q '^close=1008 {"error":"too many PTY sessions' <<<"$out" || fail "and closes with it: $out"
out=$($WS "$WSURL/nosuch/connect" "$SRV_KEY" "$EXIT_CONTROL" -- text text) || fail "no such: $out"
grep -q "PTY session 'nosuch' not found" <<<"$out" || fail "a reattach to nothing says why: $out"
out=$($WS "$WSURL/p1/connect" "bad-key" "$EXIT_CONTROL" -- text text) || fail "bad key: $out"
grep -q '"error":"invalid API key"' <<<"$out" || fail "a bad key says why: $out"
api GET "$T"; expect_body "16 listed" '(.sessions | length) == 16 and all(.sessions[]; .active)'
api POST "$T" -H 'Content-Type: application/json' -d '{"id":"p1"}'; expect_error "the same id" 409
api POST /api/sandbox -d '{"name":"ptys2","env":{}}'; expect_code "a second sandbox" 200
B=$(jq -r .id <<<"$BODY"); remember_id "$B"
for i in 1 2; do
  api POST "/toolbox/$B/process/pty" -H 'Content-Type: application/json' -d "{\"id\":\"k$i\"}"
  expect_code "the key's pty $(( 16 + i ))" 201
done
api POST "/toolbox/$B/process/pty" -H 'Content-Type: application/json' -d '{"id":"k3"}'
expect_error "past the key's bound" 429
expect_body "past the key's bound: why" '.message | test("too many PTY sessions for this API key \\(18\\)")'
api DELETE "/api/sandbox/$B"; expect_code "delete the second sandbox" 200
islet exec "$A" -- sh -c 'ls /dev/pts | grep -c "^[0-9]"' | grep -qx 16 \
  || fail "the 16 terminals are the sandbox's own ptys"
for (( i = 1; i <= 16; i++ )); do
  api DELETE "$T/p$i"; expect_code "kill p$i" 200
done
api GET "$T"; expect_body "none left" '(.sessions | length) == 0'
# the kernel lets a pty go in a work item, a moment after its last close
for (( i = 0; i < 30; i++ )); do
  left=$(islet exec "$A" -- sh -c 'ls /dev/pts | grep -v ptmx' || true)
  [[ -z "$left" ]] && break
  sleep 0.1
done
[[ -z "$left" ]] || fail "the killed terminals' ptys are gone; left: $left"

log "== a flood of output does not grow isletd"
base=$(rss_kib)
hwm0=$(hwm_kib)
# a viewer that reads, then one that stops reading (its sends wait, then it
# is dropped), then none: the terminal prints as fast as it can throughout
out=$($WS "$WSURL/create-connect?id=flood" "$SRV_KEY" "$EXIT_CONTROL" -- \
  text 'send:yes 0123456789012345678901234567890123456789012345678901234567890123456789\n' \
  drain:4 sleep:8) || fail "flood: $out"
drained=$(sed -n 's/^drained=//p' <<<"$out")
(( drained > 1000000 )) || fail "the reading viewer got only $drained bytes in 4 s"
sleep 4 # no viewer at all
api GET "$T/flood"; expect_body "still alive" '.active'
out=$($WS "$WSURL/flood/connect" "$SRV_KEY" "$EXIT_CONTROL" -- text 'expect:0123456789' 'send:\x03' \
  'send:echo after-$((40+2))\n' 'expect:after-42') || fail "a reattach to the flood: $out"
hwm1=$(hwm_kib)
log "isletd: rss ${base} KiB before, peak ${hwm0} -> ${hwm1} KiB after ${drained} bytes read"
(( hwm1 - hwm0 < 32768 )) || fail "isletd's peak memory grew by $(( hwm1 - hwm0 )) KiB during the flood"
api DELETE "$T/flood"; expect_code "kill the flood" 200
for (( i = 0; i < 50; i++ )); do islet exec "$A" -- pgrep -x yes >/dev/null || break; sleep 0.1; done
islet exec "$A" -- pgrep -x yes >/dev/null && fail "the flood's yes runs on after its terminal was killed"

log "== a stop kills the terminal's processes"
out=$($WS "$WSURL/create-connect?id=s1" "$SRV_KEY" "$EXIT_CONTROL" -- text \
  'send:sleep 4242 & echo started-$((1+1))x\n' 'expect:started-2x') || fail "start a sleep: $out"
islet exec "$A" -- pgrep -f 'sleep 4242' >/dev/null || fail "the terminal's sleep runs"
cg=$(find /sys/fs/cgroup -maxdepth 4 -type d -path "*/islet/$A" 2>/dev/null | head -1)
[[ -n "$cg" ]] || fail "no cgroup of the sandbox"
sleep_pid=
for f in $(find "$cg" -name cgroup.procs); do
  while read -r pid; do
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == "sleep 4242 " ]] && sleep_pid=$pid
  done <"$f"
done
[[ -n "$sleep_pid" ]] || fail "the sleep is in one of the sandbox's exec groups"
api POST "/api/sandbox/$A/stop"; expect_code "stop" 200
for (( i = 0; i < 50; i++ )); do
  [[ -d /proc/$sleep_pid ]] || break; sleep 0.1
done
[[ -d /proc/$sleep_pid ]] && fail "the terminal's sleep (host pid $sleep_pid) outlived the stop"
api POST "/api/sandbox/$A/start"; expect_code "start" 200
api GET "$T"; expect_body "the session ended with its sandbox" '(.sessions | length) == 0'
api GET "$T/s1"; expect_error "info of the ended session" 404

log "all PTY checks passed"
