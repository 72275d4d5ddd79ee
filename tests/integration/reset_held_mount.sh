#!/usr/bin/env bash
# `islet system reset` of a state directory whose disk pool other mount
# namespaces hold copies of (processes that unshared their mounts while the
# pool was mounted, as another test's server may):
#   - an idle copy: the reset succeeds, the copy is detached, the loop
#     device goes, and the holder runs on; the next create makes a new pool;
#   - a copy in use (a process's working directory in it): the reset fails,
#     naming the process and where the copy is; once it is gone, a reset
#     succeeds;
#   - the loop device held open by a process, which no mount shows: the
#     reset fails and says so.
source "$(dirname "$0")/../lib/integration.sh"
it_init

holder=
held_cleanup () {
  local rc=$?
  set +e
  if [[ -n "$holder" ]]; then
    kill -KILL "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
  fi
  it_cleanup "$rc"
}
trap held_cleanup EXIT

# pool_loop: the loop device (loop3) of the test's pool, as mounted here
pool_loop () {
  awk -v p="$STATE/pool" '$5 == p { for (i = 7; $i != "-"; i++); print $(i + 2) }' /proc/self/mountinfo \
    | sed -n 's|^/dev/\(loop[0-9]*\)$|\1|p' | tail -1
}
# bound LOOP: whether LOOP is still bound to this test's image
bound () {
  local f
  f=$(cat "/sys/block/$1/loop/backing_file" 2>/dev/null) || return 1
  [[ "$f" == "$STATE/pool.img"* ]]
}
# hold [CMD]: a process in a new mount namespace (a copy of this one's
# mounts), running CMD (default: sleep); waits until it has the copy
hold () {
  unshare -m --propagation private sh -c "${1:-true}; exec sleep 60" </dev/null &
  holder=$!
  wait_until 10 grep -q " $STATE/pool " "/proc/$holder/mountinfo" 2>/dev/null \
    || fail "the holder's namespace has no copy of the pool's mount"
}
unhold () {
  kill -KILL "$holder"
  wait "$holder" 2>/dev/null || true
  holder=
}
# new_pool: a sandbox, which makes the pool; its loop device in LOOP
new_pool () {
  remember_id "$(create_sb)"
  LOOP=$(pool_loop)
  [[ -n "$LOOP" ]] || skip "the pool of $STATE is not a loop-mounted image (btrfs state directory, or no btrfs)"
}

log "== an idle copy of the pool's mount in another mount namespace"
new_pool
hold
capture islet system reset -f
[[ $RC == 0 ]] || fail "reset with an idle copy held: status $RC: $ERR"
[[ ! -e "$STATE/pool.img" && ! -e "$STATE/pool" ]] || fail "the reset left the pool: $(ls -a "$STATE")"
[[ -z "$(my_mounts)" ]] || fail "mounts left here: $(my_mounts)"
bound "$LOOP" && fail "/dev/$LOOP is still bound after the reset"
grep -q " $STATE/pool " "/proc/$holder/mountinfo" && fail "the holder's copy was not detached"
alive "$holder" || fail "the holder did not survive the reset"
unhold

log "== a create on the reset state directory makes a new pool"
new_pool
xjson "$(tail -1 "$STATE.ids")" -- sh -c 'echo x >/tmp/f && cat /tmp/f'
expect_eq "exec on the new pool" "$(jget "$OUT" 'j["stdout"]')" "x"

log "== a copy in use: the reset fails and names its process"
hold "cd '$STATE/pool'"
capture islet system reset -f
[[ $RC != 0 ]] || fail "the reset succeeded while /dev/$LOOP was in use in another namespace"
[[ "$ERR" == *"still bound to /dev/$LOOP"*"pid $holder (sleep) at $STATE/pool"* ]] \
  || fail "the reset did not name the holder: '$ERR'"
log "it says: $ERR"
unhold
capture islet system reset -f
[[ $RC == 0 ]] || fail "the reset once the holder is gone: status $RC: $ERR"
[[ ! -e "$STATE/pool.img" ]] || fail "the reset left the image"
bound "$LOOP" && fail "/dev/$LOOP is still bound after the reset"

log "== the loop device held open, not mounted: the reset fails and says so"
new_pool
exec 9<"/dev/$LOOP"
capture islet system reset -f
exec 9<&-
[[ $RC != 0 ]] || fail "the reset succeeded while /dev/$LOOP was held open"
[[ "$ERR" == *"still bound to /dev/$LOOP, which no mount namespace shows mounted"* ]] \
  || fail "the reset did not say why: '$ERR'"
log "it says: $ERR"
capture islet system reset -f
[[ $RC == 0 ]] || fail "the reset after the device was let go: status $RC: $ERR"
bound "$LOOP" && fail "/dev/$LOOP is still bound after the reset"
pass "a reset detaches idle copies of the pool in other namespaces and names the ones in use"
