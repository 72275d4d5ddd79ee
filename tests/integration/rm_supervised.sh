#!/usr/bin/env bash
# A remove never takes a sandbox's storage from under a supervisor that is
# still starting it or finishing its stop (it holds the sandbox's run lock
# from before its start to its exit).  This is what lets the next isletd's
# sweep remove the sandbox of a create whose isletd was killed while the
# supervisor was still starting it, without leaving a half-made one.
#   - `islet rm` of a stopped sandbox whose run lock is held waits until it
#     is let go: the directory is whole while the lock is held, and gone
#     with everything else after;
#   - a supervisor asked to start a sandbox by a creator that is already
#     gone does not start it (its log says why), and the sandbox stays
#     stopped and removable.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb)
remember_id "$id"
dir="$STATE/sandboxes/$id"
islet stop "$id" >/dev/null || fail "stop failed"
[[ -e "$dir/run.lock" ]] || fail "no run lock at $dir/run.lock"

log "== rm while the run lock is held (as by a supervisor still starting)"
mark="$STATE.mark"
# holds the lock for 1.5 s, then records whether the directory was still whole
flock -x "$dir/run.lock" sh -c \
  "sleep 1.5; if [ -f '$dir/config.json' ]; then echo whole; else echo gone; fi >'$mark'" &
holder=$!
sleep 0.3 # the holder has the lock (flock takes it before its command runs)
t0=$(date +%s%N)
out=$(islet rm "$id" 2>&1) || fail "rm failed: $out"
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$holder" || fail "the lock holder failed"
expect_eq "the directory while the lock was held" "$(cat "$mark")" whole
(( waited >= 900 )) || fail "rm returned after $waited ms, before the lock was let go"
[[ ! -e "$dir" ]] || fail "the directory is left after rm"
capture islet ls --json
expect_eq "sandboxes after rm" "$(jget "$OUT" 'len(j["sandboxes"])')" 0

log "== a start asked by a creator that is gone"
id=$(create_sb)
remember_id "$id"
dir="$STATE/sandboxes/$id"
islet stop "$id" >/dev/null || fail "stop failed"
# run_gone [VAR=VALUE...]: islet-run STATE ID 3, fd 3 the write end of a
# pipe whose reader is closed, with these in its environment; its status
run_gone () {
  /usr/bin/python3 - "$(dirname "$ISLET_BIN")/islet-run" "$STATE" "$id" "$@" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
if w != 3:
    os.dup2(w, 3)
    os.close(w)
env = dict(os.environ, **dict(a.split("=", 1) for a in sys.argv[4:]))
sys.exit(subprocess.run(sys.argv[1:4] + ["3"], pass_fds=(3,), env=env, timeout=30).returncode)
PY
}
run_gone || fail "islet-run failed to run"
# islet-run detaches its supervisor: wait for its word in the log (10 s at most)
wait_until 10 grep -q 'its creator is gone' "$dir/supervisor.log" \
  || fail "the supervisor's log does not say why: $(tail -3 "$dir/supervisor.log")"
expect_eq "state" "$(sb_info "$id" 'j["state"]')" stopped
wait_empty 5 supervisors || fail "a supervisor is left: $(supervisors | tr '\n' ' ')"

log "== the same, started detached already (ISLET_RUN_DETACHED=1, as a create starts it)"
: >"$dir/supervisor.log"
# no fork of its own: the supervisor is the child run, and it refuses at once
rc=0
run_gone ISLET_RUN_DETACHED=1 || rc=$?
expect_eq "a detached islet-run's status (1: refused; 0: it forked)" "$rc" 1
grep -q 'its creator is gone' "$dir/supervisor.log" \
  || fail "the detached supervisor's log does not say why: $(tail -3 "$dir/supervisor.log")"
expect_eq "state" "$(sb_info "$id" 'j["state"]')" stopped
wait_empty 5 supervisors || fail "a supervisor is left: $(supervisors | tr '\n' ' ')"

log "== a start whose creator gave up before its config was whole (ISLET_RUN_CONFIG_FD=4)"
: >"$dir/supervisor.log"
/usr/bin/python3 - "$(dirname "$ISLET_BIN")/islet-run" "$STATE" "$id" <<'PY' || fail "islet-run did not refuse, or it hung"
import fcntl, os, socket, subprocess, sys
def high(fd):  # above 3 and 4, which the child's fds become
    h = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return h
r, w = os.pipe()  # the ready pipe, whose reader is here
go, mine = socket.socketpair()
r, w, g = high(r), high(w), high(go.detach())
os.dup2(w, 3)
os.dup2(g, 4)
env = dict(os.environ, ISLET_RUN_DETACHED="1", ISLET_RUN_CONFIG_FD="4")
p = subprocess.Popen([sys.argv[1], sys.argv[2], sys.argv[3], "3"], pass_fds=(3, 4), env=env)
for fd in (3, 4, w, g):
    os.close(fd)
mine.close()  # the creator gives up: no word
word = os.read(r, 4096)
sys.exit(0 if p.wait(timeout=30) == 1 and b"config was whole" in word else 1)
PY
grep -q 'gave up before its config was whole' "$dir/supervisor.log" \
  || fail "the supervisor's log does not say why: $(tail -3 "$dir/supervisor.log")"
expect_eq "state" "$(sb_info "$id" 'j["state"]')" stopped
wait_empty 5 supervisors || fail "a supervisor is left: $(supervisors | tr '\n' ' ')"
out=$(islet rm "$id" 2>&1) || fail "rm failed: $out"
pass
