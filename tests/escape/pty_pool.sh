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

# A takes what it can (bounded: 4,096 opens) and holds it
esc_take_and_hold "$A" 4096 "os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)"
line=$ESC_HELD
esc_log "sandbox A: $line"
n=$(awk '{print $2}' <<<"$line")
(( n > 0 )) || esc_fail "sandbox A could not open a single pty: $line"
(( n <= OWN_MAX )) || esc_fail "sandbox A holds $n ptys, above its bound of $OWN_MAX"
grep -q 'No space left on device' <<<"$line" || esc_fail "sandbox A was refused with the wrong error: $line"

host=$(python3 -c 'import os; m, s = os.openpty(); print("host openpty ok")' 2>&1) || true
[[ $host == "host openpty ok" ]] || esc_fail "the host cannot open a pty while sandbox A holds $n: $host"
other=$(isl exec "$B" -- python3 -c 'import os; m, s = os.openpty(); print("B openpty ok", os.ttyname(s))' </dev/null 2>&1) || true
[[ $other == "B openpty ok"* ]] || esc_fail "sandbox B cannot open a pty while sandbox A holds $n: $other"

esc_release "$A"
esc_pass "one sandbox holds at most $OWN_MAX ptys; the host and the others keep theirs"
