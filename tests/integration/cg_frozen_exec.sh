#!/usr/bin/env bash
# An exec's cgroup left frozen does not keep its sandbox from going.  An
# exec's handler kills the exec's group by freezing it, killing every task,
# then thawing it; a handler killed between the freeze and the thaw leaves
# the group FROZEN with its tasks in it.  On cgroup v1 a group frozen by
# itself stays frozen when its parent is thawed, and a frozen task does not
# die of a SIGKILL.  Before, the supervisor's stop thawed only a paused
# sandbox's own group and then waited for its children, so `islet rm -f`
# waited as long as the exec's group stayed frozen (for ever; by hand, it
# ended the moment the group was thawed).  Now the stop thaws every group
# of the sandbox after its kills.  Here the group is frozen by hand, as the
# killed handler leaves it, with a long exec in it; the sandbox must go at
# once, with no process and no cgroup left.
source "$(dirname "$0")/../lib/integration.sh"
it_init

[[ "$(cg_version)" == 1 && -d /sys/fs/cgroup/freezer ]] || skip "no cgroup v1 freezer hierarchy"

ms_now () { echo $(( $(date +%s%N) / 1000000 )); }

id=$(create_sb --memory 128)
remember_id "$id"

log "a long exec, in its own group under the sandbox's"
islet exec "$id" -- sleep 300 >/dev/null 2>&1 &
cli=$!
sleeper () {
  local p
  for p in $(procs_in_cg "$id"); do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == sleep ]] && { echo "$p"; return 0; }
  done
  return 1
}
wait_until 15 sleeper >/dev/null || fail "the exec's sleep did not start"
pid=$(sleeper)
rel=$(sed -n 's/^[0-9]*:freezer://p' "/proc/$pid/cgroup")
grp=/sys/fs/cgroup/freezer$rel
[[ "$rel" == */islet/"$id"/* && -d "$grp" ]] \
  || fail "the exec's freezer group '$rel' is not a group under the sandbox's"

log "the exec's group frozen, as a handler killed in its kill leaves it"
# a failed run must not leave a frozen group behind: thawed before clean-up
trap 'rc=$?; { echo THAWED >"$grp/freezer.state"; } 2>/dev/null || true; it_cleanup "$rc"' EXIT
echo FROZEN >"$grp/freezer.state"
frozen () { [[ "$(cat "$grp/freezer.state" 2>/dev/null)" == FROZEN ]]; }
wait_until 5 frozen || fail "the exec's group did not freeze: $(cat "$grp/freezer.state")"
kill "$cli" 2>/dev/null
wait "$cli" 2>/dev/null || true

t0=$(ms_now)
capture timeout 60 "$ISLET_BIN" --state-dir "$STATE" rm -f "$id"
took=$(( $(ms_now) - t0 ))
(( RC != 124 )) || fail "islet rm -f hung on a frozen exec group (60 s)"
[[ $RC == 0 ]] || fail "islet rm -f failed ($RC): $ERR"
log "islet rm -f with a frozen exec group: $took ms"
expect_range "rm -f took (ms)" "$took" 0 20000
gone () { [[ -z "$(procs_in_cg "$id")" ]]; }
wait_until 10 gone || fail "processes of the sandbox left: $(procs_in_cg "$id")"
if alive "$pid"; then fail "the frozen exec's sleep ($pid) is still alive"; fi
[[ -z "$(cg_dirs "$id")" ]] || fail "cgroups left after rm: $(cg_dirs "$id")"
pass
