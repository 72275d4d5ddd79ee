#!/usr/bin/env bash
# exec.sock: the sandbox's ready exec handler accepts an exec's connection
# itself, without the supervisor's hop.  What must hold: it takes exec
# requests only (a `stop` sent there stops nothing, whether the ready
# handler or the supervisor reads it); a client that connects and says
# nothing holds up no other exec; several execs at once each get their own
# output and status; a paused sandbox refuses execs (no ready handler
# accepts them meanwhile) and serves them again after a resume; the
# socket is gone once the sandbox stops; a client whose stdin stalls after
# its request holds up no other exec either.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb)
remember_id "$id"
xsock="$STATE/sandboxes/$id/exec.sock"

for i in 1 2 3; do
  out=$(islet exec "$id" -- echo "warm $i") || fail "exec $i failed"
  expect_eq "exec $i" "$out" "warm $i"
done
wait_until 5 test -S "$xsock" || fail "no exec.sock after three execs"

# ask SOCKET JSON: send one request frame, print the first answer frame
ask () {
  "$IT_PY" - "$1" "$2" <<'EOF'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
body = sys.argv[2].encode()
s.sendall(struct.pack("<I", len(body)) + b"J" + body)
hdr = b""
while len(hdr) < 5:
    b = s.recv(5 - len(hdr))
    if not b:
        break
    hdr += b
if len(hdr) < 5:
    print("closed")
    sys.exit(0)
n = struct.unpack("<I", hdr[:4])[0]
data = b""
while len(data) < n:
    data += s.recv(n - len(data))
print(data.decode())
EOF
}

# the ready handler (made after the third exec) reads this one
got=$(ask "$xsock" '{"op":"stop"}')
[[ $got == *"exec requests only"* ]] || fail "stop on exec.sock (ready handler): got '$got'"
expect_eq "state after a stop sent to exec.sock" "$(sb_info "$id" 'j["state"]')" running

# a silent client on exec.sock, then execs: each must be served
"$IT_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
time.sleep(8)' "$xsock" &
silent=$!
sleep 0.3
t0=$(date +%s%N)
for i in 1 2 3; do
  out=$(timeout 20 "$ISLET_BIN" --state-dir "$STATE" exec "$id" -- echo "after silent $i" </dev/null) \
    || fail "exec $i after a silent client failed"
  expect_eq "exec $i after a silent client" "$out" "after silent $i"
done
log "3 execs with a silent client connected: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null || true

# a request that comes whole with stdin to follow, which never does: the
# handler reads the request at once, but tells the supervisor before it
# waits on the stdin, so other execs are not held up behind it.  The ready
# handlers (one, or two once one serves again) are stopped until the
# request is there, so that the one that takes it finds it whole.
sup=$(pgrep -f "islet-run $STATE $id" | head -1)
[[ -n $sup ]] || fail "no supervisor for $id"
ready_only () { local n; n=$(pgrep -c -P "$sup" -x islet-exec); ((n >= 1 && n <= 2)); }
wait_until 5 ready_only || fail "no ready exec handler alone"
ready=$(pgrep -P "$sup" -x islet-exec | tr '\n' ' ')
# shellcheck disable=SC2086 # one or two pids
kill -STOP $ready
"$IT_PY" -c '
import json, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
body = json.dumps({"op": "exec", "argv": ["cat"], "stdin": True}).encode()
s.sendall(struct.pack("<I", len(body)) + b"J" + body)
time.sleep(30)' "$xsock" &
stalled=$!
sleep 0.3
# shellcheck disable=SC2086
kill -CONT $ready
for i in 1 2 3; do
  out=$(timeout 10 "$ISLET_BIN" --state-dir "$STATE" exec "$id" -- echo "after stalled $i" </dev/null) \
    || fail "exec $i with a client stalled on its stdin failed (held up?)"
  expect_eq "exec $i with a client stalled on its stdin" "$out" "after stalled $i"
done
kill "$stalled" 2>/dev/null
wait "$stalled" 2>/dev/null || true

# six at once, each its own output and status
for i in 1 2 3 4 5 6; do
  islet exec "$id" -- sh -c "sleep 0.2; echo out-$i; echo err-$i >&2; exit $i" \
    >"$STATE.c$i.out" 2>"$STATE.c$i.err" </dev/null &
  pids[$i]=$!
done
for i in 1 2 3 4 5 6; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  expect_eq "concurrent exec $i: status" "$rc" "$i"
  expect_eq "concurrent exec $i: stdout" "$(cat "$STATE.c$i.out")" "out-$i"
  expect_eq "concurrent exec $i: stderr" "$(cat "$STATE.c$i.err")" "err-$i"
done

# paused: no exec runs, through either socket; the supervisor refuses a stop on exec.sock
islet exec "$id" -- true || fail "exec before the pause failed"
islet pause "$id" >/dev/null || fail "pause failed"
capture islet exec "$id" -- echo ran
[[ $RC != 0 && $ERR == *paused* && $OUT != *ran* ]] \
  || fail "exec while paused: status $RC, stdout '$OUT', stderr '$ERR'"
got=$(ask "$xsock" '{"op":"exec","argv":["echo","ran"]}')
[[ $got == *paused* ]] || fail "exec on exec.sock while paused: got '$got'"
got=$(ask "$xsock" '{"op":"stop"}')
[[ $got == *"exec requests only"* ]] || fail "stop on exec.sock (supervisor): got '$got'"
expect_eq "state after a stop sent to exec.sock while paused" "$(sb_info "$id" 'j["state"]')" paused
islet start "$id" >/dev/null || fail "resume failed"
for i in 1 2 3 4; do
  out=$(islet exec "$id" -- echo "resumed $i") || fail "exec $i after the resume failed"
  expect_eq "exec $i after the resume" "$out" "resumed $i"
done

islet stop "$id" >/dev/null || fail "stop failed"
[[ ! -e $xsock ]] || fail "exec.sock is left after the stop"
capture islet exec "$id" -- true
[[ $RC != 0 && $ERR == *"not running"* ]] || fail "exec after the stop: status $RC, '$ERR'"
pass
