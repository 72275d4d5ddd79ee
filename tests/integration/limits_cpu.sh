#!/usr/bin/env bash
# CPU limit: --cpus N is a CFS quota of N CPUs.  A program that spins for a
# fixed wall-clock time gets N times that time in CPU, however many threads
# spin.  The checks are ratios of the CPU time islet measured to the spinning
# program's own wall time, with wide bounds (0.7 to 1.3 of the expected value),
# so a loaded host does not make them flaky.
source "$(dirname "$0")/../lib/integration.sh"
it_init

# Spin for SECONDS of wall time in one thread; print the time really spun.
SPIN='
import sys, time
t0 = time.monotonic()
while time.monotonic() - t0 < float(sys.argv[1]):
    pass
print(round(time.monotonic() - t0, 3))'

# Spin in THREADS real threads (node's workers: python's GIL would serialise
# them) for SECONDS each; print the wall time of the whole.
SPIN_THREADS='
const { Worker } = require("worker_threads");
const [threads, secs] = process.argv.slice(1).map(Number);
const t0 = Date.now();
let left = threads;
for (let i = 0; i < threads; i++) {
  const w = new Worker(`const t = Date.now(); while (Date.now() - t < ${secs * 1000}) {}`, { eval: true });
  w.on("exit", () => { if (--left === 0) console.log((Date.now() - t0) / 1000); });
}'

# check_ratio WHAT CPU_MS SPUN_S CPUS: CPU_MS must be CPUS * SPUN_S s, +-30 %.
check_ratio () {
  local what=$1 cpu_ms=$2 spun=$3 cpus=$4 ratio
  ratio=$("$IT_PY" -c 'import sys; c, s, n = map(float, sys.argv[1:]); print(round(c / (s * 1000 * n), 3))' \
    "$cpu_ms" "$spun" "$cpus")
  log "$what: cpu_ms $cpu_ms over ${spun} s at $cpus CPUs: ratio $ratio"
  "$IT_PY" -c 'import sys; sys.exit(not 0.7 <= float(sys.argv[1]) <= 1.3)' "$ratio" \
    || fail "$what: cpu_ms $cpu_ms is not about $cpus x $spun s (ratio $ratio, want 0.7 to 1.3)"
}

# The quota as the host's cgroup holds it: "quota period" in microseconds.
host_quota () {
  local cpu
  cpu=$(cg_dir "$1" cpu)
  [[ -n "$cpu" ]] || fail "no cpu cgroup for $1"
  if [[ -f "$cpu/cpu.max" ]]; then
    cat "$cpu/cpu.max"
  else
    echo "$(cat "$cpu/cpu.cfs_quota_us") $(cat "$cpu/cpu.cfs_period_us")"
  fi
}

half=$(create_sb --cpus 0.5)
remember_id "$half"
one=$(create_sb --cpus 1)
remember_id "$one"
expect_eq "info --cpus 0.5: cpu_millis" "$(sb_info "$half" 'j["limits"]["cpu_millis"]')" 500
read -r quota period <<<"$(host_quota "$half")"
expect_eq "host quota of --cpus 0.5 (quota/period x 1000)" $((quota * 1000 / period)) 500
read -r quota period <<<"$(host_quota "$one")"
expect_eq "host quota of --cpus 1 (quota/period x 1000)" $((quota * 1000 / period)) 1000

log "--cpus 0.5: one thread spinning for 2 s"
xjson "$half" -- python3 -c "$SPIN" 2
expect_eq "0.5 CPU: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
cpu_half=$(jget "$OUT" 'j["cpu_ms"]')
expect_range "0.5 CPU: cpu_ms" "$cpu_half" 700 1300
check_ratio "0.5 CPU, one thread" "$cpu_half" "$(jget "$OUT" 'j["stdout"]')" 0.5

log "--cpus 1: one thread spinning for 2 s"
xjson "$one" -- python3 -c "$SPIN" 2
expect_eq "1 CPU: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
cpu_one=$(jget "$OUT" 'j["cpu_ms"]')
expect_range "1 CPU: cpu_ms" "$cpu_one" 1400 2600
check_ratio "1 CPU, one thread" "$cpu_one" "$(jget "$OUT" 'j["stdout"]')" 1

log "--cpus 1: two threads spinning for 2 s get one CPU between them"
xjson "$one" -- node -e "$SPIN_THREADS" 2 2
expect_eq "1 CPU, 2 threads: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
cpu_two=$(jget "$OUT" 'j["cpu_ms"]')
expect_range "1 CPU, 2 threads: cpu_ms" "$cpu_two" 1400 2600
check_ratio "1 CPU, two threads" "$cpu_two" "$(jget "$OUT" 'j["stdout"]')" 1

log "--cpus 1: two processes spinning for 2 s get one CPU between them"
xjson "$one" -- sh -c "python3 -c '$SPIN' 2 >/dev/null & python3 -c '$SPIN' 2; wait"
cpu_procs=$(jget "$OUT" 'j["cpu_ms"]')
expect_range "1 CPU, 2 processes: cpu_ms" "$cpu_procs" 1400 2600

log "--cpus 0.5 against --cpus 1, same run: about half"
"$IT_PY" -c 'import sys; r = int(sys.argv[1]) / int(sys.argv[2]); sys.exit(not 0.35 <= r <= 0.65)' \
  "$cpu_half" "$cpu_one" || fail "cpu_ms at 0.5 CPU ($cpu_half) is not about half of 1 CPU's ($cpu_one)"

if (( $(nproc) >= 2 )); then
  # Not a limit check: it shows that the 1-CPU result above came from the
  # quota, not from a host with one CPU.  Reported, not asserted (load).
  two=$(create_sb --cpus 2)
  remember_id "$two"
  xjson "$two" -- node -e "$SPIN_THREADS" 2 2
  log "for comparison, --cpus 2 with two threads: cpu_ms $(jget "$OUT" 'j["cpu_ms"]')"
fi

pass
