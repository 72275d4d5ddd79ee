#!/usr/bin/env bash
# Escape class: userfaultfd.  It lets a process stall the kernel at a page
# fault of its choosing, the classic way to win a race in a kernel exploit.
# The syscall and /dev/userfaultfd must both fail inside, though they work on
# this kernel (checked on the host first).
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

probe="
O_CLOEXEC, O_NONBLOCK, UFFD_USER_MODE_ONLY = 0o2000000, 0o4000, 1
"
host=$(esc_host_py "$probe
r, e = sc('userfaultfd', O_CLOEXEC)
print('host userfaultfd:', r, ename(e) if r < 0 else 'ok')
")
grep -q 'host userfaultfd: .* ok' <<<"$host" || esc_skip "userfaultfd does not work on this host either: $host"

ID=$(esc_create)
out=$(esc_py "$ID" "$probe
for flags, what in ((O_CLOEXEC, 'O_CLOEXEC'), (O_CLOEXEC | O_NONBLOCK, 'O_NONBLOCK'),
                    (O_CLOEXEC | UFFD_USER_MODE_ONLY, 'UFFD_USER_MODE_ONLY'), (0, 'no flags')):
    r = must_fail('userfaultfd(%s)' % what, sc('userfaultfd', flags))
    if r >= 0:
        os.close(r)
if os.path.exists('/dev/userfaultfd'):
    fd = must_raise('open /dev/userfaultfd', os.open, '/dev/userfaultfd', os.O_RDWR)
    if fd is not None:
        os.close(fd)
else:
    held('/dev/userfaultfd: absent')
done()
")
esc_attack_verdict "$out" "userfaultfd"
esc_pass "userfaultfd fails inside"
