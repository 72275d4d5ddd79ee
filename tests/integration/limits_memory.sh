#!/usr/bin/env bash
# Memory limit: a sandbox with --memory 64 cannot use more than 64 MiB.  A
# program that tries is OOM-killed (exit 137, oom_killed), the kill stays
# inside the exec (the sandbox's init and supervisor live on, the next exec
# works), a smaller allocation works and is measured, and swap cannot be used
# to get past the limit.
source "$(dirname "$0")/../lib/integration.sh"
it_init

MIB=$((1 << 20))
# b"x" * n writes every byte: a zeroed bytearray would be untouched pages.
ALLOC='import sys; b = b"x" * (int(sys.argv[1]) << 20); print(len(b))'

log "one-off: islet run --memory 64 allocating 256 MiB"
capture islet run --memory 64 --json -- python3 -c "$ALLOC" 256
printf '%s' "$OUT" | "$IT_PY" -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null \
  || fail "run --memory 64: not JSON (status $RC): ${OUT:0:300} ${ERR:0:300}"
expect_eq "run: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" true
expect_eq "run: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 137
expect_eq "run: islet's status" "$RC" 137
expect_eq "run: stdout (the program must not have finished)" "$(jget "$OUT" 'j["stdout"]')" ""

log "persistent sandbox --memory 64"
id=$(create_sb --memory 64)
remember_id "$id"
expect_eq "info: limits.memory_mb" "$(sb_info "$id" 'j["limits"]["memory_mb"]')" 64
sup=$(sb_info "$id" 'j["supervisor"]')

mem=$(cg_dir "$id" memory)
[[ -n "$mem" ]] || fail "no memory cgroup for $id"
if [[ $(cg_version) == 1 ]]; then
  expect_eq "host: memory.limit_in_bytes" "$(cat "$mem/memory.limit_in_bytes")" $((64 * MIB))
  if [[ -f "$mem/memory.memsw.limit_in_bytes" ]]; then
    expect_eq "host: memory.memsw.limit_in_bytes (swap held to the memory limit)" \
      "$(cat "$mem/memory.memsw.limit_in_bytes")" $((64 * MIB))
  else
    log "note: no swap accounting (memory.memsw.*) on this kernel"
  fi
else
  expect_eq "host: memory.max" "$(cat "$mem/memory.max")" $((64 * MIB))
  [[ ! -f "$mem/memory.swap.max" ]] || expect_eq "host: memory.swap.max" "$(cat "$mem/memory.swap.max")" 0
fi

log "a 20 MiB allocation works and is measured"
xjson "$id" -- python3 -c "$ALLOC" 20
expect_eq "20 MiB: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
expect_eq "20 MiB: stdout" "$(jget "$OUT" 'j["stdout"]')" $((20 * MIB))
expect_eq "20 MiB: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" false
peak=$(jget "$OUT" 'j["memory_peak_bytes"]')
expect_range "20 MiB: memory_peak_bytes" "$peak" $((20 * MIB)) $((64 * MIB))
log "20 MiB: memory_peak_bytes $peak"

log "256 MiB in one go is OOM-killed"
xjson "$id" -- python3 -c "$ALLOC" 256
expect_eq "256 MiB: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" true
expect_eq "256 MiB: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 137
expect_eq "256 MiB: signal" "$(jget "$OUT" 'j["signal"]')" 9
expect_eq "256 MiB: islet's status" "$RC" 137
expect_eq "256 MiB: timed_out" "$(jget "$OUT" 'j["timed_out"]')" false
peak=$(jget "$OUT" 'j["memory_peak_bytes"]')
expect_range "256 MiB: memory_peak_bytes (within the limit)" "$peak" $((32 * MIB)) $((64 * MIB))

log "a slow climb in 1 MiB steps is OOM-killed too"
xjson "$id" -- python3 -c '
chunks = []
for i in range(512):
    chunks.append(b"y" * (1 << 20))
print("allocated", len(chunks), "MiB")'
expect_eq "climb: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" true
expect_eq "climb: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 137

log "a shell whose child is OOM-killed reports it and survives"
xjson "$id" -- sh -c "python3 -c '$ALLOC' 256; echo child status \$?"
expect_eq "child: stdout" "$(jget "$OUT" 'j["stdout"]')" "child status 137"
expect_eq "child: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
expect_eq "child: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" true

log "the kill stayed inside the exec: the sandbox works"
expect_eq "state after OOM" "$(sb_info "$id" 'j["state"]')" running
expect_eq "supervisor after OOM" "$(sb_info "$id" 'j["supervisor"]')" "$sup"
xjson "$id" -- echo ok
expect_eq "echo after OOM: stdout" "$(jget "$OUT" 'j["stdout"]')" ok
expect_eq "echo after OOM: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" false
# the sandbox's init is its pid 1 and must have survived every OOM kill
xjson "$id" -- cat /proc/1/comm
expect_eq "pid 1 inside" "$(jget "$OUT" 'j["stdout"]')" init
xjson "$id" -- python3 -c "$ALLOC" 20
expect_eq "20 MiB after OOM: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0

log "swap is not a way around the limit"
if [[ $(cg_version) == 1 && -f "$mem/memory.memsw.max_usage_in_bytes" ]]; then
  memsw_peak=$(cat "$mem/memory.memsw.max_usage_in_bytes")
  expect_range "host: memory.memsw.max_usage_in_bytes" "$memsw_peak" 0 $((64 * MIB))
  swap=$(awk '$1 == "total_swap" { print $2 }' "$mem/memory.stat")
  expect_eq "host: total_swap in memory.stat" "${swap:-0}" 0
elif [[ $(cg_version) == 2 && -f "$mem/memory.swap.peak" ]]; then
  expect_eq "host: memory.swap.peak" "$(cat "$mem/memory.swap.peak")" 0
fi
# whatever swap the host has, memory + swap as the sandbox sees it stays at the limit
xjson "$id" -- python3 -c '
import mmap
m = mmap.mmap(-1, 200 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, 200 << 20, 4096):
    m[off] = 1
print("touched 200 MiB")'
expect_eq "200 MiB anonymous mapping: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" true

log "a sandbox with the default limit runs the 256 MiB allocation"
id2=$(create_sb)
remember_id "$id2"
xjson "$id2" -- python3 -c "$ALLOC" 256
expect_eq "default limit, 256 MiB: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
expect_eq "default limit, 256 MiB: oom_killed" "$(jget "$OUT" 'j["oom_killed"]')" false
peak=$(jget "$OUT" 'j["memory_peak_bytes"]')
expect_range "default limit, 256 MiB: memory_peak_bytes" "$peak" $((256 * MIB)) $((1024 * MIB))

pass
