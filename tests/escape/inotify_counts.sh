#!/usr/bin/env bash
# Escape class: taking a host-wide count, inotify.  The kernel counts
# inotify instances (and watches) per user, and charges a user namespace's
# counts to its owner in the host's namespace too: a sandbox whose user
# namespace host root made took all of host root's instances
# (fs.inotify.max_user_instances, 128 by default), and every root daemon
# and every other sandbox then failed with EMFILE.  A sandbox makes
# instances until it is refused: it must be refused at its own count, and
# the host's root and another sandbox must still make one while it holds
# them all.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

MAX=$(cat /proc/sys/fs/inotify/max_user_instances)
(( MAX <= 2048 )) || esc_skip "fs.inotify.max_user_instances is $MAX: too many to exhaust in a test"
A=$(esc_create)
B=$(esc_create)
isl exec "$A" -- true </dev/null || esc_fail "the first exec failed"

# A takes what it can (bounded: MAX + 64 tries) and holds it
esc_take_and_hold "$A" $((MAX + 64)) 'checked(libc.inotify_init1(os.O_CLOEXEC))'
line=$ESC_HELD
esc_log "sandbox A: $line (max_user_instances $MAX)"
n=$(awk '{print $2}' <<<"$line")
(( n > 0 )) || esc_fail "sandbox A could not make a single inotify instance: $line"
grep -q 'Too many open files' <<<"$line" || esc_fail "sandbox A was not refused at a bound: $line"

probe='import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_CLOEXEC)
print("inotify ok" if fd >= 0 else "inotify failed: " + os.strerror(ctypes.get_errno()))
if fd >= 0:
    w = libc.inotify_add_watch(fd, b"/tmp", 2)
    print("watch ok" if w >= 0 else "watch failed: " + os.strerror(ctypes.get_errno()))'
host=$(python3 -c "$probe" 2>&1) || true
[[ $host == *"inotify ok"*"watch ok"* ]] || esc_fail "host root cannot use inotify while sandbox A holds $n instances: $host"
other=$(isl exec "$B" -- python3 -c "$probe" </dev/null 2>&1) || true
[[ $other == *"inotify ok"*"watch ok"* ]] || esc_fail "sandbox B cannot use inotify while sandbox A holds $n instances: $other"

esc_release "$A"
esc_pass "sandbox A was refused at its own $n instances; host root and sandbox B kept theirs"
