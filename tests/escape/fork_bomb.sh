#!/usr/bin/env bash
# Escape class: process exhaustion.  With --pids 64, a real fork bomb (bash's
# :(){ :|:& };: and a Python fork loop whose children stay) must stay under
# 64 processes, the exec must come back (killed at its timeout), the host must
# still fork while the bomb runs, and after `islet rm -f` no process of the
# sandbox's host uid range may be left.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

ID=$(esc_create --pids 64)
BASE=$(esc_info "$ID" 'j["uid_base"]')
[[ $BASE -ge 65536 ]] || esc_fail "implausible uid base $BASE"
pids_dir=
for d in "/sys/fs/cgroup/pids/islet/$ID" "/sys/fs/cgroup/islet/$ID"; do
  [[ -f $d/pids.max ]] && pids_dir=$d && break
done
[[ -n $pids_dir ]] || esc_fail "no pids cgroup for $ID"
[[ $(cat "$pids_dir/pids.max") == 64 ]] || esc_fail "pids.max of $pids_dir is $(cat "$pids_dir/pids.max"), not 64"

# 1. bash's fork bomb; the exec is killed at its timeout
res=$(mktemp "$S/bomb.XXXXXX")
start=$SECONDS
isl exec "$ID" --timeout 15 --json -- bash -c 'echo BOMB-STARTED; :(){ :|:& };:; sleep 60' \
  </dev/null >"$res" 2>/dev/null &
bomb=$!
esc_defer "kill $bomb"
peak=0 host_forks=0
while kill -0 "$bomb" 2>/dev/null; do
  cur=$(cat "$pids_dir/pids.current" 2>/dev/null || echo 0)
  ((cur > peak)) && peak=$cur
  /bin/true || esc_fail "the host could not fork /bin/true during the bomb"
  host_forks=$((host_forks + 1))
  ((SECONDS - start < 90)) || esc_fail "the fork bomb's exec did not return within 90 s"
  sleep 0.1
done
wait "$bomb" || true
json=$(cat "$res")
summary=$(esc_json "$json" '{k: j.get(k) for k in ("exit_code", "signal", "timed_out", "wall_ms")}')
esc_log "bash bomb: $summary, peak pids.current $peak, host forked $host_forks times meanwhile"
[[ $(esc_json "$json" '"BOMB-STARTED" in j["stdout"]') == true ]] || esc_fail "the bomb never started: $json"
[[ $(esc_json "$json" 'j["timed_out"] or j["exit_code"] != 0') == true ]] ||
  esc_fail "the bomb's exec ended normally: $json"
((peak <= 64)) || esc_fail "the sandbox reached $peak pids, above its limit of 64"
sleep 1
left=$(cat "$pids_dir/pids.current")
((left <= 2)) || esc_fail "$left processes of the bomb survived its exec's timeout"
out=$(isl exec "$ID" -- true </dev/null 2>&1) || esc_fail "the sandbox is unusable after the bomb: $out"

# 2. a Python fork loop whose children sleep on: they outlive the exec,
# islet rm -f must take them
out=$(esc_py "$ID" '
n, err = 0, None
while n < 1000:
    try:
        pid = os.fork()
    except OSError as x:
        err = x.errno
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    n += 1
print("forked %d children, then %s" % (n, ename(err) if err else "no error"), flush=True)
if n >= 64:
    escaped("forked %d processes under a limit of 64" % n)
done()
')
esc_attack_verdict "$out" "python fork loop"
grep -q 'then EAGAIN' <<<"$out" || esc_fail "fork did not stop with EAGAIN"
held=$(esc_procs_of_uid_range "$BASE" | wc -l)
esc_log "host processes in the sandbox's uid range before rm: $held"
((held >= 50)) || esc_fail "expected the sleeping children on the host, found $held"
/bin/true || esc_fail "the host cannot fork"

isl rm -f "$ID" </dev/null >/dev/null || esc_fail "islet rm -f $ID failed"
for _ in $(seq 1 50); do
  left=$(esc_procs_of_uid_range "$BASE")
  [[ -z $left ]] && break
  sleep 0.1
done
[[ -z $left ]] || esc_fail "processes of uid range $BASE+ survive islet rm -f: $(head -n 5 <<<"$left")"
esc_pass "peak $peak pids under a limit of 64; nothing left after rm -f"
