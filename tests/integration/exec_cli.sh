#!/usr/bin/env bash
# `islet exec ID`: the CLI resolves ID (an id, a unique prefix or a name)
# and sends the exec; it reads nothing else of the sandbox first (not its
# config.json, which its supervisor read at its start; not its state from
# the supervisor, which refuses an exec itself when it cannot serve it).
# What must hold: an exec served by the ready handler on exec.sock makes
# no connection to ctl.sock; an exec is served while config.json does not
# parse; a
# missing, a stopped, a paused and a half-made sandbox are each refused
# with their reason and status 125 (with --json, as an error object), and
# the paused one is served again after a resume.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb --name exec-cli)
remember_id "$id"

log "an id, a prefix and a name reach the sandbox"
for ref in "$id" "${id:0:5}" exec-cli; do
  out=$(islet exec "$ref" -- echo "to $ref") || fail "exec $ref failed"
  expect_eq "exec $ref" "$out" "to $ref"
done

log "no connection to ctl.sock: the ready handler serves the exec alone"
wait_until 5 test -S "$STATE/sandboxes/$id/exec.sock" || fail "no exec.sock after three execs"
ctl=$STATE/sandboxes/$id/ctl.sock
mv "$ctl" "$STATE.ctl"
# a listener in ctl.sock's place counts the connections the exec makes there
got=$("$IT_PY" - "$ctl" "$ISLET_BIN" "$STATE" "$id" <<'PY'
import socket, subprocess, sys
path, islet, state, sid = sys.argv[1:5]
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(path)
ls.listen(16)
r = subprocess.run([islet, "--state-dir", state, "exec", sid, "--", "echo", "alone"],
                   stdin=subprocess.DEVNULL, capture_output=True, text=True)
ls.setblocking(False)
n = 0
try:
    while True:
        ls.accept()
        n += 1
except BlockingIOError:
    pass
ls.close()
print(r.returncode, r.stdout.strip(), n)
PY
)
rm -f "$ctl"
mv "$STATE.ctl" "$ctl"
expect_eq "exec beside a counting ctl.sock: status, output, connections there" "$got" "0 alone 0"

log "the sandbox's config.json is not read by an exec"
cfg=$STATE/sandboxes/$id/config.json
cp -p "$cfg" "$STATE.cfg"
printf 'not json' >"$cfg"
capture islet exec "$id" -- echo served
cp -p "$STATE.cfg" "$cfg"
expect_eq "exec with config.json unparsable: status (stderr: $ERR)" "$RC" 0
expect_eq "exec with config.json unparsable: output" "$OUT" served

# refused REF WHY: islet exec REF is refused with status 125 and WHY in its
# message, on stderr and as --json's error object
refused () {
  capture islet exec "$1" -- echo ran
  expect_eq "exec $1: status (stderr: $ERR)" "$RC" 125
  [[ "$ERR" == *"$2"* && "$OUT" != *ran* ]] || fail "exec $1: stderr '$ERR', stdout '$OUT'; want '$2'"
  capture islet exec --json "$1" -- echo ran
  expect_eq "exec --json $1: status" "$RC" 125
  [[ $(jget "$OUT" 'j["error"]["message"]') == *"$2"* ]] || fail "exec --json $1: '$OUT'"
}

log "refused: missing, paused, stopped, half-made"
refused no-such-sandbox "no sandbox 'no-such-sandbox'"
islet pause "$id" >/dev/null || fail "pause"
refused exec-cli "is paused"
islet start "$id" >/dev/null || fail "resume"
out=$(islet exec exec-cli -- echo resumed) || fail "exec after resume failed"
expect_eq "exec after resume" "$out" resumed
islet stop "$id" >/dev/null || fail "stop"
refused "$id" "is not running"
half=0123456789ab
mkdir "$STATE/sandboxes/$half"
refused "$half" "is not running"
rmdir "$STATE/sandboxes/$half"
pass "exec resolves the id alone; every refusal kept"
