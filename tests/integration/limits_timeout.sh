#!/usr/bin/env bash
# Exec timeout: past its wall-clock limit an exec is killed with its whole
# process tree: background children, and daemons that left its session and
# were reparented to the sandbox's init.  islet returns within a second or
# two of the limit with timed_out and signal 9, and nothing of the exec is
# left on the host or inside.
source "$(dirname "$0")/../lib/integration.sh"
it_init

ms_now () { echo $(( $(date +%s%N) / 1000000 )); }

# The processes still in the exec groups (x<N>) of a sandbox, but for the
# next exec's, which waits in a group of its own for its argv (islet-exec).
exec_group_procs () {
  local id=$1 d p
  for d in $(cg_dirs "$id"); do
    for p in $(find "$d" -mindepth 2 -maxdepth 2 -name cgroup.procs -path "*/x*/cgroup.procs" -exec cat {} + 2>/dev/null); do
      [[ $(cat "/proc/$p/comm" 2>/dev/null) == islet-exec ]] || echo "$p"
    done
  done
  return 0
}

# nothing_left ID WHAT: no process of the exec remains, by both views.
nothing_left () {
  local id=$1 what=$2 left
  wait_empty 5 exec_group_procs "$id" \
    || fail "$what: processes left in the exec's cgroup: $(exec_group_procs "$id" | tr '\n' ' ')"
  xjson "$id" -- ps -e -o pid=,comm=
  left=$(jget "$OUT" '" ".join(l.split()[1] for l in j["stdout"].splitlines() if l.split()[1] not in ("init", "ps", "islet-exec"))')
  expect_eq "$what: processes inside besides init, ps and the next exec's" "$left" ""
}

id=$(create_sb)
remember_id "$id"

log "--timeout 2 on sh -c 'sleep 100 & sleep 100'"
t0=$(ms_now)
xjson "$id" --timeout 2 -- sh -c 'sleep 100 & sleep 100'
took=$(( $(ms_now) - t0 ))
log "returned after $took ms: $(jget "$OUT" '{k: j[k] for k in ("exit_code", "signal", "timed_out", "wall_ms")}')"
expect_range "time until islet exec returned (ms)" "$took" 1900 4000
expect_eq "timed_out" "$(jget "$OUT" 'j["timed_out"]')" true
expect_eq "signal" "$(jget "$OUT" 'j["signal"]')" 9
expect_eq "exit_code" "$(jget "$OUT" 'j["exit_code"]')" 137
expect_eq "islet's status" "$RC" 137
expect_range "wall_ms" "$(jget "$OUT" 'j["wall_ms"]')" 1900 4000
nothing_left "$id" "sleep & sleep"

log "a double-forked daemon (setsid, fork) dies with the exec"
xjson "$id" --timeout 2 -- python3 -c '
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(100)
        os._exit(0)
    os._exit(0)
os.wait()
time.sleep(100)'
expect_eq "daemon: timed_out" "$(jget "$OUT" 'j["timed_out"]')" true
expect_eq "daemon: signal" "$(jget "$OUT" 'j["signal"]')" 9
nothing_left "$id" "double-forked daemon"

log "output written before the timeout is kept"
xjson "$id" --timeout 1 -- sh -c 'echo started; sleep 100'
expect_eq "partial output: stdout" "$(jget "$OUT" 'j["stdout"]')" started
expect_eq "partial output: timed_out" "$(jget "$OUT" 'j["timed_out"]')" true

log "a process that ignores SIGTERM and SIGINT is killed all the same"
xjson "$id" --timeout 1 -- sh -c 'trap "" TERM INT HUP; sleep 100 & wait; sleep 100'
expect_eq "trapping shell: timed_out" "$(jget "$OUT" 'j["timed_out"]')" true
nothing_left "$id" "trapping shell"

log "fractional timeouts: --timeout 0.5"
t0=$(ms_now)
xjson "$id" --timeout 0.5 -- sleep 100
took=$(( $(ms_now) - t0 ))
expect_eq "0.5 s: timed_out" "$(jget "$OUT" 'j["timed_out"]')" true
expect_range "0.5 s: time until islet exec returned (ms)" "$took" 400 2500

log "a command that ends in time is not marked"
xjson "$id" --timeout 5 -- sleep 0.2
expect_eq "in time: timed_out" "$(jget "$OUT" 'j["timed_out"]')" false
expect_eq "in time: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0

log "the sandbox's default timeout (create --timeout 2) applies without --timeout"
short=$(create_sb --timeout 2)
remember_id "$short"
expect_eq "info: limits.timeout_s" "$(sb_info "$short" 'j["limits"]["timeout_s"]')" 2
t0=$(ms_now)
xjson "$short" -- sh -c 'sleep 100 & sleep 100'
took=$(( $(ms_now) - t0 ))
expect_eq "default timeout: timed_out" "$(jget "$OUT" 'j["timed_out"]')" true
expect_range "default timeout: time until islet exec returned (ms)" "$took" 1900 4000
nothing_left "$short" "default timeout"

log "one-off: islet run --timeout 2"
t0=$(ms_now)
capture islet run --timeout 2 --json -- sh -c 'sleep 100 & sleep 100'
took=$(( $(ms_now) - t0 ))
expect_eq "run: timed_out" "$(jget "$OUT" 'j["timed_out"]')" true
expect_eq "run: signal" "$(jget "$OUT" 'j["signal"]')" 9
expect_range "run: time until islet run returned (ms)" "$took" 1900 5000
for d in "$STATE"/sandboxes/*; do
  [[ "$d" == */"$id" || "$d" == */"$short" ]] || fail "run left a sandbox behind: $(ls "$STATE/sandboxes")"
done

log "without --json: status 137 and a note on stderr"
capture islet exec "$id" --timeout 1 -- sleep 100
expect_eq "plain: islet's status" "$RC" 137
[[ "$ERR" == *"timed out"* ]] || fail "plain: no 'timed out' note on stderr: '$ERR'"

pass
