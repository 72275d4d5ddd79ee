#!/usr/bin/env bash
# Process limit: with --pids 32 a program that forks 100 sleeping children
# gets about 32 of them (the sandbox's init and the program count too), the
# rest of the forks fail with EAGAIN, and once the children are gone the
# sandbox can fork again.
source "$(dirname "$0")/../lib/integration.sh"
it_init

# Fork COUNT children that sleep SECONDS, trying every fork even after
# failures; print "forked N failed M ERRNO", then wait for the children.
FORKS='
import errno, os, sys, time
count, secs = int(sys.argv[1]), float(sys.argv[2])
ok, failed, why = 0, 0, "none"
for i in range(count):
    try:
        pid = os.fork()
    except OSError as e:
        failed += 1
        why = errno.errorcode.get(e.errno, str(e.errno))
        continue
    if pid == 0:
        time.sleep(secs)
        os._exit(0)
    ok += 1
print("forked", ok, "failed", failed, why, flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break'

id=$(create_sb --pids 32)
remember_id "$id"
expect_eq "info: limits.pids" "$(sb_info "$id" 'j["limits"]["pids"]')" 32
pids=$(cg_dir "$id" pids)
[[ -n "$pids" ]] || fail "no pids cgroup for $id"
# Whether the sandbox is back to its init alone (the count is hierarchical).
pids_settled () { (( $(cat "$pids/pids.current" 2>/dev/null || echo 99) <= 2 )); }
if [[ -f "$pids/pids.max" ]]; then
  expect_eq "host: pids.max" "$(cat "$pids/pids.max")" 32
fi

log "fork 100 sleeping children under --pids 32"
xjson "$id" -- python3 -c "$FORKS" 100 3
expect_eq "100 forks: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
read -r _ forked _ failed why <<<"$(jget "$OUT" 'j["stdout"]')"
log "100 forks: $forked forked, $failed failed ($why)"
expect_range "forks that succeeded" "$forked" 10 39
expect_eq "forks that failed" "$failed" $((100 - forked))
expect_eq "errno of the failed forks" "$why" EAGAIN

log "the sandbox recovers once the children are gone"
# the exec's group goes away with its last process; the count must drop back
wait_until 10 pids_settled \
  || fail "pids.current stays at $(cat "$pids/pids.current") after the children exited"
xjson "$id" -- python3 -c "$FORKS" 20 0.2
expect_eq "20 forks after recovery" "$(jget "$OUT" 'j["stdout"]')" "forked 20 failed 0 none"

log "threads count too"
xjson "$id" -- python3 -c '
import threading, time
ok = 0
try:
    for i in range(100):
        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()
        ok += 1
except RuntimeError:
    pass
print(ok)'
threads=$(jget "$OUT" 'j["stdout"]')
expect_range "threads started under --pids 32" "$threads" 5 39

log "a shell fork bomb is contained and the sandbox survives it"
xjson "$id" --timeout 3 -- sh -c 'b() { b | b & }; b; sleep 10'
expect_eq "fork bomb: timed_out" "$(jget "$OUT" 'j["timed_out"]')" true
wait_until 10 pids_settled \
  || fail "pids.current stays at $(cat "$pids/pids.current") after the fork bomb was killed"
xjson "$id" -- echo ok
expect_eq "echo after the fork bomb" "$(jget "$OUT" 'j["stdout"]')" ok

log "one-off: islet run --pids 16"
capture islet run --pids 16 --json -- python3 -c "$FORKS" 50 1
read -r _ forked _ failed why <<<"$(jget "$OUT" 'j["stdout"]')"
expect_range "run --pids 16: forks that succeeded" "$forked" 5 19

pass
