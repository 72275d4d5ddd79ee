#!/usr/bin/env bash
# Escape class: taking a host-wide pool, AIO contexts.  fs.aio-nr counts
# every io_setup of the whole kernel against fs.aio-max-nr: one sandbox that
# took them all stopped every database and VM on the host.  Inside, io_setup
# (and the rest of the old AIO interface) must fail as on a kernel without
# it, and fs.aio-nr on the host must not have moved.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

probe="
NR['io_setup'], NR['io_destroy'], NR['io_submit'], NR['io_getevents'] = 206, 207, 209, 208
"
host=$(esc_host_py "$probe
ctx = ctypes.c_ulong(0)
r, e = sc('io_setup', 1, ctypes.byref(ctx))
print('host io_setup:', r, ename(e) if r < 0 else 'ok')
if r == 0:
    sc('io_destroy', ctx.value)
")
grep -q 'host io_setup: .* ok' <<<"$host" || esc_skip "AIO does not work on this host either: $host"

ID=$(esc_create)
before=$(cat /proc/sys/fs/aio-nr)
out=$(esc_py "$ID" "$probe
got = 0
for i in range(1000):
    ctx = ctypes.c_ulong(0)
    r, e = sc('io_setup', 64, ctypes.byref(ctx))
    if r < 0:
        held('io_setup #%d: %s' % (i, ename(e)))
        if e != errno.ENOSYS:
            escaped('io_setup failed with %s, not ENOSYS: the call reached the kernel' % ename(e))
        break
    got += 1
if got:
    escaped('io_setup made %d AIO contexts' % got)
    print('AIO-HELD', flush=True)
    time.sleep(1)
for name in ('io_submit', 'io_getevents', 'io_destroy'):
    must_fail(name, sc(name, 0, 0, 0, 0, 0))
done()
")
after=$(cat /proc/sys/fs/aio-nr)
esc_attack_verdict "$out" "AIO contexts"
esc_log "fs.aio-nr before $before, after $after"
esc_pass "no AIO context can be made inside"
