#!/usr/bin/env bash
# Output nobody keeps is drained at the sandbox's expense.  Past the capture
# limit the exec handler still reads (so the command never blocks) and drops
# the bytes: that work was done in the host's cgroup, outside the sandbox's
# CPU quota (260-310 ms over 3 s at --cpus 0.5).  A command floods stdout for
# 3 s at --cpus 0.5: while it runs, the handler must be in the sandbox's
# group `io`, and what the sandbox's group counts must include the
# handler's CPU time (the group's usage less the command's own).
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb --cpus 0.5)
remember_id "$id"
sup=$(sb_info "$id" 'j["supervisor"]')
acct=$(cg_dir "$id" cpuacct)
[[ -n "$acct" ]] || acct=$(cg_dir "$id" cpu)
[[ -n "$acct" ]] || fail "no cpu accounting cgroup for $id"
usage () { # the group's CPU time in ns
  if [[ -f "$1/cpuacct.usage" ]]; then cat "$1/cpuacct.usage"
  else echo $(( $(awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat") * 1000 )); fi
}

FLOOD='
import os, time
b = b"x" * (1 << 20)
end = time.time() + 3
while time.time() < end:
    os.write(1, b)
'
before=$(usage "$acct")
"$ISLET_BIN" --state-dir "$STATE" exec "$id" --json -- python3 -c "$FLOOD" >"$STATE.flood" 2>&1 </dev/null &
bg=$!
handler_cg=
for _ in $(seq 1 40); do
  sleep 0.1
  for p in $(ps --ppid "$sup" -o pid=,comm= | awk '$2 == "islet-exec" { print $1 }'); do
    c=$(grep -E '(cpuacct|^0::)' /proc/"$p"/cgroup 2>/dev/null | head -1 | cut -d: -f3)
    [[ $c == */islet/$id/* ]] && handler_cg=$c
    log "handler $p is in $c"
  done
  [[ -n $handler_cg ]] && break
done
wait "$bg" || fail "the flood exec failed: $(head -c 300 "$STATE.flood")"
after=$(usage "$acct")
[[ $handler_cg == */islet/$id/io ]] || fail "the exec handler was not in the sandbox's group while it drained (last seen: '${handler_cg:-none in islet/$id}')"
cmd_ms=$(jget "$(cat "$STATE.flood")" 'j["cpu_ms"]')
expect_eq "flood: truncated" "$(jget "$(cat "$STATE.flood")" 'j["truncated"]')" true
group_ms=$(( (after - before) / 1000000 ))
io_ms=$(( $(usage "${acct}/io") / 1000000 ))
log "the sandbox's group counted $group_ms ms: the command $cmd_ms ms, the handler (group io) $io_ms ms"
expect_range "the handler's CPU, counted in the sandbox's group" "$io_ms" 1 "$group_ms"
expect_range "the group's CPU covers the command's and the handler's" "$group_ms" $((cmd_ms + io_ms * 9 / 10)) 1000000
pass
