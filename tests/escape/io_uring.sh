#!/usr/bin/env bash
# Escape class: io_uring.  It performs file and network operations from kernel
# workers that a seccomp filter never sees, and has been a rich source of
# kernel bugs: io_uring_setup must fail inside, though it works on this kernel
# (checked on the host first), and enter/register must not reach a ring.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

probe="
params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
IORING_SETUP_SQPOLL = 2
"
host=$(esc_host_py "$probe
r, e = sc('io_uring_setup', 8, params)
print('host io_uring_setup:', r, ename(e) if r < 0 else 'ok')
")
grep -q 'host io_uring_setup: .* ok' <<<"$host" || esc_skip "io_uring does not work on this host either: $host"

ID=$(esc_create)
out=$(esc_py "$ID" "$probe
for entries in (1, 8, 4096):
    p = ctypes.create_string_buffer(120)
    r = must_fail('io_uring_setup(%d)' % entries, sc('io_uring_setup', entries, p))
    if r >= 0:
        os.close(r)
p = ctypes.create_string_buffer(120)
ctypes.memmove(ctypes.addressof(p) + 8, struct.pack('<I', IORING_SETUP_SQPOLL), 4)
r = must_fail('io_uring_setup(SQPOLL)', sc('io_uring_setup', 8, p))
if r >= 0:
    os.close(r)
# no ring to use: these must not even get as far as checking the fd
for name in ('io_uring_enter', 'io_uring_register'):
    r, e = sc(name, 0, 0, 0, 0, 0, 0)
    if r >= 0:
        escaped('%s returned %d' % (name, r))
    else:
        held('%s(fd 0): %s' % (name, ename(e)))
done()
")
esc_attack_verdict "$out" "io_uring"
esc_pass "io_uring_setup fails inside"
