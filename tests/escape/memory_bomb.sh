#!/usr/bin/env bash
# Escape class: memory exhaustion.  With --memory 64, Python allocating and
# touching 1 GiB must be OOM-killed inside its own cgroup (oom_killed true,
# exit 137), filling /dev/shm (tmpfs, counted as the sandbox's memory) must
# fail the same way or with ENOSPC, and neither may touch the host: a host
# process started before stays alive, the supervisor and the sandbox's init
# survive, and the sandbox still runs commands.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

sleep 600 &
host_proc=$!
esc_defer "kill $host_proc"

ID=$(esc_create --memory 64)
SUP=$(esc_info "$ID" 'j["supervisor"]')
kill -0 "$SUP" || esc_fail "no supervisor process $SUP"
avail_before=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
dmesg_before=$(dmesg 2>/dev/null | wc -l) || dmesg_before=

# 1. anonymous memory, touched page by page as it grows
json=$(isl exec "$ID" --json --timeout 60 -- python3 -c '
import sys
print("ALLOC-STARTED", flush=True)
chunks = []
for i in range(64):
    chunks.append(bytearray(16 << 20))  # zero-filled: every page is touched
    print("held", (i + 1) * 16, "MiB", flush=True)
print("ALLOCATED 1 GiB", flush=True)
' </dev/null 2>/dev/null) || true
esc_log "anonymous: $(esc_json "$json" '{k: j.get(k) for k in ("exit_code", "signal", "oom_killed", "memory_peak_bytes", "timed_out")}')"
esc_log "last output: $(esc_json "$json" 'j["stdout"].strip().splitlines()[-1]')"
[[ $(esc_json "$json" '"ALLOC-STARTED" in j["stdout"]') == true ]] || esc_fail "the allocation never started: $json"
[[ $(esc_json "$json" '"ALLOCATED" in j["stdout"]') == false ]] || esc_fail "1 GiB was allocated under a 64 MiB limit"
[[ $(esc_json "$json" 'j["oom_killed"]') == true ]] || esc_fail "oom_killed is not true: $json"
[[ $(esc_json "$json" 'j["exit_code"] == 137 or j["signal"] == 9') == true ]] || esc_fail "not killed by SIGKILL: $json"
peak=$(esc_json "$json" 'j["memory_peak_bytes"]')
((peak <= 80 << 20)) || esc_fail "peak memory $peak bytes is above the 64 MiB limit"

# 2. /dev/shm: a tmpfs whose pages are the sandbox's memory
json=$(isl exec "$ID" --json --timeout 60 -- python3 -c '
print("SHM-STARTED", flush=True)
block = b"x" * (1 << 20)
n = 0
try:
    with open("/dev/shm/fill", "wb") as f:
        for n in range(1, 513):
            f.write(block)
            f.flush()
except OSError as x:
    print("stopped at", n, "MiB:", x, flush=True)
else:
    print("WROTE 512 MiB", flush=True)
' </dev/null 2>/dev/null) || true
esc_log "shm: $(esc_json "$json" '{k: j.get(k) for k in ("exit_code", "oom_killed", "memory_peak_bytes")}') $(esc_json "$json" 'j["stdout"].strip().splitlines()[-1]')"
[[ $(esc_json "$json" '"SHM-STARTED" in j["stdout"]') == true ]] || esc_fail "the shm fill never started: $json"
[[ $(esc_json "$json" '"WROTE 512" in j["stdout"]') == false ]] || esc_fail "512 MiB written to /dev/shm under a 64 MiB limit"
out=$(isl exec "$ID" -- rm -f /dev/shm/fill </dev/null 2>&1) || esc_fail "cannot clean /dev/shm: $out"

# the host and the sandbox's own processes
kill -0 "$host_proc" 2>/dev/null || esc_fail "a host process was killed"
kill -0 "$SUP" 2>/dev/null || esc_fail "the supervisor $SUP was killed"
out=$(isl exec "$ID" -- sh -c 'echo alive; cat /proc/1/status | grep ^State' </dev/null 2>&1) ||
  esc_fail "the sandbox no longer runs commands: $out"
grep -q alive <<<"$out" || esc_fail "no answer from the sandbox: $out"
avail_after=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
esc_log "host MemAvailable: ${avail_before} kB before, ${avail_after} kB after"
if [[ -n $dmesg_before ]]; then
  new_kills=$(dmesg | tail -n +"$((dmesg_before + 1))" | grep 'oom-kill:' || true)
  ours=$(dmesg | grep 'oom-kill:' | grep -F "task_memcg=/islet/$ID/" || true)
  esc_log "kernel OOM kills in this sandbox: $(grep -c . <<<"$ours")"
  [[ -n $ours ]] || esc_fail "the kernel log shows no OOM kill in /islet/$ID"
  grep -qv 'constraint=CONSTRAINT_MEMCG' <<<"$ours" && esc_fail "an OOM kill was not held to the sandbox's memory cgroup: $ours"
  grep -q 'constraint=CONSTRAINT_NONE' <<<"$new_kills" && esc_fail "the host ran out of memory: $new_kills"
fi
esc_pass "1 GiB OOM-killed at peak $((peak >> 20)) MiB; host, supervisor and init alive"
