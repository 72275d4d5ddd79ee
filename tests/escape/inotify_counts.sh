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

# A takes what it can (bounded: MAX + 64 tries) and holds it until
# /tmp/stop-holding appears (at most 60 s).
isl exec "$A" --timeout 90 -- python3 -c "
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
held, why = [], 'none'
for _ in range($MAX + 64):
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        why = os.strerror(ctypes.get_errno())
        break
    held.append(fd)
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
line=$(grep '^held' "$S/a.out") || esc_fail "the inotify holder printed nothing: $(cat "$S/a.out")"
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

isl exec "$A" -- touch /tmp/stop-holding </dev/null || true
wait "$holder" || true
esc_pass "sandbox A was refused at its own $n instances; host root and sandbox B kept theirs"
