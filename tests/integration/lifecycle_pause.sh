#!/usr/bin/env bash
# Pause and resume through the CLI: a paused sandbox's processes are frozen
# in place (a counter written by a background loop does not move, read from
# the host through /proc), exec and file requests are refused with a clear
# error instead of hanging, `islet start` resumes it (the counter moves
# again), and a paused sandbox can be stopped and removed.  Pause and resume
# of a sandbox with 50 processes are timed (printed; bounded loosely here,
# the 20 ms target is the SDK test's and the bench's).
source "$(dirname "$0")/../lib/integration.sh"
it_init

ms_now () { echo $(( $(date +%s%N) / 1000000 )); }

id=$(create_sb --memory 256)
remember_id "$id"
base=$(sb_info "$id" 'j["uid_base"]')

log "a background counter, and 50 sleeping processes"
xjson "$id" -- sh -c '
  nohup sh -c "i=0; while :; do i=\$((i+1)); echo \$i > /workspace/count; sleep 0.01; done" \
    >/dev/null 2>&1 &
  for n in $(seq 50); do nohup sleep 600 >/dev/null 2>&1 & done
  echo started'
expect_eq "background start" "$(jget "$OUT" 'j["stdout"]')" started

# any process of the sandbox shows its files through /proc/PID/root
pids=($(procs_in_cg "$id"))
pid=${pids[0]:-}
[[ -n "$pid" ]] || fail "no process of the sandbox"
count () { cat "/proc/$pid/root/workspace/count" 2>/dev/null || echo 0; }
moved () { (( $(count) > $1 )); }
wait_until 5 moved 2 || fail "the counter does not move before the pause: $(count)"

t0=$(ms_now)
capture islet pause "$id"
t1=$(ms_now)
[[ $RC == 0 ]] || fail "pause failed ($RC): $ERR"
log "islet pause: $((t1 - t0)) ms (CLI start included)"
expect_eq "state after pause" "$(sb_info "$id" 'j["state"]')" paused
capture islet ls
grep -q "$id.*paused" <<<"$OUT" || fail "islet ls does not show the sandbox paused: $OUT"

c1=$(count)
sleep 0.5
c2=$(count)
expect_eq "the counter while paused" "$c2" "$c1"

log "exec and file requests on a paused sandbox are refused at once"
t0=$(ms_now)
capture timeout 10 "$ISLET_BIN" --state-dir "$STATE" exec "$id" -- true
(( RC != 0 && RC != 124 )) || fail "exec on a paused sandbox: status $RC (124: it hung)"
grep -q "paused" <<<"$ERR" || fail "exec on a paused sandbox: no clear error: $ERR"
capture timeout 10 "$ISLET_BIN" --state-dir "$STATE" fs "$id" read /workspace/count
(( RC != 0 && RC != 124 )) || fail "file read on a paused sandbox: status $RC (124: it hung)"
grep -q "paused" <<<"$ERR" || fail "file read on a paused sandbox: no clear error: $ERR"
capture timeout 10 "$ISLET_BIN" --state-dir "$STATE" cp /etc/hostname "$id:/workspace/copied"
(( RC != 0 && RC != 124 )) || fail "copy into a paused sandbox: status $RC (124: it hung)"
grep -q "paused" <<<"$ERR" || fail "copy into a paused sandbox: no clear error: $ERR"
expect_range "refusals took (ms)" $(( $(ms_now) - t0 )) 0 3000
capture islet pause "$id"
[[ $RC != 0 ]] || fail "a second pause succeeded"

t0=$(ms_now)
capture islet start "$id"
t1=$(ms_now)
[[ $RC == 0 ]] || fail "start (resume) failed ($RC): $ERR"
log "islet start (resume): $((t1 - t0)) ms (CLI start included)"
expect_eq "state after resume" "$(sb_info "$id" 'j["state"]')" running
wait_until 5 moved "$c2" || fail "the counter does not move after resume: $(count) (was $c2)"
xjson "$id" -- sh -c 'pgrep -c sleep'
expect_range "sleepers after resume" "$(jget "$OUT" 'j["stdout"]')" 50 51

log "stop and rm of a paused sandbox"
islet pause "$id" </dev/null >/dev/null || fail "second pause failed"
capture timeout 20 "$ISLET_BIN" --state-dir "$STATE" stop "$id"
[[ $RC == 0 ]] || fail "stop of a paused sandbox failed ($RC): $ERR"
expect_eq "state after stop" "$(sb_info "$id" 'j["state"]')" stopped
left=$(procs_of_uid "$base" "$id")
[[ -z "$left" ]] || fail "processes left after stopping a paused sandbox: $left"
islet start "$id" </dev/null >/dev/null || fail "start after stop failed"
islet pause "$id" </dev/null >/dev/null || fail "third pause failed"
capture timeout 20 "$ISLET_BIN" --state-dir "$STATE" rm -f "$id"
[[ $RC == 0 ]] || fail "rm -f of a paused sandbox failed ($RC): $ERR"
[[ -z "$(cg_dirs "$id")" ]] || fail "cgroups left after rm: $(cg_dirs "$id")"
[[ -z "$(procs_of_uid "$base" "$id")" ]] || fail "processes left after rm"
pass
