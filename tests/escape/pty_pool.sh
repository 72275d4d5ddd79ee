#!/usr/bin/env bash
# Escape class: taking a host-wide pool, ptys.  Every devpts instance draws
# on the one pool of kernel.pty.max (less kernel.pty.reserve): a sandbox
# opens ptys until it is refused, and must be refused at its own small bound
# (devpts max=), with ENOSPC, while the host and another sandbox can still
# open one.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

OWN_MAX=64
A=$(esc_create)
B=$(esc_create)
isl exec "$A" -- true </dev/null || esc_fail "the first exec failed"

# A takes what it can and holds it until /tmp/stop-holding appears (bounded:
# 4,096 opens, then 60 s of holding).
isl exec "$A" --timeout 90 -- python3 -c "
import os, sys, time
held, why = [], 'none'
for _ in range(4096):
    try:
        held.append(os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY))
    except OSError as x:
        why = os.strerror(x.errno)
        break
print('held %d refused %s' % (len(held), why), flush=True)
for _ in range(600):
    if os.path.exists('/tmp/stop-holding'):
        break
    time.sleep(0.1)
" </dev/null >"$S/a.out" 2>&1 &
holder=$!
esc_defer "kill $holder"
for _ in $(seq 1 300); do
  grep -q '^held' "$S/a.out" 2>/dev/null && break
  sleep 0.1
done
line=$(grep '^held' "$S/a.out") || esc_fail "the pty holder printed nothing: $(cat "$S/a.out")"
esc_log "sandbox A: $line"
n=$(awk '{print $2}' <<<"$line")
(( n > 0 )) || esc_fail "sandbox A could not open a single pty: $line"
(( n <= OWN_MAX )) || esc_fail "sandbox A holds $n ptys, above its bound of $OWN_MAX"
grep -q 'No space left on device' <<<"$line" || esc_fail "sandbox A was refused with the wrong error: $line"

host=$(python3 -c 'import os; m, s = os.openpty(); print("host openpty ok")' 2>&1) || true
[[ $host == "host openpty ok" ]] || esc_fail "the host cannot open a pty while sandbox A holds $n: $host"
other=$(isl exec "$B" -- python3 -c 'import os; m, s = os.openpty(); print("B openpty ok", os.ttyname(s))' </dev/null 2>&1) || true
[[ $other == "B openpty ok"* ]] || esc_fail "sandbox B cannot open a pty while sandbox A holds $n: $other"

isl exec "$A" -- touch /tmp/stop-holding </dev/null || true
wait "$holder" || true
esc_pass "one sandbox holds at most $OWN_MAX ptys; the host and the others keep theirs"
