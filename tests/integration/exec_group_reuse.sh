#!/usr/bin/env bash
# An exec's group is kept, once empty, for a later exec of the sandbox (v1),
# whose stats restart: an exec never sees another's memory, CPU or OOM
# kills.  A memory-hungry exec and a CPU-hungry one are each followed by
# tiny ones until one runs in the group they used; a group an exec left a
# background process in is never another exec's while that process runs;
# an OOM-killed exec's group is not reused; a paused sandbox keeps none.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb --memory 256)
remember_id "$id"
# the exec's group as its command sees it (the sandbox's cgroup namespace)
GROUP='grep -m1 ":memory:" /proc/self/cgroup | cut -d: -f3'

# run CMD..., leaving its group in $group, its result in $OUT
run_in () {
  xjson "$id" -- sh -c "$GROUP; $1" </dev/null
  expect_eq "exit of $1" "$(jget "$OUT" 'j["exit_code"]')" 0
  group=$(jget "$OUT" 'j["stdout"].splitlines()[0]')
}

for i in 1 2 3; do run_in true; done

# tiny execs after one in group $1, until one runs there (at most 6)
reused=
tiny_until () {
  local want=$1 i
  reused=
  for i in 1 2 3 4 5 6; do
    run_in true
    peak=$(jget "$OUT" 'j["memory_peak_bytes"]')
    cpu=$(jget "$OUT" 'j["cpu_ms"]')
    oom=$(jget "$OUT" 'j["oom_killed"]')
    expect_range "memory peak of a tiny exec in $group" "$peak" 1 $((16 << 20))
    expect_range "cpu_ms of a tiny exec in $group" "$cpu" 0 150
    expect_eq "oom_killed of a tiny exec in $group" "$oom" false
    if [[ $group == "$want" ]]; then
      reused=$group
      log "tiny exec in $group after it: peak $peak bytes, cpu $cpu ms"
      return 0
    fi
  done
}

log "a memory-hungry exec (96 MiB), then tiny ones"
run_in "python3 -c 'x = bytearray(96 << 20); x[::4096] = b\"a\" * (len(x) // 4096)'"
big=$group
expect_range "memory peak of the hungry exec" "$(jget "$OUT" 'j["memory_peak_bytes"]')" $((96 << 20)) $((250 << 20))
tiny_until "$big"
v1=$([[ $(cg_version) == 1 ]] && echo yes)
[[ -z $v1 || -n $reused ]] || fail "no tiny exec ran in $big, the hungry exec's group"

log "a CPU-hungry exec (0.5 s), then tiny ones"
run_in "python3 -c 'import time; t = time.process_time() + 0.5
while time.process_time() < t: pass'"
burner=$group
expect_range "cpu_ms of the CPU-hungry exec" "$(jget "$OUT" 'j["cpu_ms"]')" 450 5000
tiny_until "$burner"
[[ -z $v1 || -n $reused ]] || fail "no tiny exec ran in $burner, the CPU-hungry exec's group"

log "an exec that leaves a process behind: its group is nobody else's meanwhile"
run_in "sleep 4 >/dev/null 2>&1 &"
bg=$group
for i in 1 2 3 4; do
  run_in true
  [[ $group != "$bg" ]] || fail "exec $i ran in $bg, where a process of an earlier exec still runs"
done

log "an OOM-killed exec's group is not reused"
xjson "$id" -- sh -c "$GROUP; python3 -c 'x = bytearray(400 << 20); x[::4096] = b\"a\" * (len(x) // 4096)'" </dev/null
expect_eq "oom_killed of the exec over the limit" "$(jget "$OUT" 'j["oom_killed"]')" true
oomed=$(jget "$OUT" 'j["stdout"].splitlines()[0]')
for i in 1 2 3; do
  run_in true
  expect_eq "oom_killed of an exec after it" "$(jget "$OUT" 'j["oom_killed"]')" false
  [[ $group != "$oomed" ]] || fail "exec $i ran in $oomed, the OOM-killed exec's group"
done

log "a paused sandbox keeps no exec group"
capture islet pause "$id"
[[ $RC == 0 ]] || fail "pause: $ERR"
capture islet start "$id"
[[ $RC == 0 ]] || fail "start: $ERR"
if [[ -n $v1 ]]; then
  mem=$(cg_dir "$id" memory)
  no_exec_groups () { [[ -z $(find "$mem" -mindepth 1 -maxdepth 1 -type d -name 'x*') ]]; }
  wait_until 10 no_exec_groups \
    || fail "exec groups left after a pause: $(find "$mem" -mindepth 1 -maxdepth 1 -type d -printf '%f ')"
fi
run_in true
pass
