#!/usr/bin/env bash
# The supervisor (islet-run): a sandbox outlives the CLI that created it, and
# every later command is a new CLI process.  When the supervisor is killed
# (kill -9), every process of the sandbox dies with it, the sandbox shows as
# stopped with its files kept, `islet start` brings it back, and `islet rm -f`
# removes what the dead supervisor could not (its cgroups).  The init dying,
# or a SIGTERM to the supervisor, stop the sandbox cleanly.
source "$(dirname "$0")/../lib/integration.sh"
it_init

# all_gone ID BASE: no process of the sandbox is left on the host.
all_gone () {
  [[ -z "$(procs_of_uid "$2" "$1")" && -z "$(procs_in_cg "$1")" ]]
}

# sleep_running ID BASE: the sandbox runs a `sleep`.
sleep_running () {
  local p
  for p in $(procs_of_uid "$2" "$1"); do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == sleep ]] && return 0
  done
  return 1
}

log "create returns although its stdout is a pipe the supervisor could hold"
id=$(timeout 30 "$ISLET_BIN" --state-dir "$STATE" create --name sup-it </dev/null) \
  || fail "islet create failed or did not return within 30 s (status $?)"
remember_id "$id"
sup=$(sb_info "$id" 'j["supervisor"]')
base=$(sb_info "$id" 'j["uid_base"]')
alive "$sup" || fail "supervisor $sup of a running sandbox is not alive"
expect_eq "supervisor's command" "$(tr '\0' ' ' <"/proc/$sup/cmdline")" "islet-run $STATE $id 3 "
expect_eq "supervisor is its own session leader" "$(ps -o sid= -p "$sup" | tr -d ' ')" "$sup"
for fd in 0 1; do
  expect_eq "supervisor's fd $fd" "$(readlink "/proc/$sup/fd/$fd")" /dev/null
done
expect_eq "supervisor's fd 2" "$(readlink "/proc/$sup/fd/2")" "$STATE/sandboxes/$id/supervisor.log"

log "a new CLI process runs commands in it"
xjson sup-it -- sh -c 'echo kept > /workspace/f; echo hi'
expect_eq "exec from a new CLI" "$(jget "$OUT" 'j["stdout"]')" hi

log "kill -9 of the supervisor, with an exec running"
ex_out=$STATE.bg
"$ISLET_BIN" --state-dir "$STATE" exec "$id" --json -- sleep 100 >"$ex_out" 2>&1 </dev/null &
bg=$!
wait_until 10 sleep_running "$id" "$base" || fail "the background exec's sleep never appeared"
kill -9 "$sup"
wait_until 10 all_gone "$id" "$base" \
  || fail "processes of the sandbox left 10 s after its supervisor was killed: $(procs_of_uid "$base" "$id" | tr '\n' ' ')"
log "every process of the sandbox is gone"
wait_until 10 dead "$bg" || fail "the exec client still waits 10 s after the supervisor died"
bg_rc=0
wait "$bg" || bg_rc=$?
log "the running exec ended with status $bg_rc: $(tr -d '\n' <"$ex_out" | cut -c1-200)"
[[ "$bg_rc" != 0 ]] || fail "the exec killed with its sandbox reported success"
# not an exit status of 137 as if the command had been killed on its own
grep -q "the sandbox stopped during the exec" "$ex_out" \
  || fail "the exec killed with its sandbox did not say the sandbox stopped: $(head -c 300 "$ex_out")"
expect_eq "the killed exec: islet's status" "$bg_rc" 125
wait_empty 10 supervisors || fail "supervisor or handlers still running: $(supervisors | tr '\n' ' ')"
expect_eq "state after kill -9" "$(sb_info "$id" 'j["state"]')" stopped
expect_eq "supervisor after kill -9" "$(sb_info "$id" 'j["supervisor"]')" 0
capture islet exec "$id" -- true
expect_eq "exec on the dead sandbox: islet's status" "$RC" 125
[[ "$ERR" == *"not running"* ]] || fail "exec on the dead sandbox: unclear error '$ERR'"
log "left behind by the dead supervisor: $(cg_dirs "$id" | wc -l) cgroup directories"

log "islet start brings it back, files and all"
islet start "$id" </dev/null >/dev/null || fail "start after kill -9 failed"
sup2=$(sb_info "$id" 'j["supervisor"]')
[[ "$sup2" != "$sup" && "$sup2" != 0 ]] || fail "no new supervisor after start ($sup2)"
xjson "$id" -- sh -c 'cat /workspace/f; hostname'
expect_eq "files after restart" "$(jget "$OUT" '" ".join(j["stdout"].split())')" "kept sup-it"
expect_eq "host memory cgroup has the limit again" \
  "$(cat "$(cg_dir "$id" memory)/memory.limit_in_bytes" 2>/dev/null || cat "$(cg_dir "$id" memory)/memory.max")" $((1024 << 20))

log "kill -9 again, then rm -f cleans the stale cgroups"
kill -9 "$sup2"
wait_until 10 all_gone "$id" "$base" || fail "processes left after the second kill -9"
wait_until 10 dead "$sup2" || fail "supervisor $sup2 survived kill -9"
expect_eq "state after the second kill -9" "$(sb_info "$id" 'j["state"]')" stopped
slot=$(( (base - IT_UID_FIRST) / IT_UID_RANGE ))
islet rm -f "$id" </dev/null >/dev/null || fail "rm -f of a sandbox with a dead supervisor failed"
[[ -z "$(cg_dirs "$id")" ]] || fail "stale cgroups left after rm -f: $(cg_dirs "$id")"
[[ ! -e "$STATE/sandboxes/$id" ]] || fail "sandbox directory left after rm -f"
[[ ! -e "$STATE/uids/$slot" ]] || fail "uid claim left after rm -f"
[[ ! -e "$STATE/pool/$id" ]] || fail "volume left after rm -f"

log "kill -9 of the sandbox's init (from the host) stops the sandbox cleanly"
id2=$(create_sb --name init-it)
remember_id "$id2"
sup=$(sb_info "$id2" 'j["supervisor"]')
base2=$(sb_info "$id2" 'j["uid_base"]')
init=
for p in $(pgrep -P "$sup"); do
  [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == init ]] && { init=$p; break; }
done
[[ -n "$init" ]] || fail "no init child of supervisor $sup"
kill -9 "$init"
wait_until 10 dead "$sup" || fail "the supervisor lives on 10 s after its init died"
wait_until 10 all_gone "$id2" "$base2" || fail "processes left after the init died"
wait_empty 10 cg_dirs "$id2" || fail "cgroups left after the init died: $(cg_dirs "$id2")"
expect_eq "state after the init died" "$(sb_info "$id2" 'j["state"]')" stopped
grep -q "init died" "$STATE/sandboxes/$id2/supervisor.log" \
  || fail "supervisor.log does not say why it stopped: $(cat "$STATE/sandboxes/$id2/supervisor.log")"
islet start "$id2" </dev/null >/dev/null || fail "start after the init died failed"
xjson "$id2" -- echo back
expect_eq "exec after restart" "$(jget "$OUT" 'j["stdout"]')" back

log "SIGTERM to the supervisor is a clean stop"
sup=$(sb_info "$id2" 'j["supervisor"]')
kill -TERM "$sup"
wait_until 10 dead "$sup" || fail "the supervisor ignores SIGTERM"
wait_until 10 all_gone "$id2" "$base2" || fail "processes left after SIGTERM"
wait_empty 10 cg_dirs "$id2" || fail "cgroups left after SIGTERM: $(cg_dirs "$id2")"
[[ ! -e "$STATE/sandboxes/$id2/ctl.sock" ]] || fail "ctl.sock left after SIGTERM"
expect_eq "state after SIGTERM" "$(sb_info "$id2" 'j["state"]')" stopped

log "a stale control socket does not make a dead sandbox look alive"
islet start "$id2" </dev/null >/dev/null || fail "start after SIGTERM failed"
sup=$(sb_info "$id2" 'j["supervisor"]')
kill -9 "$sup"
wait_until 10 dead "$sup" || fail "supervisor survived kill -9"
[[ -S "$STATE/sandboxes/$id2/ctl.sock" ]] && log "(ctl.sock of the dead supervisor is still there)"
expect_eq "state with a stale socket" "$(sb_info "$id2" 'j["state"]')" stopped
islet start "$id2" </dev/null >/dev/null || fail "start over a stale socket failed"
xjson "$id2" -- echo again
expect_eq "exec after start over a stale socket" "$(jget "$OUT" 'j["stdout"]')" again

pass
