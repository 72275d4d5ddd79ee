#!/usr/bin/env bash
# islet run, cold: a one-shot sandbox whose init runs the command itself
# (src/runtime/oneshot.c).  The command is the init's child (its parent is
# pid 1, not an exec handler outside the sandbox), under the same
# confinement as an exec's command; its status, output, stdin, limits and
# timeout are an exec's; the sandbox is listed while it runs, takes execs
# and stops.  When the run returns, no process of the sandbox is left (what
# the command left in the background included), it is no longer listed or
# reached and its name is free; its supervisor removes the rest after, and
# nothing of it is left within 5 s of the run, of Ctrl-C, of `islet stop`,
# or of a kill -9 of the CLI.
source "$(dirname "$0")/../lib/integration.sh"
it_init

# Nothing of the state directory's sandboxes left: no directory, no
# supervisor, no mount, no cgroup, no process in a sandbox's uid range.
nothing_left () {
  [[ -z "$(ls "$STATE/sandboxes" 2>/dev/null)" ]] || { echo "dirs: $(ls "$STATE/sandboxes")"; return; }
  [[ -z "$(supervisors)" ]] || { echo "supervisors: $(supervisors)"; return; }
  [[ -z "$(my_mounts | grep /sandboxes/ || true)" ]] || { echo "mounts: $(my_mounts)"; return; }
  local id
  for id in $(cat "$STATE.ids" 2>/dev/null); do
    [[ -z "$(cg_dirs "$id")" ]] || { echo "cgroups of $id: $(cg_dirs "$id")"; return; }
  done
  [[ -z "$(ls "$STATE/uids" 2>/dev/null || true)" ]] || { echo "uid claims: $(ls "$STATE/uids")"; return; }
}

# The one sandbox of the state directory, once it exists.
running_id () { ls "$STATE/sandboxes" 2>/dev/null | head -1; }
# polled by wait_until: each looks again (a $(running_id) in its arguments
# would be read once, before the first try)
has_sandbox () { [[ -n "$(running_id)" ]]; }
has_ctl_sock () { local id; id=$(running_id); [[ -n "$id" && -S "$STATE/sandboxes/$id/ctl.sock" ]]; }

log "the command is the init's child, confined as an exec's command is, signals at their defaults"
capture islet run -- sh -c 'grep PPid /proc/$$/status; ls /proc | grep -c "^[0-9]"'
expect_eq "run: status (stderr: $ERR)" "$RC" 0
expect_eq "run: nothing on stderr (a removal that raced another warns)" "$ERR" ""
expect_eq "the command's parent is the sandbox's init" "${OUT%%$'\n'*}" "PPid:	1"
expect_eq "processes in the sandbox: the init, sh, grep and ls" "${OUT##*$'\n'}" 4
wait_empty 5 nothing_left || fail "5 s after a run: $(nothing_left)"

# The processes of this test's runs left in the background (their marks).
left_behind () { pgrep -f 'sleep 730[0-9]' || true; }

log "at the run's end nothing of it runs, it is not there, its name is free; the rest within 5 s"
for i in 1 2 3 4 5; do
  capture islet run --name again -- sh -c '
    sleep 7301 &
    setsid sleep 7302 &
    (trap "" HUP INT TERM; exec sleep 7303) &
    nohup sh -c "sleep 7304" >/dev/null 2>&1 &
    hostname'
  expect_eq "run $i with processes left in the background: status (stderr: $ERR)" "$RC" 0
  expect_eq "run $i: processes left at its end" "$(left_behind)" ""
  expect_eq "run $i: listed at its end" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" 0
  expect_eq "run $i: hostname" "$OUT" again
  for sb in $(ls "$STATE/sandboxes"); do
    remember_id "$sb"
    capture islet exec "$sb" -- echo reached
    [[ $RC != 0 && "$OUT" == "" && "$ERR" == *"no sandbox"* ]] \
      || fail "exec into $sb being removed: status $RC, stdout '$OUT', stderr '$ERR'"
    capture islet start "$sb"
    [[ $RC != 0 && "$ERR" == *"no sandbox"* ]] || fail "start of $sb being removed: status $RC, stderr '$ERR'"
  done
done
capture islet run -- hostname
remember_id "${OUT#islet-}"
expect_eq "an unnamed run (stderr: $ERR)" "$RC" 0
capture islet run -- sh -c 'sleep 7305 & exit 7'
expect_eq "a run that fails, with a process in the background" "$RC" 7
expect_eq "processes left at its end" "$(left_behind)" ""
wait_empty 5 nothing_left || fail "5 s after the runs: $(nothing_left)"

log "a create, and a reset, right after a run, with its removal maybe still under way"
for i in 1 2 3; do
  capture islet run --name next -- sh -c 'sleep 7306 & true'
  expect_eq "run $i before a create: status (stderr: $ERR)" "$RC" 0
  id=$(create_sb --name next)
  remember_id "$id"
  islet rm -f "$id" </dev/null >/dev/null || fail "rm $id"
done
capture islet run -- hostname
expect_eq "run before a reset: status (stderr: $ERR)" "$RC" 0
remember_id "${OUT#islet-}"
capture islet system reset -f
# the one failure that is not the reset's: a mount namespace made elsewhere
# on the host meanwhile (another program's `unshare -m`) holds a copy of
# the disk pool's mount, and with it the pool's loop device
[[ $RC == 0 || "$ERR" == *"mounted in another mount namespace"* ]] \
  || fail "reset right after a run: status $RC, stderr '$ERR'"
[[ -z "$(nothing_left)" ]] || fail "after the reset: $(nothing_left)"

log "exit statuses"
for want in 0 3 255; do
  capture islet run -- sh -c "exit $want"
  expect_eq "exit $want (stderr: $ERR)" "$RC" "$want"
done
capture islet run -- sh -c 'kill -TERM $$'
expect_eq "killed by SIGTERM: 128+15" "$RC" 143
capture islet run -- no-such-command
expect_eq "not found: 127" "$RC" 127
[[ "$ERR" == *"no-such-command"*"not found"* ]] || fail "not found: stderr '$ERR'"
capture islet run -- /etc
expect_eq "not executable: 126" "$RC" 126
capture islet run --cwd /no/such/dir -- true
expect_eq "a working directory that does not exist: 127, as an exec" "$RC" 127
[[ "$ERR" == *"/no/such/dir"* ]] || fail "bad cwd: stderr '$ERR'"

log "output, stdin, environment and --json"
capture islet run -e A=1 --cwd /tmp -- sh -c 'echo out; echo err >&2; echo "$A $(pwd)"'
expect_eq "stdout" "$OUT" $'out\n1 /tmp'
expect_eq "stderr" "$ERR" "err"
RC=0
OUT=$(printf 'one\ntwo\n' | islet run -i -- sh -c 'wc -l; cat') || RC=$?
expect_eq "stdin with -i" "$OUT" "2"
OUT=$(printf 'one\n' | islet run -- sh -c 'cat; echo end') || fail "run without -i"
expect_eq "stdin without -i is empty" "$OUT" "end"
capture islet run --json -- sh -c 'echo x; echo y >&2; exit 4'
expect_eq "--json status (stderr: $ERR)" "$RC" 4
expect_eq "--json fields" "$(jget "$OUT" '[j["exit_code"], j["signal"], j["stdout"], j["stderr"], j["timed_out"]]')" \
  '[4, 0, "x\n", "y\n", false]'
capture islet run --output 100 --json -- sh -c 'head -c 5000 /dev/zero | tr "\0" a'
expect_eq "--output 100: truncated" "$(jget "$OUT" '[j["truncated"], len(j["stdout"])]')" '[true, 100]'

log "limits: timeout, memory, pids"
t0=$(date +%s%N)
capture islet run --timeout 1 -- sh -c 'sleep 100 & sleep 100'
took=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "timeout: killed (stderr: $ERR)" "$RC" 137
[[ "$ERR" == *"timed out"* ]] || fail "timeout: stderr '$ERR'"
expect_range "timeout: time until islet run returned (ms)" "$took" 900 6000
capture islet run --memory 64 --json -- python3 -c 'b = bytearray(400 << 20); print(len(b))'
expect_eq "memory 64: OOM killed" "$(jget "$OUT" '[j["oom_killed"], j["exit_code"]]')" '[true, 137]'
capture islet run --pids 16 -- python3 -c '
import os
n = 0
for _ in range(50):
    try:
        if os.fork() == 0:
            import time; time.sleep(5); os._exit(0)
        n += 1
    except OSError:
        break
print(n)'
expect_eq "pids 16: status (stderr: $ERR)" "$RC" 0
(( OUT < 16 )) || fail "pids 16: $OUT processes forked"
wait_empty 5 nothing_left || fail "5 s after the limits: $(nothing_left)"

log "from inside: pid 1's limits and memory are out of reach"
capture islet run -- python3 -c '
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
one = (ctypes.c_ulong * 2)(1, 1)
print("prlimit", libc.syscall(302, 1, 0, one, None), flush=True)
try:
    os.listdir("/proc/1/fd"); print("fds: listed")
except OSError as e:
    print("fds:", e.errno == 13)
try:
    open("/proc/1/mem", "rb").read(1); print("mem: read")
except OSError as e:
    print("mem:", e.errno in (13, 1))
os.kill(1, signal.SIGKILL)
print("alive")'
expect_eq "escape attempts: status (stderr: $ERR)" "$RC" 0
expect_eq "escape attempts" "$OUT" $'prlimit -1\nfds: True\nmem: True\nalive'

log "listed while it runs; an exec into it works; Ctrl-C removes it"
# in a process group of its own, as a terminal's foreground job is
setsid "$ISLET_BIN" --state-dir "$STATE" run -- sleep 60 </dev/null >/dev/null 2>"$STATE.err1" &
cli=$!
wait_until 20 has_sandbox || fail "no sandbox while the run starts"
sb=$(running_id)
remember_id "$sb"
wait_until 20 sh -c "'$ISLET_BIN' --state-dir '$STATE' ls </dev/null | grep -q '$sb.*running'" \
  || fail "islet ls does not list $sb as running"
expect_eq "exec into the one-shot sandbox" "$(islet exec "$sb" -- echo hello </dev/null)" hello
kill -INT -- "-$cli" # Ctrl-C: the whole group
rc=0; wait "$cli" || rc=$?
expect_eq "Ctrl-C: status" "$rc" 130
grep -q "interrupted by SIGINT; sandbox $sb removed" "$STATE.err1" || fail "Ctrl-C: $(cat "$STATE.err1")"
wait_empty 10 nothing_left || fail "after Ctrl-C: $(nothing_left)"

# A run of `sleep 60` in the background, its stderr in ERRFILE; once its
# sandbox answers, cli is the CLI's pid and sb the sandbox.
run_in_background () {
  "$ISLET_BIN" --state-dir "$STATE" run -- sleep 60 </dev/null >/dev/null 2>"$1" &
  cli=$!
  wait_until 20 has_ctl_sock || fail "no sandbox for $1"
  sb=$(running_id)
  remember_id "$sb"
}

# end_of_run WHAT STATUS: the CLI's status and nothing left after WHAT.
end_of_run () {
  rc=0; wait "$cli" || rc=$?
  expect_eq "$1: status" "$rc" "$2"
  wait_empty 20 nothing_left || fail "after $1: $(nothing_left)"
}

log "islet stop ends the run with a reason"
run_in_background "$STATE.err2"
islet stop "$sb" </dev/null || fail "islet stop $sb"
end_of_run "islet stop" 125
grep -q "was stopped before its command ended" "$STATE.err2" || fail "stopped: $(cat "$STATE.err2")"

log "islet rm -f during the run: the run says so, and warns of nothing left"
run_in_background "$STATE.err3"
islet rm -f "$sb" </dev/null || fail "islet rm -f $sb"
end_of_run "islet rm -f" 125
expect_eq "removed: stderr" "$(cat "$STATE.err3")" "islet: sandbox \`$sb\` was stopped before its command ended"

log "kill -9 of the CLI: the supervisor removes the sandbox"
run_in_background /dev/null
kill -9 "$cli"
end_of_run "kill -9 of the CLI" 137

# islet-run is static: the failure is injected into its dynamically linked
# twin, put beside a copy of the CLI (fault_rollback.sh does the same)
if [[ -f "${ISLET_FAULT_LIB:-}" && -x "$(dirname "$ISLET_BIN")/islet-run-dynamic" ]]; then
  log "a start that the supervisor refuses: the run fails, and nothing of it is left"
  bin=$(dirname "$ISLET_BIN")
  mkdir "$STATE.bin" || fail "mkdir $STATE.bin"
  cp "$ISLET_BIN" "$bin/islet-image" "$bin/islet-net" "$STATE.bin/" || fail "copy the programs"
  cp "$bin/islet-run-dynamic" "$STATE.bin/islet-run" || fail "copy islet-run-dynamic"
  # the supervisor's first mkdir: the sandbox's cgroup
  capture env LD_PRELOAD="$ISLET_FAULT_LIB" ISLET_FAULT="mkdir:1:EIO:islet-run" \
    ISLET_FAULT_LOG="$STATE.fault" "$STATE.bin/islet" --state-dir "$STATE" run -- true
  [[ -s "$STATE.fault" ]] || fail "the fault did not fire in islet-run (status $RC): $ERR"
  expect_eq "refused start: status" "$RC" 125
  [[ "$ERR" == *"Input/output error"* ]] || fail "refused start: the error does not say why: $ERR"
  expect_eq "refused start: listed after" "$(islet ls </dev/null | tail -n +2)" ""
  wait_empty 5 nothing_left || fail "after a refused start: $(nothing_left)"
fi

pass
